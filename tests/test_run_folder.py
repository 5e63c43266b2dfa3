"""run_folder.py: one run per folder, run.json status, what resume= continues from."""

import json
import os
import pickle

import pytest
import torch
from omegaconf import OmegaConf

from slotfill.core.schema import RUN_KEY, run_record
from slotfill.errors import CheckpointError, ConfigError
from slotfill.training import run_folder
from slotfill.training.run_folder import (
    EARLIER_RECORD,
    LAST_CHECKPOINT,
    RunFolder,
    earlier_record_kept,
    resume_config,
)


def _checkpoint(path, config, data_sha256="d" * 64, **more):
    """A checkpoint as training writes it, with the record of the run it belongs to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({RUN_KEY: {"config": config, "data_sha256": data_sha256}, "epoch": 3, **more}, path)
    return path


def _cfg(**extra):
    return OmegaConf.create({"seed": 1, "output_dir": "${hydra:runtime.output_dir}", "resume": None, **extra})


def test_a_folder_with_another_runs_files_is_refused_unless_overwritten(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / "train.log").write_text("")
    RunFolder(tmp_path).claim()  # what Hydra writes before slotfill starts is not another run
    (tmp_path / "model.pt").write_bytes(b"old")
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(ConfigError, match="run folder is not empty.*overwrite=true"):
        RunFolder(tmp_path).claim()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"an epoch")  # something to continue from
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
    record = run_record(tmp_path)
    assert record["status"] == "running" and record["config"]["output_dir"] == str(tmp_path)
    folder.finish("interrupted")
    assert run_record(tmp_path)["status"] == "interrupted"
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "metrics.csv").write_text("epoch\n0\n")
    RunFolder(tmp_path).start(_cfg(seed=2), resumed_from=tmp_path / LAST_CHECKPOINT)
    record = run_record(tmp_path)
    assert record["config"]["seed"] == 1  # the first start's config is the run's config
    assert [h.get("status") for h in record["history"]] == ["interrupted", None]
    assert (tmp_path / "logs" / "metrics.part1.csv").read_text() == "epoch\n0\n"


def test_resume_continues_with_the_runs_own_config(tmp_path):
    folder = RunFolder(tmp_path)
    folder.start(_cfg(seed=7, init_from="x.pt"))
    folder.finish("interrupted")
    with pytest.raises(ConfigError, match="no checkpoints/last.ckpt"):
        resume_config(_cfg(resume=str(tmp_path)))
    _checkpoint(tmp_path / LAST_CHECKPOINT, run_record(tmp_path)["config"])
    cfg, last = resume_config(_cfg(resume=str(tmp_path), seed=99))
    assert cfg.seed == 7 and cfg.output_dir == str(tmp_path) and cfg.resume == str(tmp_path)
    assert cfg.init_from == "x.pt" and last == tmp_path / LAST_CHECKPOINT  # the run's record (built from last)
    assert resume_config(_cfg()) == (_cfg(), None)


def test_resume_refuses_a_completed_run_and_a_missing_folder(tmp_path):
    record = {"status": "completed", "config": {"seed": 1}}
    (tmp_path / "run.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match="completed"):
        resume_config(_cfg(resume=str(tmp_path)))
    with pytest.raises(ConfigError, match="no such run folder"):
        resume_config(_cfg(resume=str(tmp_path / "nope")))


def test_resume_of_a_folder_whose_run_json_is_not_a_mapping_is_one_line(tmp_path):
    """A run.json edited into a list used to end resume= in AttributeError: it is no record."""
    (tmp_path / "run.json").write_text("[]")
    with pytest.raises(ConfigError, match="nothing to continue"):
        resume_config(_cfg(resume=str(tmp_path)))


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


def _interrupted_run(tmp_path, **config):
    folder = RunFolder(tmp_path)
    folder.start(_cfg(optimizer={"lr": 0.002}, model={"hidden_size": 64}, **config))
    folder.finish("interrupted")
    return _checkpoint(tmp_path / LAST_CHECKPOINT, run_record(tmp_path)["config"])


@pytest.mark.parametrize(
    "edit, shown",
    [
        (lambda c: c["optimizer"].update(lr=0.02), "optimizer.lr 0.002 -> 0.02"),
        (lambda c: c["model"].update(hidden_size=128), "model.hidden_size 64 -> 128"),
        (lambda c: c.update(max_epochs=40), "max_epochs None -> 40"),
    ],
)
def test_resume_refuses_a_saved_config_edited_since_the_checkpoint(tmp_path, edit, shown):
    _interrupted_run(tmp_path)
    record = run_record(tmp_path)
    edit(record["config"])
    (tmp_path / "run.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match="differs from the one last.ckpt was trained with") as e:
        resume_config(_cfg(resume=str(tmp_path)))
    assert shown in str(e.value) and "\n" not in str(e.value)


def test_resume_refuses_changed_data_and_accepts_the_same(tmp_path):
    record = run_folder.checkpoint_record(_interrupted_run(tmp_path))
    run_folder.check_same_data(record, "d" * 64, "resume=RUN")
    with pytest.raises(ConfigError, match="the data changed since the run started.*mix of two data sets"):
        run_folder.check_same_data(record, "e" * 64, "resume=RUN")


def test_resume_refuses_another_teacher_and_accepts_the_same(tmp_path):
    last = tmp_path / "last.ckpt"
    torch.save({RUN_KEY: {"config": {}, "data_sha256": "d" * 64, "teacher": "t" * 64}}, last)
    record = run_folder.checkpoint_record(last)
    run_folder.check_same_data(record, "d" * 64, "resume=RUN", teacher="t" * 64)
    with pytest.raises(ConfigError, match=r"the teacher model \(train.distill_from\) changed since the run started"):
        run_folder.check_same_data(record, "d" * 64, "resume=RUN", teacher="u" * 64)


def test_a_checkpoint_holding_a_pickle_payload_is_refused_in_one_line(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ran"),))

    _interrupted_run(tmp_path)
    torch.save({"epoch": 1, "x": Payload()}, tmp_path / LAST_CHECKPOINT)  # a torch file with a payload
    with pytest.raises(CheckpointError, match="holds Python objects besides tensors") as e:
        resume_config(_cfg(resume=str(tmp_path)))
    with open(tmp_path / "raw.ckpt", "wb") as f:  # a bare pickle
        pickle.dump({"epoch": 1, "x": Payload()}, f)
    with pytest.raises(CheckpointError, match="raw.ckpt: not a readable checkpoint"):
        run_folder.checkpoint_record(tmp_path / "raw.ckpt")
    message = str(e.value)
    assert "weights_only" not in message and "\x1b" not in message and "\n" not in message
    assert not (tmp_path / "ran").exists()


def test_one_process_at_a_time_trains_in_a_folder(tmp_path):
    with run_folder.lock(tmp_path):
        with pytest.raises(ConfigError, match=f"another slotfill process \\(pid {os.getpid()}\\) is training"):
            with run_folder.lock(tmp_path):
                pass
    with run_folder.lock(tmp_path):  # released when the first ended
        pass
    RunFolder(tmp_path).claim()  # the lock file is not another run's file


def test_a_second_training_in_a_busy_folder_leaves_its_hydra_files_alone(tmp_path):
    from tests.helpers import run_script

    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 1\n")
    with run_folder.lock(tmp_path):
        proc = run_script("train.py", [f"hydra.run.dir={tmp_path}", "seed=5"], timeout=60)
    assert proc.returncode == 2 and "another slotfill process" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert (tmp_path / ".hydra" / "config.yaml").read_text() == "seed: 1\n"  # the running run's config


def test_held_takes_the_lock_and_removes_the_folders_it_made_for_nothing(tmp_path):
    folder = tmp_path / "a" / "b"
    with run_folder.held(folder):
        assert folder.is_dir()
        with pytest.raises(ConfigError, match="another slotfill process"):
            with run_folder.held(folder):  # a second start into the same folder
                pass
        with run_folder.lock(folder):  # the job's own lock: the one held since before Hydra
            assert (folder / run_folder.LOCK_FILE).read_text() == str(os.getpid())
    assert not (tmp_path / "a").exists()  # made here, nothing written: gone again
    (tmp_path / "kept").mkdir()
    with run_folder.held(tmp_path / "kept"):
        (tmp_path / "kept" / "model.pt").write_bytes(b"x")
    assert (tmp_path / "kept" / "model.pt").exists()


@pytest.mark.slow
def test_a_named_train_folder_is_held_before_hydra_writes_there(tmp_path, monkeypatch):
    """Two trainings started at once into one folder: the lock is taken before Hydra rewrites ``.hydra/``,
    so the second is refused before it replaces the first's record of its settings."""
    import fcntl

    from slotfill.cli import jobs
    from slotfill.cli.main import main

    run = tmp_path / "run"
    seen = {}

    def train(cfg):
        seen["hydra written"] = (run / ".hydra").is_dir()
        with open(run / run_folder.LOCK_FILE) as other:  # another process's view: a fresh open file
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                seen["held"] = False
            except BlockingIOError:
                seen["held"] = True
        return {}

    monkeypatch.setattr(jobs, "train", train)
    assert main(["train", "data=sample", f"hydra.run.dir={run}"]) == 0
    assert seen == {"hydra written": True, "held": True}
    assert run_folder.unlocked(run)  # released when the job ended


