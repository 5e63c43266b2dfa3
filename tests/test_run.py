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
    assert run.predict(cfg, ["i want to leave taipei", "", "to boston"]) == 3
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in lines] == ["i want to leave taipei", "", "to boston"]
    assert set(lines[0]) == {"text", "tokens", "tags", "spans", "intent", "intent_confidence"}
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
