"""bench/common.py: a finished benchmark run is reused only while its config is today's."""

import sys

import pytest
from omegaconf import OmegaConf

from tests.helpers import ROOT, compose_config

sys.path.insert(0, str(ROOT / "bench"))
from common import finished, stale, train_overrides  # noqa: E402


def _run_folder(tmp_path, overrides, drop=None):
    out = tmp_path / "run"
    cfg = OmegaConf.to_container(compose_config(train_overrides(overrides, 1), out), resolve=False)
    del cfg["output_dir"]  # what Hydra saves: the config before the run folder is known
    cfg["output_dir"] = "${hydra:runtime.output_dir}"
    if drop:
        group, _, name = drop.rpartition(".")
        del cfg[group or "train"][name]
    (out / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(cfg), out / ".hydra" / "config.yaml")
    (out / "metrics.json").write_text("{}")
    return out


@pytest.mark.slow
def test_a_run_of_todays_config_is_reused(tmp_path):
    out = _run_folder(tmp_path, ["data=sample", "seed=3"])
    assert stale(out, ["data=sample", "seed=3"], 1) is None
    assert finished(out, ["data=sample", "seed=3"], 1)


@pytest.mark.slow
def test_a_setting_added_since_at_its_old_behaviour_is_not_a_change(tmp_path):
    out = _run_folder(tmp_path, ["data=sample"], drop="warmup_steps")
    assert stale(out, ["data=sample"], 1) is None
    assert "train.warmup_steps was None, is 5" in stale(out, ["data=sample", "train.warmup_steps=5"], 1)


@pytest.mark.slow
def test_a_trainer_setting_the_config_lists_since_is_lightnings_default_not_a_change(tmp_path):
    """trainer.num_nodes entered the config after the benchmark's runs: they ran with Lightning's 1."""
    out = _run_folder(tmp_path, ["data=sample"], drop="trainer.num_nodes")
    assert stale(out, ["data=sample"], 1) is None
    assert "trainer.num_nodes was None, is 2" in stale(out, ["data=sample", "trainer.num_nodes=2"], 1)


@pytest.mark.slow
def test_a_stale_run_is_named_and_set_aside(tmp_path, capsys):
    out = _run_folder(tmp_path, ["data=sample"])
    assert not finished(out, ["data=sample", "train.word_dropout=0.37"], 1, keep_stale=True)
    said = capsys.readouterr().out
    assert out.exists() and "train.word_dropout was" in said and "is 0.37): not reported" in said
    assert not finished(out, ["data=sample", "train.word_dropout=0.37"], 1)
    assert not out.exists() and (tmp_path / "run.stale" / "metrics.json").exists()
    assert not finished(out, ["data=sample"], 1)  # nothing there now


@pytest.mark.slow
def test_runs_are_checked_from_several_threads_at_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    out = _run_folder(tmp_path, ["data=sample"])
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda _: stale(out, ["data=sample"], 1), range(8))) == [None] * 8


@pytest.mark.slow
def test_a_student_of_a_teacher_rebuilt_since_is_stale(tmp_path):
    import json
    import os

    out = _run_folder(tmp_path, ["data=sample"])
    teacher = tmp_path / "ensemble.pt"
    teacher.write_bytes(b"members")
    (out / "metrics.json").write_text(json.dumps({"teacher": {"file": str(teacher), "fingerprint": "f"}}))
    before = (out / "metrics.json").stat().st_mtime
    os.utime(teacher, (before - 60, before - 60))
    assert stale(out, ["data=sample"], 1) is None
    os.utime(teacher, (before + 60, before + 60))  # the ensemble made again from other members
    assert stale(out, ["data=sample"], 1) == f"its teacher {teacher} was rebuilt after it"


@pytest.mark.slow
def test_a_setting_that_changes_nothing_learnt_keeps_a_run(tmp_path):
    out = _run_folder(tmp_path, ["data=sample"])
    cfg = OmegaConf.load(out / ".hydra" / "config.yaml")
    del cfg.callbacks["last_checkpoint"]  # a run from before RunCheckpoint wrote last.ckpt
    cfg.callbacks.model_checkpoint._target_ = "pytorch_lightning.callbacks.ModelCheckpoint"
    cfg.callbacks.model_checkpoint.save_last = True
    cfg.plots = not cfg.plots
    OmegaConf.save(cfg, out / ".hydra" / "config.yaml")
    assert stale(out, ["data=sample"], 1) is None
    cfg.callbacks.model_checkpoint.monitor = "val/f1"  # selection: what the run keeps
    OmegaConf.save(cfg, out / ".hydra" / "config.yaml")
    assert stale(out, ["data=sample"], 1).startswith("callbacks.model_checkpoint.monitor was 'val/f1'")


@pytest.mark.slow
def test_a_run_trained_in_another_precision_than_auto_gives_here_is_stale(tmp_path, monkeypatch):
    import json

    from slotfill.training import precision

    out = _run_folder(tmp_path, ["data=sample"])
    (out / "metrics.json").write_text(json.dumps({"train": {"precision": "bf16"}}))  # an AMX machine's run
    monkeypatch.setattr(precision, "hardware_bf16", lambda: False)
    assert stale(out, ["data=sample"], 1) == "trained in bf16, which train.precision=auto is not here (fp32)"
    assert finished(out, ["data=sample"], 1, keep_stale=True)  # tabulated as it is: its row says bf16
    monkeypatch.setattr(precision, "hardware_bf16", lambda: True)
    assert stale(out, ["data=sample"], 1) is None
