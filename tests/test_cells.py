"""bench/cells.py: every part writes its JSON, its figure and its section of cells.md (tiny budgets)."""

import json
import runpy
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def _cells(args, tmp_path, monkeypatch):
    """``python bench/cells.py ARGS`` in this process (its grid part starts train.py runs of its own)."""
    monkeypatch.setattr(sys, "argv", ["cells.py", *args, "--threads", "1", "--out", str(tmp_path)])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    runpy.run_path(str(ROOT / "bench" / "cells.py"), run_name="__main__")


def test_probe_gradients_and_forget_bias_parts(tmp_path, monkeypatch):
    _cells(
        [
            "probe",
            "--seeds",
            "1",
            "--steps",
            "4",
            "--every",
            "2",
            "--max-k",
            "4",
            "--train-size",
            "50",
            "--test-size",
            "20",
            "--hidden",
            "8",
        ],
        tmp_path,
        monkeypatch,
    )
    _cells(
        [
            "gradients",
            "--at-steps",
            "0",
            "2",
            "--length",
            "12",
            "--sentences",
            "8",
            "--max-k",
            "4",
            "--train-size",
            "50",
            "--hidden",
            "8",
        ],
        tmp_path,
        monkeypatch,
    )
    _cells(
        [
            "forget-bias",
            "--biases",
            "0",
            "2",
            "--seeds",
            "1",
            "--steps",
            "4",
            "--every",
            "2",
            "--min-k",
            "1",
            "--max-k",
            "3",
            "--train-size",
            "50",
            "--test-size",
            "20",
            "--hidden",
            "8",
        ],
        tmp_path,
        monkeypatch,
    )
    for part in ("probe", "gradients", "forget_bias"):
        assert (tmp_path / f"cells_{part}.png").stat().st_size > 1000
        assert (tmp_path / f"cells_{part}.svg").exists()
    probe = json.loads((tmp_path / "cells_probe.json").read_text())
    assert set(probe["results"]) == {"rnn", "lstm"} and probe["options"]["steps"] == 4
    grads = json.loads((tmp_path / "cells_gradients.json").read_text())
    assert len(grads["results"]["lstm"]["2"]) == 12
    report = (tmp_path / "cells.md").read_text()
    for title in ("Long-range probe", "Gradient norms", "forget-gate bias"):
        assert title in report
    assert "python bench/cells.py forget-bias" in report


def test_grid_trains_the_asked_cells_on_the_sample(tmp_path, monkeypatch):
    _cells(
        [
            "grid",
            "--datasets",
            "sample",
            "--seeds",
            "1",
            "--epochs",
            "sample=1",
            "--jobs",
            "2",
            "--cells",
            "rnn",
            "lstm",
            "--directions",
            "bi",
            "--layers",
            "1",
        ],
        tmp_path,
        monkeypatch,
    )
    grid = json.loads((tmp_path / "cells_grid.json").read_text())["results"]
    assert [(r["cell"], r["bidirectional"], r["layers"]) for r in grid] == [("rnn", True, 1), ("lstm", True, 1)]
    assert (tmp_path / "runs" / "sample-lstm-bi-1L-e1-s1" / "metrics.json").exists()
    assert (tmp_path / "cells_grid.png").stat().st_size > 1000
    report = (tmp_path / "cells.md").read_text()
    assert "| sample | lstm | bi | 1 | 1 |" in report and "Epochs: sample 1." in report