def test_the_lock_sweeps_temporary_files_a_killed_writer_left(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    left = [tmp_path / ".model.pt.abc123.tmp", tmp_path / "checkpoints" / ".last.ckpt.x9.tmp"]
    for p in left:
        p.write_bytes(b"half")
    (tmp_path / "keep.tmp").write_text("not ours")
    with run_folder.lock(tmp_path):
        assert not any(p.exists() for p in left) and (tmp_path / "keep.tmp").exists()


def test_a_run_killed_before_its_first_epoch_was_saved_leaves_a_reusable_folder(tmp_path):
    RunFolder(tmp_path).start(_cfg())  # killed: status stays "running", no checkpoint
    with pytest.raises(ConfigError, match="nothing to continue; train again into that folder"):
        resume_config(_cfg(resume=str(tmp_path)))
    with run_folder.lock(tmp_path):
        RunFolder(tmp_path).claim()
    assert not (tmp_path / "run.json").exists()


@pytest.mark.slow
def test_resume_on_rotated_training_data_is_refused_before_training(tmp_path):
    """Kill after some epochs, rotate the training file, resume: refused, the run's files untouched."""
    import shutil

    from slotfill.cli.jobs import train
    from tests.helpers import SAMPLE, compose_config, sample_overrides

    data = shutil.copytree(SAMPLE, tmp_path / "data")
    run = tmp_path / "run"
    args = [a if not a.startswith("data.path=") else f"data.path={data}" for a in sample_overrides(epochs=2)]
    train(compose_config(args, run))
    record = run_record(run)
    record["status"] = "interrupted"  # as if stopped after its second epoch
    (run / "run.json").write_text(json.dumps(record))
    for name in ("seq.in", "seq.out", "label"):
        lines = (data / "train" / name).read_text().splitlines(keepends=True)
        (data / "train" / name).write_text("".join(lines[30:] + lines[:30]))
    before = (run / LAST_CHECKPOINT).read_bytes()
    cfg, last = resume_config(compose_config([f"resume={run}"], run))
    with pytest.raises(ConfigError, match="the data changed since the run started"):
        train(cfg)
    assert (run / LAST_CHECKPOINT).read_bytes() == before


def _finished_run(folder):
    """A completed run's folder: its model, its run.json, Hydra's copy of its settings."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text("model:\n  hidden_size: 128\n")
    (folder / "train.log").write_text("the finished run's log\n")
    (folder / "model.pt").write_bytes(b"the finished run's model")
    (folder / "run.json").write_text(json.dumps({"status": "completed", "config": {}, "history": []}))


def test_a_finished_run_is_refused_before_hydra_writes_over_its_record(tmp_path, capsys):
    from slotfill.cli.main import main

    _finished_run(tmp_path / "run")
    with pytest.raises(SystemExit) as e:
        main(["train", "data=sample", "model.hidden_size=32", f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "run folder is not empty" in err and "overwrite=true" in err
    assert "resume=" not in err  # a completed run cannot be continued: not offered
    assert (tmp_path / "run" / ".hydra" / "config.yaml").read_text() == "model:\n  hidden_size: 128\n"


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_overwrite_keeps_the_old_run_when_the_new_data_does_not_load(tmp_path, capsys):
    from slotfill.cli.main import main
    from tests.conftest import write_split

    _finished_run(tmp_path / "run")
    bad = tmp_path / "bad"
    for split in ("train", "valid", "test"):
        write_split(bad, split, "a b c\n", "O O\n", None)
    with pytest.raises(SystemExit) as e:
        main(["train", f"data.path={bad}", "overwrite=true", "threads=1", f"hydra.run.dir={tmp_path / 'run'}"])
    assert e.value.code == 2 and "2 tags for 3 tokens" in capsys.readouterr().err
    assert (tmp_path / "run" / "model.pt").read_bytes() == b"the finished run's model"  # not cleared for nothing
    assert run_record(tmp_path / "run")["status"] == "completed"
    # nor its record of its settings and its log, which Hydra rewrites at start-up
    assert (tmp_path / "run" / ".hydra" / "config.yaml").read_text() == "model:\n  hidden_size: 128\n"
    assert (tmp_path / "run" / "train.log").read_text() == "the finished run's log\n"
    assert not (tmp_path / "run" / EARLIER_RECORD).exists()


def _hydra_starts(folder):
    """What Hydra writes in a run folder at start-up: its record of this run's settings, this run's log."""
    (folder / ".hydra").mkdir(exist_ok=True)
    (folder / ".hydra" / "config.yaml").write_text("model:\n  hidden_size: 32\n")
    with open(folder / "train.log", "a") as f:
        f.write("the new run's log\n")


def test_a_run_that_claims_the_folder_clears_the_earlier_record_and_starts_its_own_log(tmp_path):
    _finished_run(tmp_path)
    with earlier_record_kept(tmp_path):
        _hydra_starts(tmp_path)
        RunFolder(tmp_path).claim(overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hydra", "train.log"]
    assert (tmp_path / "train.log").read_text() == "the new run's log\n"  # not appended to the cleared run's
    assert (tmp_path / ".hydra" / "config.yaml").read_text() == "model:\n  hidden_size: 32\n"


def test_a_run_that_never_claims_the_folder_puts_the_earlier_record_back(tmp_path):
    _finished_run(tmp_path)
    with pytest.raises(ConfigError), earlier_record_kept(tmp_path):
        _hydra_starts(tmp_path)
        raise ConfigError("the data does not load")
    assert (tmp_path / ".hydra" / "config.yaml").read_text() == "model:\n  hidden_size: 128\n"
    assert (tmp_path / "train.log").read_text() == "the finished run's log\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hydra", "model.pt", "run.json", "train.log"]


def test_a_record_a_killed_run_left_set_aside_is_put_back_by_the_next_command(tmp_path, capsys):
    from slotfill.cli.main import main

    run = tmp_path / "run"
    _finished_run(run)
    (run / EARLIER_RECORD).mkdir()  # as a run killed before it claimed the folder leaves it
    for name in (".hydra", "train.log"):
        (run / name).rename(run / EARLIER_RECORD / name)
    _hydra_starts(run)
    with pytest.raises(SystemExit):
        main(["train", "data=sample", f"hydra.run.dir={run}"])
    err = capsys.readouterr().err
    assert "run folder is not empty (model.pt, run.json)" in err  # the refusal names the run's own files
    assert (run / ".hydra" / "config.yaml").read_text() == "model:\n  hidden_size: 128\n"
    assert (run / "train.log").read_text() == "the finished run's log\n"
    assert not (run / EARLIER_RECORD).exists()


@pytest.mark.parametrize(
    "args, problem",
    [
        (["resume={tmp}/typo"], "resume={tmp}/typo: no such run folder"),
        (["resume={tmp}/a_file"], "resume={tmp}/a_file: a file; resume= takes the run folder"),
        (["data=sample", "hydra.run.dir={tmp}/a_file"], "hydra.run.dir={tmp}/a_file: a file; give a folder"),
        (["data=sample", "hydra.run.dir=/proc/no/run"], "hydra.run.dir=/proc/no/run: cannot write there"),
    ],
)
def test_run_folder_mistakes_are_one_line_before_hydra_makes_a_folder(tmp_path, capsys, args, problem):
    from slotfill.cli.main import main

    (tmp_path / "a_file").write_text("x")
    with pytest.raises(SystemExit) as e:
        main(["train", *(a.format(tmp=tmp_path) for a in args)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(f"error: {problem.format(tmp=tmp_path)}"), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "typo").exists()


def test_resume_puts_back_a_record_a_killed_overwrite_left_set_aside(tmp_path):
    from slotfill.cli.commands import hydra_argv

    run = tmp_path / "run"
    _finished_run(run)
    (run / EARLIER_RECORD).mkdir()
    for name in (".hydra", "train.log"):
        (run / name).rename(run / EARLIER_RECORD / name)
    _hydra_starts(run)  # the killed overwrite's own record, never claimed
    hydra_argv("train", [f"resume={run}"])
    assert (run / ".hydra" / "config.yaml").read_text() == "model:\n  hidden_size: 128\n"
    assert (run / "train.log").read_text() == "the finished run's log\n" and not (run / EARLIER_RECORD).exists()


def test_a_folder_of_someone_elses_files_is_never_cleared(tmp_path):
    (tmp_path / "notes.md").write_text("mine")
    (tmp_path / "src").mkdir()
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match=r"holds files that are not a slotfill run's \(notes.md, src\)") as e:
            RunFolder(tmp_path).claim(overwrite=overwrite)
        assert "resume=" not in str(e.value)
    assert (tmp_path / "notes.md").read_text() == "mine" and (tmp_path / "src").is_dir()


def test_a_completed_run_or_one_without_a_last_checkpoint_is_not_offered_resume(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"a model")
    (tmp_path / "run.json").write_text(json.dumps({"status": "interrupted", "history": []}))
    with pytest.raises(ConfigError) as e:
        RunFolder(tmp_path).claim()
    assert "resume=" not in str(e.value) and "overwrite=true" in str(e.value)


def test_a_folder_reused_after_a_run_that_saved_no_epoch_starts_its_own_log(tmp_path):
    """The earlier run's lines are cut from train.log when its files are cleared, this run's kept."""
    earlier = RunFolder(tmp_path)
    earlier.start(_cfg())
    earlier.finish("interrupted")  # stopped in its first epoch: nothing saved
    (tmp_path / "train.log").write_text("atis: train 4478 sentences\n")
    found = (tmp_path / "train.log").stat().st_size
    with open(tmp_path / "train.log", "a") as f:
        f.write("sample: train 60 sentences\n")  # this run's own, logged before it claims the folder
    RunFolder(tmp_path, earlier_log=found).claim()
    assert (tmp_path / "train.log").read_text() == "sample: train 60 sentences\n"
