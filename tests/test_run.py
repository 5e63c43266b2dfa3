"""run.py: the orchestrators behind the entry scripts, called in this process."""

import json

import pytest

from slotfill import run
from slotfill.errors import SlotfillError
from tests.conftest import write_split
from tests.helpers import compose_config


def _cfg(name, overrides, out):
    return compose_config(overrides, out, config_name=name)


def test_predict_writes_jsonl_for_every_sentence(tiny_model_file, tmp_path):
    out = tmp_path / "out.jsonl"
    cfg = _cfg("predict", [f"ckpt={tiny_model_file}", "format=jsonl", f"output={out}"], tmp_path)
    results = run.predict(cfg, ["i want to leave taipei", "", "to boston"])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == results and [r["text"] for r in lines] == ["i want to leave taipei", "", "to boston"]
    with pytest.raises(SlotfillError, match="format=xml"):
        run.predict(_cfg("predict", [f"ckpt={tiny_model_file}", "format=xml"], tmp_path), ["hi"])


def test_evaluate_scores_a_split_folder_and_writes_the_shared_schema(tiny_model_file, tmp_path):
    d = write_split(
        tmp_path / "own",
        "test",
        "i want to leave taipei\nfly to the moon tonight\n",
        "O O O O B-from\nO O O B-celestial.body B-depart_time.period_of_day\n",
        "flight\nspaceflight\n",
    )
    metrics = run.evaluate(_cfg("evaluate", [f"ckpt={tiny_model_file}", f"split_dir={d}"], tmp_path / "out"))
    written = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert written == json.loads(json.dumps(metrics))
    assert written["kind"] == "evaluate" and written["data"] == str(d) and written["dataset"] == "tiny"
    scores = written["scores"]["test"]
    assert scores["recall"] < 100.0  # the unseen slots are gold chunks the model cannot find
    assert written["per_slot"]["celestial.body"]["support"] == 1
    assert scores["intent_accuracy"] <= 50.0
    errors = [json.loads(line) for line in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert any(e["gold_intent"] == "spaceflight" for e in errors)
    for name in ("report.md", "report.txt"):
        assert (tmp_path / "out" / name).exists()
    assert written["per_intent"]["spaceflight"]["support"] == 1 and written["per_intent"]["spaceflight"]["recall"] == 0
    assert set(written["calibration"]) == {"span", "intent"} and written["calibration"]["intent"]["n"] == 2
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Per-intent report" in report and "## Calibration" in report
    for name in ("per_slot_f1", "slot_confusion", "intent_confusion", "confidence_histogram", "reliability"):
        assert (tmp_path / "out" / f"{name}.png").stat().st_size > 1000, name


@pytest.mark.parametrize(
    "fmt, pattern",
    [
        ("conll", r"# intent = \S+\nto\t\S+\nboston\t\S+\n\n$"),
        ("seq.out", r"^\S+ \S+\n$"),
        ("rasa", r"nlu:\n- intent:"),
    ],
)
def test_predict_writes_data_formats(tiny_model_file, tmp_path, fmt, pattern):
    import re

    out = tmp_path / "out.txt"
    run.predict(_cfg("predict", [f"ckpt={tiny_model_file}", f"format={fmt}", f"output={out}"], tmp_path), ["to boston"])
    assert re.search(pattern, out.read_text())


def test_evaluate_reads_any_format_and_reports_by_the_data(tiny_model_file, tmp_path, capsys):
    test = tmp_path / "mine" / "test.conll"
    test.parent.mkdir()
    test.write_text("# intent = flight\nplay\tO\njazz\tS-genre\n\n")
    metrics = run.evaluate(_cfg("evaluate", [f"ckpt={tiny_model_file}", f"split_dir={test}"], tmp_path / "out"))
    assert metrics["per_slot"]["genre"]["support"] == 1 and metrics["direction_confusions"] is None
    out = capsys.readouterr().out
    assert "departure" not in out and "Departure" not in (tmp_path / "out" / "report.md").read_text()
    cfg = _cfg("evaluate", [f"ckpt={tiny_model_file}", f"data.path={tmp_path / 'mine'}", "split=test"], tmp_path / "o2")
    with pytest.raises(SlotfillError, match="no train split"):  # a folder holding only a test file
        run.evaluate(cfg)


def test_objective_is_the_monitored_validation_score():
    assert run.objective({}) is None
    assert run.objective({"best_val_score": 91.5, "scores": {}}) == 91.5
    valid = {"f1": 80.0, "intent_accuracy": 90.0}
    assert run.objective({"best_val_score": None, "monitor": "val/joint", "scores": {"valid": valid}}) == 85.0
    assert run.objective({"best_val_score": None, "monitor": "val/f1", "scores": {"valid": valid}}) == 80.0
