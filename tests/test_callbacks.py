"""callbacks.py: throughput kept across a resume; checkpoints written beside their target, then renamed."""

import torch

from slotfill.callbacks import AtomicCheckpointIO, Throughput


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
    after = Throughput()
    after.load_state_dict(before.state_dict())
    assert after.summary["train_sent_per_s_epochs"] == [10.0, 12.0]
