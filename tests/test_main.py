"""__main__.py: the `python -m slotfill` subcommands."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slotfill.__main__ import main
from tests.helpers import ROOT
from tests.test_compare import make_run
from tests.test_plots import _run


def test_compare_prints_one_table_and_writes_csv(tmp_path, capsys):
    a, b = make_run(tmp_path, "a", hidden=8), make_run(tmp_path, "b", hidden=16)
    assert main(["compare", str(a), str(b), "--csv", str(tmp_path / "t.csv")]) == 0
    out = capsys.readouterr().out
    assert "| run | model.hidden_size |" in out and "| b | 16 |" in out
    assert (tmp_path / "t.csv").read_text().startswith("run,model.hidden_size")


def test_plot_writes_learning_curves_of_several_runs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    a, b = _run(tmp_path, "a", [10, 20]), _run(tmp_path, "b", [15, 30])
    assert main(["plot", str(a), str(b), "-o", str(tmp_path / "lc"), "--labels", "small", "big"]) == 0
    assert (tmp_path / "lc.png").stat().st_size > 1000 and "<!-- big -->" in (tmp_path / "lc.svg").read_text()
    assert "wrote" in capsys.readouterr().out


def test_errors_are_one_line_with_status_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "slotfill", "compare", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {tmp_path}: not a run folder (no metrics.json)"
    proc = subprocess.run([sys.executable, "-m", "slotfill", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and "compare" in proc.stdout and "plot" in proc.stdout


@pytest.mark.slow
def test_plot_and_compare_two_sample_runs(trained_sample, trained_sample_crf, tmp_path):
    runs = [str(Path(r["model_file"]).parent) for r in (trained_sample, trained_sample_crf)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "slotfill", "plot", *runs, "-o", str(tmp_path / "both")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "both.png").stat().st_size > 1000 and (tmp_path / "both.svg").exists()
    proc = subprocess.run(
        [sys.executable, "-m", "slotfill", "compare", *runs, "--csv", str(tmp_path / "t.csv")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    header = proc.stdout.splitlines()[0]
    assert "model.crf" in header and "model.intent_encoder" in header and "test F1" in header
    assert "model.hidden_size" not in header  # the same in both runs
