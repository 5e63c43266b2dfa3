import json
import os
import subprocess
import sys

import pytest
import torch

from slotfill import SlotTagger
from slotfill.errors import CheckpointError
from tests.helpers import ROOT

SPAN_KEYS = {"slot", "text", "start", "end", "token_start", "token_end", "confidence"}
RESULT_KEYS = {"text", "tokens", "tags", "spans", "intent", "intent_confidence"}


@pytest.fixture(scope="module")
def tagger(trained_sample):
    return SlotTagger.load(trained_sample["model"])


def test_taipei_departure_vs_arrival(tagger):
    leave, arrive = tagger.predict(["i want to leave taipei", "i want to arrive in taipei"])
    assert [(s["slot"], s["text"]) for s in leave["spans"]] == [("fromloc.city_name", "taipei")]
    assert [(s["slot"], s["text"]) for s in arrive["spans"]] == [("toloc.city_name", "taipei")]


def test_spans_round_trip_to_original_text(tagger):
    text = "I want to LEAVE  Boston, and arrive in San Francisco"
    (res,) = tagger.predict(text)
    assert set(res) == RESULT_KEYS
    assert res["intent"] == "atis_flight"
    slots = {s["slot"]: s for s in res["spans"]}
    assert slots["fromloc.city_name"]["text"] == "Boston"
    assert slots["toloc.city_name"]["text"] == "San Francisco"
    for s in res["spans"]:
        assert set(s) == SPAN_KEYS
        assert text[s["start"] : s["end"]] == s["text"]
        assert " ".join(res["tokens"][s["token_start"] : s["token_end"]]) == s["text"].lower()
        assert 0.0 < s["confidence"] <= 1.0
    assert res["tags"][res["tokens"].index(",")] == "O"


def test_bf16_precision_agrees_with_fp32(trained_sample, tagger):
    texts = ["i want to fly from boston to denver", "show me flights to dallas on monday", "i want to leave oakland"]
    fast = SlotTagger.load(trained_sample["model"], precision="bf16")
    got, want = fast.predict(texts), tagger.predict(texts)
    assert [r["tags"] for r in got] == [r["tags"] for r in want]
    assert [r["intent"] for r in got] == [r["intent"] for r in want]
    for g, w in zip(got, want):
        assert all(abs(a["confidence"] - b["confidence"]) < 0.05 for a, b in zip(g["spans"], w["spans"]))
    with pytest.raises(CheckpointError, match="precision='fp8'"):
        SlotTagger.load(trained_sample["model"], precision="fp8")
    with pytest.raises(CheckpointError, match="needs backend=torch"):
        SlotTagger.load(trained_sample["model"], precision="bf16", backend="onnx")


def test_batched_equals_one_by_one(tagger):
    texts = ["i want to fly from boston to denver", "show me flights to dallas on monday", "i want to leave oakland"]
    together = tagger.predict(texts, batch_size=2)
    alone = [tagger.predict(t)[0] for t in texts]
    assert [r["tags"] for r in together] == [r["tags"] for r in alone]


@pytest.mark.parametrize(
    "text",
    ["", "   ", "✈️ 😀 🛫", "flights from zzyzx to qwghlmzq", "Zürich → Ålesund ça va ?", "a " * 2000],
)
def test_awkward_input_gives_sensible_result(tagger, text):
    (res,) = tagger.predict(text)
    assert len(res["tags"]) == len(res["tokens"])
    for s in res["spans"]:
        assert text[s["start"] : s["end"]] == s["text"]
    if not text.strip():
        assert res["tokens"] == [] and res["spans"] == [] and res["intent"] is None


def test_unseen_city_gets_its_role_from_context(tagger):
    (res,) = tagger.predict("i want to fly from zzyzx to denver")
    assert ("fromloc.city_name", "zzyzx") in [(s["slot"], s["text"]) for s in res["spans"]]


def test_lightning_checkpoint_loads_too(trained_sample, tagger):
    ckpt = SlotTagger.load(trained_sample["best_checkpoint"])
    text = ["i want to leave taipei and arrive in boston"]
    assert ckpt.predict(text) == tagger.predict(text)


def test_bad_checkpoints(tmp_path, trained_sample):
    with pytest.raises(CheckpointError, match="not found"):
        SlotTagger.load(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        SlotTagger.load(tmp_path / "corrupt.pt")
    torch.save({"model": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a slotfill checkpoint"):
        SlotTagger.load(tmp_path / "other.pt")
    state = torch.load(trained_sample["model"], weights_only=True)
    state["net"]["hidden_size"] = 7
    torch.save(state, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        SlotTagger.load(tmp_path / "mismatch.pt")


def test_checkpoint_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"net": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        SlotTagger.load(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def _predict(args, stdin=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def test_cli_text_as_typed_and_jsonl(trained_sample):
    ckpt = f"ckpt={trained_sample['model']}"
    proc = _predict([ckpt, "format=jsonl", "text=i'd like to leave boston, please", "i want to arrive in taipei"])
    assert proc.returncode == 0, proc.stderr.decode()
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["text"] for r in lines] == ["i'd like to leave boston, please", "i want to arrive in taipei"]
    assert set(lines[0]) == RESULT_KEYS and set(lines[0]["spans"][0]) == SPAN_KEYS
    assert lines[1]["spans"][0]["slot"] == "toloc.city_name"


def test_cli_human_output_file_and_stdin(trained_sample, tmp_path):
    ckpt = f"ckpt={trained_sample['model']}"
    f = tmp_path / "in.txt"
    f.write_text("i want to leave taipei and arrive in boston\n\nflights to denver\n")
    proc = _predict([ckpt, f"input={f}"])
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    assert "fromloc.city_name: taipei" in out and "toloc.city_name: boston" in out
    assert "intent: atis_flight" in out and "(empty sentence" in out
    proc = _predict([ckpt, "input=-"], stdin=b"i want to leave taipei\n")
    assert proc.returncode == 0 and "fromloc.city_name: taipei" in proc.stdout.decode()


@pytest.mark.parametrize(
    "args, message",
    [
        (["ckpt=/nope/model.pt", "hello"], "checkpoint not found"),
        (["ckpt={model}"], "nothing to tag"),
        (["ckpt={model}", "input={latin1}"], "latin1.txt:2: not valid UTF-8"),
        (["ckpt={model}", "input=/nope.txt"], "/nope.txt: file not found"),
        (["ckpt={model}", "format=xml", "hi"], "format=xml"),
        (["ckpt={garbage}", "hi"], "not a readable checkpoint"),
    ],
)
def test_cli_errors_are_one_line(trained_sample, tmp_path, args, message):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("ok\ncaf\xe9\n".encode("latin-1"))
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    args = [a.format(model=trained_sample["model"], latin1=latin1, garbage=garbage) for a in args]
    proc = _predict(args)
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert "Traceback" not in err
    assert message in err
    assert len(err.strip().splitlines()) == 1
