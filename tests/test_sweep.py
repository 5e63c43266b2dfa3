"""sweep.py: summary.csv at the end of a -m sweep."""

import csv

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
