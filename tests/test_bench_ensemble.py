"""bench/ensemble.py: a table another command wrote is never replaced without being asked."""

import sys

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import ensemble  # noqa: E402


class Trains(Exception):
    pass


def _trains(*args, **kwargs):
    raise Trains


def test_a_table_of_another_command_is_refused_before_any_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ensemble, "RESULTS", tmp_path)
    table = tmp_path / "ensemble_atis_default_5_w0.5.md"
    table.write_text("## Ensemble\n\nCommand: `python bench/ensemble.py --students 5`. Test-set mean...\n")
    assert ensemble._command_in(table) == "python bench/ensemble.py --students 5"
    assert ensemble._command_in(tmp_path / "none.md") is None
    argv = ["ensemble.py", "--model", "default", "--students", "3", "--jobs", "1"]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(ensemble, "run_one", lambda *a, **k: pytest.fail("trained before refusing"))
    with pytest.raises(SystemExit, match="holds the table of `python bench/ensemble.py --students 5`: --replace"):
        ensemble.main()


def test_the_command_a_table_names_runs_again_whatever_its_jobs(tmp_path, monkeypatch):
    monkeypatch.setattr(ensemble, "RESULTS", tmp_path)
    written = "python bench/ensemble.py --dataset atis --members 5 --students 0 --distill-weight 0.5 --jobs 2"
    (tmp_path / "ensemble_atis_5.md").write_text(f"## Ensemble\n\nCommand: `{written}`. Test-set...\n")
    monkeypatch.setattr(sys, "argv", ["ensemble.py", "--members", "5", "--students", "0", "--jobs", "1"])
    monkeypatch.setattr(ensemble, "run_one", _trains)
    with pytest.raises(Trains):  # past the check: on to training its members
        ensemble.main()
