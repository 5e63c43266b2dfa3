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


def test_predict_streams_in_chunks_and_checks_the_output_first(tiny_model_file, tmp_path, monkeypatch):
    from slotfill.tagger import SlotTagger

    f = tmp_path / "in.txt"
    f.write_text("".join(f"to boston {i}\n" for i in range(5)))
    sizes = []
    predict = SlotTagger.predict
    spy = lambda self, texts, **kw: sizes.append(len(texts)) or predict(self, texts)  # noqa: E731
    monkeypatch.setattr(SlotTagger, "predict", spy)
    monkeypatch.setattr(run, "CHUNK", 2)
    out = tmp_path / "out.jsonl"
    cfg = _cfg("predict", [f"ckpt={tiny_model_file}", "format=jsonl", f"input={f}", f"output={out}"], tmp_path)
    assert run.predict(cfg, []) == 5 and sizes == [2, 2, 1]
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == [f"to boston {i}" for i in range(5)]
    monkeypatch.setattr(SlotTagger, "load", lambda *a, **k: pytest.fail("the model was loaded before the output"))
    bad = _cfg("predict", [f"ckpt={tiny_model_file}", f"output={tmp_path / 'no' / 'out'}"], tmp_path)
    with pytest.raises(SlotfillError, match="cannot write"):
        run.predict(bad, ["hi"])


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["batch_size=0"], "batch_size=0"),
        (["threads=abc"], "threads='abc'"),
        (["precision=fp8"], "precision='fp8'"),
        (["backend=tpu"], "backend='tpu'"),
        (["ckpt=/nope.pt"], "checkpoint not found"),
        (["input=/nope.txt"], "input=/nope.txt: file not found"),
    ],
)
def test_predict_settings_are_checked_before_any_work(tiny_model_file, tmp_path, monkeypatch, overrides, message):
    from slotfill.tagger import SlotTagger

    monkeypatch.setattr(SlotTagger, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    with pytest.raises(SlotfillError, match=message.replace("(", r"\(")):
        run.predict(_cfg("predict", [f"ckpt={tiny_model_file}", *overrides], tmp_path), ["hi"])


def test_evaluate_warns_when_the_model_knows_few_of_the_gold_labels(tiny_model_file, tmp_path, capsys):
    d = write_split(tmp_path / "other", "test", "play some jazz\n", "O O B-genre\n", None)
    run.evaluate(_cfg("evaluate", [f"ckpt={tiny_model_file}", f"split_dir={d}"], tmp_path / "out"))
    err = capsys.readouterr().err
    assert "warning: the model knows 0 of the 1 slot labels" in err and len(err.strip().splitlines()) == 1


def test_training_into_a_used_folder_or_with_unknown_keys_is_refused(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"an earlier run's model")
    with pytest.raises(SlotfillError, match="run folder is not empty"):
        run.train(compose_config(["data=sample"], tmp_path))
    assert (tmp_path / "model.pt").read_bytes() == b"an earlier run's model"
    with pytest.raises(SlotfillError, match="unknown setting ckpt_path.*resume=RUN_DIR"):
        run.train(compose_config(["data=sample", "+ckpt_path=x.ckpt"], tmp_path / "new"))
    for override, message in [("data.batch_size=0", "data.batch_size=0"), ("monitor=val/loss", "monitor=val/loss")]:
        with pytest.raises(SlotfillError, match=message):
            run.train(compose_config(["data=sample", override], tmp_path / "new"))
