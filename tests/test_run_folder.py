"""run_folder.py: one run per folder, run.json status, what resume= continues from."""

import json

import pytest
from omegaconf import OmegaConf

from slotfill.errors import ConfigError
from slotfill.training.run_folder import LAST_CHECKPOINT, RunFolder, read_status, resume_config


def _cfg(**extra):
    return OmegaConf.create({"seed": 1, "output_dir": "${hydra:runtime.output_dir}", "resume": None, **extra})


def test_a_folder_with_another_runs_files_is_refused_unless_overwritten(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / "train.log").write_text("")
    RunFolder(tmp_path).claim()  # what Hydra writes before slotfill starts is not another run
    (tmp_path / "model.pt").write_bytes(b"old")
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(ConfigError, match="run folder is not empty.*resume=.*overwrite=true"):
        RunFolder(tmp_path).claim()
    RunFolder(tmp_path).claim(overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hydra", "train.log"]


def test_a_run_that_failed_before_saving_an_epoch_leaves_a_reusable_folder(tmp_path):
    folder = RunFolder(tmp_path)
    folder.start(_cfg())
    folder.finish("failed", error="TrainingDiverged: ...")
    RunFolder(tmp_path).claim()
    assert not (tmp_path / "run.json").exists()


def test_run_json_records_status_config_and_history(tmp_path):
    folder = RunFolder(tmp_path)
    folder.start(_cfg())
    record = read_status(tmp_path)
    assert record["status"] == "running" and record["config"]["output_dir"] == str(tmp_path)
    folder.finish("interrupted")
    assert read_status(tmp_path)["status"] == "interrupted"
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "metrics.csv").write_text("epoch\n0\n")
    RunFolder(tmp_path).start(_cfg(seed=2), resumed_from=tmp_path / LAST_CHECKPOINT)
    record = read_status(tmp_path)
    assert record["config"]["seed"] == 1  # the first start's config is the run's config
    assert [h.get("status") for h in record["history"]] == ["interrupted", None]
    assert (tmp_path / "logs" / "metrics.part1.csv").read_text() == "epoch\n0\n"


def test_resume_continues_with_the_runs_own_config(tmp_path):
    folder = RunFolder(tmp_path)
    folder.start(_cfg(seed=7, init_from="x.pt"))
    folder.finish("interrupted")
    with pytest.raises(ConfigError, match="no checkpoints/last.ckpt"):
        resume_config(_cfg(resume=str(tmp_path)))
    (tmp_path / LAST_CHECKPOINT).parent.mkdir()
    (tmp_path / LAST_CHECKPOINT).write_bytes(b"")
    cfg, last = resume_config(_cfg(resume=str(tmp_path), seed=99))
    assert cfg.seed == 7 and cfg.output_dir == str(tmp_path) and cfg.resume == str(tmp_path)
    assert cfg.init_from is None and last == tmp_path / LAST_CHECKPOINT
    assert resume_config(_cfg()) == (_cfg(), None)


def test_resume_refuses_a_completed_run_and_a_missing_folder(tmp_path):
    record = {"status": "completed", "config": {"seed": 1}}
    (tmp_path / "run.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match="completed"):
        resume_config(_cfg(resume=str(tmp_path)))
    with pytest.raises(ConfigError, match="no such run folder"):
        resume_config(_cfg(resume=str(tmp_path / "nope")))


def test_a_run_saved_before_the_package_layout_changed_resumes_with_todays_component_paths(tmp_path):
    from slotfill.training.run_folder import saved_config

    old = {
        "callbacks": {"epoch_log": {"_target_": "slotfill.callbacks.EpochLog"}},
        "logger": {"csv": {"_target_": "slotfill.loggers.EpochCSVLogger", "name": "logs"}},
        "trainer": {"_target_": "pytorch_lightning.Trainer"},
        "notes": ["slotfill.sweep.SweepSummary"],
    }
    (tmp_path / "run.json").write_text(json.dumps({"status": "running", "config": old}))
    cfg = saved_config(tmp_path)
    assert cfg.callbacks.epoch_log._target_ == "slotfill.training.callbacks.EpochLog"
    assert cfg.logger.csv._target_ == "slotfill.training.loggers.EpochCSVLogger" and cfg.logger.csv.name == "logs"
    assert cfg.trainer._target_ == "pytorch_lightning.Trainer" and cfg.notes == ["slotfill.training.sweep.SweepSummary"]
