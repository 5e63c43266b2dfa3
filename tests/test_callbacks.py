"""callbacks.py: training throughput per epoch, the time validation F1 first reached its target, the settled heap."""

import gc
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from slotfill.core import collector
from slotfill.training.callbacks import AtomicCheckpointIO, SettledHeap, Throughput, epoch_line


class _Module:
    def __init__(self):
        self.scores = {}
        self.logged = {}

    def log(self, name, value, **_):
        self.logged[name] = value


def test_rate_and_time_to_target():
    cb, module = Throughput(target_f1=90.0), _Module()
    trainer = SimpleNamespace(world_size=1, sanity_checking=False)
    cb.on_fit_start(trainer, module)
    for epoch, f1 in enumerate([80.0, 91.0, 95.0]):
        cb.on_train_epoch_start(trainer, module)
        for _ in range(3):
            cb.on_train_batch_end(trainer, module, None, {"words": torch.zeros(8, 2)}, 0)
        cb.on_train_epoch_end(trainer, module)
        module.scores = {"valid": {"f1": f1}}
        cb.on_validation_end(trainer, module)
        if epoch == 0:
            assert cb.time_to_target is None
    summary = cb.summary
    assert len(summary["train_sent_per_s_epochs"]) == 3 and summary["train_sent_per_s_median"] > 0
    assert summary["time_to_val_f1_90_s"] is not None and module.logged["train/sent_per_s"] > 0


def test_epoch_line_names_every_number():
    row = {
        "epoch": 9,
        "train_loss": 0.41234,
        "val_f1": 91.234,
        "val_intent_accuracy": 95.1,
        "lr": 0.002,
        "seconds": 12.34,
        "sent_per_s": 1234.4,
    }
    assert epoch_line(row) == "epoch 09  loss 0.4123  val F1 91.23  intent 95.10  lr 2.00e-03  12.3 s  1234 sent/s"
    assert "intent" not in epoch_line(dict(row, val_intent_accuracy=None))


def test_checkpoints_are_renamed_into_place(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr("tempfile.mkstemp", _spy(seen))
    path = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 3, "w": torch.ones(2)}, str(path))
    assert torch.load(path, weights_only=True)["epoch"] == 3
    assert seen == [path.parent]  # staged in the target's folder: the rename cannot become a copy
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]


def _spy(seen):
    import tempfile

    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        seen.append(dir)
        return real(*args, dir=dir, **kwargs)

    return mkstemp


def test_throughput_survives_a_resume():
    before = Throughput()
    before.epoch_rates = [10.0, 12.0]
    before.earlier_seconds = 30.0  # a first segment, itself resumed
    before.on_fit_start(None, None)
    after = Throughput()
    after.load_state_dict(before.state_dict())
    assert after.summary["train_sent_per_s_epochs"] == [10.0, 12.0]
    assert 30.0 <= after.earlier_seconds < 31.0  # the segments before count in the run's time
    assert after.fit_seconds() == after.earlier_seconds  # not started again yet


def test_the_heap_settles_when_training_starts_in_a_command_only():
    made = [[i] for i in range(20_000)]
    before = gc.get_threshold()
    try:
        SettledHeap().on_train_start(None, None)  # fit() called from Python: the caller's collector
        assert gc.get_freeze_count() == 0
        collector.starting()
        SettledHeap().on_train_start(None, None)
        assert gc.get_freeze_count() >= len(made) and gc.get_threshold() == before
    finally:
        collector.finished(keep_frozen=False)
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_moved_run_folder_keeps_its_best_epochs_record(tmp_path):
    """Lightning's own class dropped it (a warning) when the folder had moved: the next epoch became the best."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    from slotfill.training.callbacks import RunCheckpoint

    old, new = tmp_path / "run" / "checkpoints", tmp_path / "moved" / "run" / "checkpoints"
    kwargs = {"monitor": "val/joint", "mode": "max", "save_top_k": 1}
    saved = ModelCheckpoint(dirpath=str(old), **kwargs)
    saved.best_model_path = str(old / "epoch=03-val_f1=21.43.ckpt")
    saved.best_model_score = torch.tensor(21.43)
    saved.best_k_models = {saved.best_model_path: torch.tensor(21.43)}
    saved.kth_best_model_path = saved.best_model_path
    resumed = RunCheckpoint(dirpath=str(new), **kwargs)
    assert resumed.state_key == saved.state_key  # runs begun under Lightning's class resume too
    resumed.load_state_dict(saved.state_dict())
    assert resumed.best_model_score == torch.tensor(21.43)
    assert resumed.best_model_path == str(new / "epoch=03-val_f1=21.43.ckpt")
    assert list(resumed.best_k_models) == [resumed.best_model_path] == [resumed.kth_best_model_path]
    here = RunCheckpoint(dirpath=str(old), **kwargs)
    here.load_state_dict(saved.state_dict())
    assert here.best_model_path == saved.best_model_path  # not moved: as Lightning reads it


@pytest.mark.slow
def test_an_epoch_done_again_after_a_kill_writes_its_best_file_again_not_a_second_one(tmp_path):
    """Killed between writing an epoch's best file and last.ckpt, the run resumes at that epoch: with
    Lightning's version counter the redone epoch was saved as ``-v1`` beside the killed run's file,
    which no record named and nothing removed."""
    from hydra.utils import instantiate

    from tests.helpers import compose_config

    cfg = compose_config(["data=sample"], tmp_path / "run")
    best = instantiate(cfg.callbacks.model_checkpoint)
    trainer = SimpleNamespace(current_epoch=3, global_step=12, callback_metrics={}, logger=None)
    metrics = {"epoch": torch.tensor(3), "val/f1": torch.tensor(27.12)}
    name = best._get_metric_interpolated_filepath_name(metrics, trainer)
    Path(name).parent.mkdir(parents=True)
    Path(name).write_bytes(b"the killed run's epoch 3")
    assert best._get_metric_interpolated_filepath_name(metrics, trainer) == name
    assert Path(name).name == "epoch=03-val_f1=27.12.ckpt"
