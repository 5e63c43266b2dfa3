"""bench/speed.py: training rows kept by ``--skip-train`` say where they ran only where that was recorded."""

import sys

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from speed import kept_training, training_source  # noqa: E402

TRAIN = {"default": {"wall_s": 132.8}}
XEON = {"cpu": "Intel(R) Xeon(R) Processor", "cores": 2}


def test_rows_of_a_file_without_train_run_are_not_given_the_last_runs_machine():
    previous = {"machine": XEON, "threads": 1, "train": TRAIN}  # written by an inference-only run
    kept = kept_training(previous)
    assert kept == {"train": TRAIN}  # no guessed train_run saved again
    line = training_source(kept.get("train_run"))
    assert "unknown (not recorded)" in line
    assert "Xeon" not in line


def test_a_recorded_train_run_is_kept_and_named():
    run = {
        "machine": {"cpu": "AMD EPYC", "cores": 2, "date": "2026-12-01"},
        "threads": 2,
        "command": "python bench/speed.py",
    }
    kept = kept_training({"machine": XEON, "threads": 1, "train": TRAIN, "train_run": run})
    assert kept == {"train": TRAIN, "train_run": run}
    line = training_source(kept["train_run"])
    assert "`python bench/speed.py` — AMD EPYC, 2 cores, 2 torch threads, 2026-12-01." in line


def test_a_file_without_training_rows_keeps_nothing():
    assert kept_training({"machine": XEON, "threads": 1}) == {}
