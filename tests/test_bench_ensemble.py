"""bench/ensemble.py: a table another command wrote is never replaced without being asked."""

import sys

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import ensemble  # noqa: E402


def test_a_table_of_another_command_is_refused_before_any_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ensemble, "RESULTS", tmp_path)
    table = tmp_path / "ensemble_atis_default_5_w0.5.md"
    table.write_text("## Ensemble\n\nCommand: `python bench/ensemble.py --students 5`. Test-set mean...\n")
    assert ensemble._command_in(table) == "python bench/ensemble.py --students 5"
    assert ensemble._command_in(tmp_path / "none.md") is None
    argv = ["ensemble.py", "--model", "default", "--students", "3", "--jobs", "1"]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(ensemble, "run_one", lambda *a, **k: pytest.fail("trained before refusing"))
    with pytest.raises(SystemExit) as e:
        ensemble.main()
    assert e.value.code == 2 and "holds the table of `python bench/ensemble.py --students 5`" in capsys.readouterr().err
