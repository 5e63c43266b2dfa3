"""plots.py: every figure is written (PNG and SVG) with its basic content; not pixel-compared."""

import csv

import pytest

from slotfill.errors import ConfigError, DataError, SlotfillError
from slotfill.evaluation.plots import evaluation_figures, learning_curves, read_epochs
from slotfill.evaluation.report import evaluate_predictions

pytest.importorskip("matplotlib")


def _run(tmp_path, name, f1s, intent=True):
    logs = tmp_path / name / "logs"
    logs.mkdir(parents=True)
    keys = ["epoch", "step", "train/loss", "val/f1", "val/loss"] + (["val/intent_accuracy"] if intent else [])
    with open(logs / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        for e, f1 in enumerate(f1s):
            w.writerow(
                {"epoch": e, "step": e, "train/loss": 1 / (e + 1), "val/f1": f1, "val/loss": 1.2 / (e + 1)}
                | ({"val/intent_accuracy": 90 + e} if intent else {})
            )
    return tmp_path / name


def test_read_epochs_merges_the_rows_of_an_epoch(tmp_path):
    logs = tmp_path / "old" / "logs"
    logs.mkdir(parents=True)
    (logs / "metrics.csv").write_text("epoch,step,train/loss,val/f1\n0,5,,80.0\n0,5,1.5,\n1,9,,85.0\n1,9,1.2,\n")
    assert read_epochs(tmp_path / "old") == [
        {"epoch": 0, "step": 5, "val/f1": 80.0, "train/loss": 1.5},
        {"epoch": 1, "step": 9, "val/f1": 85.0, "train/loss": 1.2},
    ]
    assert read_epochs(tmp_path / "none") == []


def test_a_resumed_runs_epochs_before_the_resume_are_read_too(tmp_path):
    logs = tmp_path / "run" / "logs"
    logs.mkdir(parents=True)
    (logs / "metrics.part1.csv").write_text("epoch,val/f1\n0,80.0\n1,82.0\n2,83.0\n")  # killed in epoch 2
    (logs / "metrics.part2.csv").write_text("epoch,val/f1\n2,84.0\n3,85.0\n")  # epoch 2 again, then killed
    (logs / "metrics.csv").write_text("epoch,val/f1\n4,86.0\n")
    assert [(e["epoch"], e["val/f1"]) for e in read_epochs(tmp_path / "run")] == [
        (0, 80.0),
        (1, 82.0),
        (2, 84.0),
        (3, 85.0),
        (4, 86.0),
    ]
    (logs / "metrics.csv").unlink()  # a resume with no epoch left to do
    assert len(read_epochs(tmp_path / "run")) == 4


@pytest.mark.slow
def test_learning_curves_of_several_runs_on_one_figure(tmp_path):
    a, b = _run(tmp_path, "a", [50, 70, 80]), _run(tmp_path, "b", [40, 60], intent=False)
    written = learning_curves([a, b], tmp_path / "curves")
    assert [p.name for p in written] == ["curves.png", "curves.svg"]
    svg = written[1].read_text()
    assert "validation slot F1" in svg and "validation intent accuracy" in svg
    assert "<!-- a -->" in svg and "<!-- b -->" in svg  # one legend entry per run (SVG text comments)
    assert written[0].read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SlotfillError, match="empty: no epochs logged"):
        learning_curves([tmp_path / "empty"], tmp_path / "x")
    with pytest.raises(ConfigError, match=r"--labels: 1 given for 2 run folder\(s\)"):
        learning_curves([a, b], tmp_path / "x", labels=["a"])


@pytest.mark.slow
def test_evaluation_figures_are_written(tmp_path):
    gold = [["O", "B-to", "I-to"], ["B-from", "O", "O"]]
    pred = [["O", "B-to", "I-to"], ["B-to", "O", "O"]]
    spans = [
        {
            "spans": [{"slot": "to", "token_start": 1, "token_end": 3, "confidence": 0.9}],
            "intent": "f",
            "intent_confidence": 0.8,
        },
        {
            "spans": [{"slot": "to", "token_start": 0, "token_end": 1, "confidence": 0.7}],
            "intent": "f#g",
            "intent_confidence": 0.6,
        },
    ]
    result = evaluate_predictions([["a", "b", "c"]] * 2, gold, pred, ["f", "g"], ["f", "f#g"], spans)
    written = {p.name for p in evaluation_figures(result, tmp_path)}
    for name in ("per_slot_f1", "slot_confusion", "intent_confusion", "confidence_histogram", "reliability"):
        assert {f"{name}.png", f"{name}.svg"} <= written
    assert "ECE" in (tmp_path / "reliability.svg").read_text()


