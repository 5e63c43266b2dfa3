"""sweep.py: summary.csv at the end of a -m sweep."""

import csv
import os
import shutil
import time

import pytest
from omegaconf import OmegaConf

from slotfill.training.sweep import SweepSummary, run_folders, write_summary
from tests.test_compare import make_run


def test_summary_lists_the_jobs_in_order(tmp_path):
    for job, hidden in (("10", 32), ("2", 16), ("0", 8)):
        make_run(tmp_path, job, hidden=hidden)
    (tmp_path / "notes").mkdir()
    assert [d.name for d in run_folders(tmp_path)] == ["0", "2", "10"]
    SweepSummary().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}))
    rows = list(csv.DictReader(open(tmp_path / "summary.csv")))
    assert [(r["run"], r["model.hidden_size"]) for r in rows] == [("0", "8"), ("2", "16"), ("10", "32")]
    assert (tmp_path / "summary.md").read_text().startswith("| run | model.hidden_size |")


def test_no_finished_run_no_summary(tmp_path):
    assert write_summary(tmp_path) is None and write_summary(tmp_path / "missing") is None
    assert not (tmp_path / "summary.csv").exists()


def _job_end(callback, job_dir):
    callback.on_job_end(OmegaConf.create({"hydra": {"runtime": {"output_dir": str(job_dir)}}}), job_return=None)


def test_a_smaller_sweep_into_the_same_folder_lists_only_its_own_jobs(tmp_path):
    for job, hidden in (("0", 8), ("1", 16), ("2", 32)):  # an earlier sweep of three jobs
        make_run(tmp_path, job, hidden=hidden)
    sweep = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    callback = SweepSummary()
    callback.on_multirun_start(sweep)
    for job, hidden in (("0", 64), ("1", 128)):  # this sweep: two jobs, in the first two folders again
        shutil.rmtree(tmp_path / job)
        make_run(tmp_path, job, hidden=hidden)
        _job_end(callback, tmp_path / job)
    callback.on_multirun_end(sweep)
    rows = list(csv.DictReader(open(tmp_path / "summary.csv")))
    assert [(r["run"], r["model.hidden_size"]) for r in rows] == [("0", "64"), ("1", "128")]


def test_jobs_run_in_other_processes_are_those_hydra_started_after_the_sweep_began(tmp_path):
    for job, hidden in (("0", 8), ("1", 16), ("2", 32)):
        make_run(tmp_path, job, hidden=hidden)
    an_hour_ago = time.time() - 3600
    os.utime(tmp_path / "2" / ".hydra" / "config.yaml", (an_hour_ago, an_hour_ago))  # the earlier sweep's job
    sweep = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    callback = SweepSummary()
    callback.started = time.time() - 60  # no on_job_end here: a launcher that runs the jobs elsewhere
    callback.on_multirun_end(sweep)
    assert [r["run"] for r in csv.DictReader(open(tmp_path / "summary.csv"))] == ["0", "1"]


def test_the_summary_is_written_after_every_job_not_only_at_the_sweeps_end(tmp_path):
    """A sweep that stops (a failed job, Ctrl-C, a killed process) keeps the summary of its finished jobs."""
    callback = SweepSummary()
    callback.on_multirun_start(OmegaConf.create({}))
    make_run(tmp_path, "0", hidden=8)
    config = {"hydra": {"runtime": {"output_dir": str(tmp_path / "0")}, "sweep": {"dir": str(tmp_path)}}}
    callback.on_job_end(OmegaConf.create(config), job_return=None)
    assert [r["run"] for r in csv.DictReader(open(tmp_path / "summary.csv"))] == ["0"]


@pytest.mark.slow
def test_a_failed_job_fails_itself_not_the_sweep(tmp_path, capsys):
    """``seed=abc,1``: the first job's error ended the whole sweep (exit 2, no second job, no summary)."""
    from slotfill.cli.main import main

    sweep = tmp_path / "sweep"
    argv = ["train", "-m", "data=sample", "trainer.max_epochs=1", "seed=abc,1", f"hydra.sweep.dir={sweep}"]
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "error: sweep job 0 (" in err and "seed='abc'" in err
    assert "Error executing job with overrides" not in err  # Hydra's own line: slotfill's error says it once
    assert [r["run"] for r in csv.DictReader(open(sweep / "summary.csv"))] == ["1"]  # the job after it ran


def test_a_summary_that_cannot_be_written_after_a_job_does_not_end_the_sweep(tmp_path, monkeypatch, caplog):
    """Hydra calls on_job_end outside the job: an error there ended the sweep's other jobs."""
    from slotfill.training import sweep

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sweep, "write_summary", full_disk)
    callback = SweepSummary()
    callback.on_multirun_start(OmegaConf.create({}))
    config = {"hydra": {"runtime": {"output_dir": str(tmp_path / "0")}, "sweep": {"dir": str(tmp_path)}}}
    callback.on_job_end(OmegaConf.create(config), job_return=None)
    assert "sweep summary not written after this job" in caplog.text