def test_per_slot_bars_carry_their_values_and_a_zero_is_marked(tmp_path, monkeypatch):
    import matplotlib

    from slotfill.evaluation.plots import per_slot_f1

    monkeypatch.setitem(matplotlib.rcParams, "svg.fonttype", "none")  # text stays text in the SVG
    per_slot = {"toloc.city_name": {"f1-score": 0.97, "support": 70}, "day_name": {"f1-score": 0.0, "support": 2}}
    svg = per_slot_f1(per_slot, tmp_path / "f1")[1].read_text()
    assert ">97.0<" in svg and ">0.0<" in svg
    assert "#d62728" in svg  # the red of the zero's stub and value (tab:red)


def test_a_run_with_no_epochs_is_named_not_left_out_of_the_figure(tmp_path):
    good = _run(tmp_path, "good", [50, 70])
    with pytest.raises(SlotfillError, match=r"typo: no epochs logged") as e:
        learning_curves([good, tmp_path / "typo"], tmp_path / "x")
    assert "good" not in str(e.value) and not (tmp_path / "x.png").exists()


def test_a_value_that_is_not_a_number_is_named_with_its_file_and_line(tmp_path):
    logs = tmp_path / "run" / "logs"
    logs.mkdir(parents=True)
    (logs / "metrics.csv").write_text("epoch,train/loss\n0,1.5\n1,abc\n")
    with pytest.raises(DataError, match=r"metrics.csv:3: train/loss: 'abc' is not a number"):
        read_epochs(tmp_path / "run")


def test_a_resumed_runs_log_ignores_copies_beside_the_numbered_parts(tmp_path):
    logs = tmp_path / "run" / "logs"
    logs.mkdir(parents=True)
    (logs / "metrics.part1.csv").write_text("epoch,val/f1\n0,80.0\n")
    (logs / "metrics.part1.bak.csv").write_text("epoch,val/f1\n0,10.0\n5,10.0\n")
    (logs / "metrics.part.csv").write_text("epoch,val/f1\n7,10.0\n")
    (logs / "metrics.csv").write_text("epoch,val/f1\n1,86.0\n")
    assert [(e["epoch"], e["val/f1"]) for e in read_epochs(tmp_path / "run")] == [(0, 80.0), (1, 86.0)]


class _Figure:
    def savefig(self, f, format):
        f.write(format.encode())


@pytest.mark.parametrize(
    "out, names",
    [
        ("curves_lr0.001", ["curves_lr0.001.png", "curves_lr0.001.svg"]),
        ("f.v1", ["f.v1.png", "f.v1.svg"]),
        ("f.v1.png", ["f.v1.png", "f.v1.svg"]),
        ("curves.SVG", ["curves.png", "curves.svg"]),
    ],
)
def test_only_a_png_or_svg_suffix_is_replaced(tmp_path, out, names):
    from slotfill.evaluation.plots import _save

    assert [p.name for p in _save(_Figure(), tmp_path / out)] == names


@pytest.mark.slow
def test_learning_curves_into_a_folder_are_written_inside_it(tmp_path):
    run = _run(tmp_path, "run", [50, 70])
    (tmp_path / "figs").mkdir()
    written = learning_curves([run], tmp_path / "figs")
    assert written == [tmp_path / "figs" / "learning_curves.png", tmp_path / "figs" / "learning_curves.svg"]
    assert learning_curves([run], f"{tmp_path / 'new'}/")[0] == tmp_path / "new" / "learning_curves.png"


def test_a_figure_written_again_removes_what_a_killed_writer_left(tmp_path):
    """A run killed while its learning curves were written left ``.learning_curves.png.XXXX.tmp``: the
    run was complete, so no training ever took the folder again to sweep it; redrawing sweeps it."""
    import os
    import time

    from slotfill.evaluation.plots import _save

    left = tmp_path / ".learning_curves.png.k9x2.tmp"
    left.write_bytes(b"half a figure")
    an_hour_ago = time.time() - 3600
    os.utime(left, (an_hour_ago, an_hour_ago))
    writing = tmp_path / ".learning_curves.svg.b7.tmp"  # another process writing the figure right now
    writing.write_bytes(b"being written")
    other = tmp_path / ".metrics.json.a1.tmp"  # another file's: not this writer's to remove
    other.write_bytes(b"x")
    os.utime(other, (an_hour_ago, an_hour_ago))
    _save(_Figure(), tmp_path / "learning_curves")
    assert not left.exists() and writing.exists() and other.exists()


def test_a_temporary_file_renamed_into_place_meanwhile_is_no_error(tmp_path, monkeypatch):
    """Another process writing the same figure renames its temporary file away between the listing
    and the look at its age: that file is not stale, and no error."""
    from pathlib import Path

    from slotfill.evaluation import plots

    (tmp_path / ".learning_curves.png.w1.tmp").write_bytes(b"being written")
    real = Path.stat

    def renamed_meanwhile(self, *args, **kwargs):
        if self.name.endswith(".tmp"):
            raise FileNotFoundError(2, "No such file or directory")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", renamed_meanwhile)
    assert [p.name for p in plots._save(_Figure(), tmp_path / "learning_curves")][0] == "learning_curves.png"
