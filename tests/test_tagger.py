"""tagger.py: SlotTagger, the Python API (tokenisation, windows, character offsets, backends)."""

import pytest
import torch

from slotfill import SlotTagger
from slotfill.errors import ConfigError

SPAN_KEYS = {"slot", "text", "value", "start", "end", "token_start", "token_end", "confidence"}
RESULT_KEYS = {"text", "tokens", "tags", "spans", "intent", "intent_confidence", "intent_ranking"}
TEXTS = ["i want to fly from boston to denver", "show me flights to dallas on monday", "i want to leave oakland"]


@pytest.fixture
def tiny(tiny_model_file):
    return SlotTagger.load(tiny_model_file)


@pytest.fixture(scope="module")
def tagger(trained_sample):
    return SlotTagger.load(trained_sample["model_file"])


def test_batched_equals_one_by_one(tiny):
    together = tiny.predict(TEXTS, batch_size=2)
    alone = [tiny.predict(t)[0] for t in TEXTS]
    assert together == alone


@pytest.mark.parametrize(
    "text",
    ["", "   ", "✈️ 😀 🛫", "flights from zzyzx to qwghlmzq", "Zürich → Ålesund ça va ?", "a " * 2000],
)
def test_awkward_input_gives_sensible_result(tiny, text):
    (res,) = tiny.predict(text)
    assert set(res) == RESULT_KEYS
    assert len(res["tags"]) == len(res["tokens"])
    for s in res["spans"]:
        assert set(s) == SPAN_KEYS
        assert text[s["start"] : s["end"]] == s["text"]
    if not text.strip():
        assert res["tokens"] == [] and res["spans"] == [] and res["intent"] is None


def test_long_input_is_tagged_in_windows(tiny):
    (res,) = tiny.predict("to " * 1300)
    assert len(res["tags"]) == 1300 and res["intent"] is not None


def test_tokens_in_and_raw_text_in_agree(tiny):
    raw = tiny.predict(TEXTS)
    tokens = tiny.predict_tokens([t.split() for t in TEXTS])
    assert [r["tags"] for r in raw] == [r["tags"] for r in tokens]
    assert [r["intent"] for r in raw] == [r["intent"] for r in tokens]


def test_the_wrong_kind_of_input_is_named_not_tagged(tiny):
    with pytest.raises(TypeError, match="sentence 1: predict_tokens takes lists of str tokens"):
        tiny.predict_tokens(["flights to boston"])  # a str: its characters would be tagged as tokens
    with pytest.raises(TypeError, match="sentence 2: predict_tokens takes lists of str tokens"):
        tiny.predict_tokens([["to", "boston"], ["to", None]])
    with pytest.raises(TypeError, match="text 2: NoneType, not a str"):
        tiny.predict(["to boston", None])


def test_a_tagger_says_what_it_runs(tiny_model_file):
    assert repr(SlotTagger.load(tiny_model_file)) == (
        f"SlotTagger({str(tiny_model_file)!r}, backend='torch', precision='fp32', threads=None)"
    )
    before = torch.get_num_threads()
    try:
        assert repr(SlotTagger.load(tiny_model_file, threads="auto")).endswith("threads=1)")
    finally:
        torch.set_num_threads(before)


def test_bad_options_are_config_errors(tiny_model_file):
    with pytest.raises(ConfigError, match="precision='fp8'"):
        SlotTagger.load(tiny_model_file, precision="fp8")
    with pytest.raises(ConfigError, match="needs backend=torch"):
        SlotTagger.load(tiny_model_file, precision="bf16", backend="onnx")
    with pytest.raises(ConfigError, match="needs backend=onnx"):
        SlotTagger.load(tiny_model_file, precision="int8")
    with pytest.raises(ConfigError, match="backend='tf'"):
        SlotTagger.load(tiny_model_file, backend="tf")
    with pytest.raises(ConfigError, match="threads"):
        SlotTagger.load(tiny_model_file, threads=0)


@pytest.mark.slow
def test_taipei_departure_vs_arrival(tagger):
    leave, arrive = tagger.predict(["i want to leave taipei", "i want to arrive in taipei"])
    assert [(s["slot"], s["text"]) for s in leave["spans"]] == [("fromloc.city_name", "taipei")]
    assert [(s["slot"], s["text"]) for s in arrive["spans"]] == [("toloc.city_name", "taipei")]


@pytest.mark.slow
def test_spans_round_trip_to_original_text(tagger):
    text = "I want to LEAVE  Boston, and arrive in San Francisco"
    (res,) = tagger.predict(text)
    assert res["intent"] == "atis_flight"
    slots = {s["slot"]: s for s in res["spans"]}
    assert slots["fromloc.city_name"]["text"] == "Boston"
    assert slots["toloc.city_name"]["text"] == "San Francisco"
    for s in res["spans"]:
        assert text[s["start"] : s["end"]] == s["text"]
        assert " ".join(res["tokens"][s["token_start"] : s["token_end"]]) == s["text"].lower()
        assert 0.0 < s["confidence"] <= 1.0
    assert res["tags"][res["tokens"].index(",")] == "O"


def bf16_or_skip(path) -> SlotTagger:
    """The bf16 tagger, or a skip where oneDNN has no bfloat16 LSTM (CPUs without native bfloat16)."""
    try:
        return SlotTagger.load(path, precision="bf16")
    except ConfigError as e:  # said at load time, in one line
        assert "use precision=fp32" in str(e)
        pytest.skip(f"this CPU: {e}")


def test_a_cpu_without_a_bfloat16_lstm_is_one_line_at_load_time(tiny_model_file, monkeypatch):
    from slotfill.models import encoder

    def refuse(*args, **kwargs):
        raise RuntimeError("could not create a primitive descriptor for the LSTM forward propagation primitive.")

    monkeypatch.setattr(encoder, "_LAYER_FN", {"lstm": refuse})
    with pytest.raises(ConfigError, match=r"^precision=bf16: this CPU cannot run .*use precision=fp32$"):
        SlotTagger.load(tiny_model_file, precision="bf16")


def trained_in(tmp_path, lstm_precision: str | None, **net):
    """A tiny model file whose run record says its LSTM layers trained in ``lstm_precision``."""
    from tests.helpers import tiny_model

    model = tiny_model(intent=True, **net)
    if lstm_precision:
        model.meta["train"] = {"precision": lstm_precision}
    return model.save(tmp_path / "model.pt")


@pytest.mark.parametrize(
    "trained, amx, expected",
    [("bf16", True, "bf16"), ("bf16", False, "fp32"), ("fp32", True, "fp32"), (None, True, "fp32")],
)
def test_auto_predicts_in_bfloat16_only_a_model_trained_so_on_amx(tmp_path, monkeypatch, trained, amx, expected):
    from slotfill.inference import tagger as tagger_module

    monkeypatch.setattr(tagger_module, "hardware_bf16", lambda: amx)
    path = trained_in(tmp_path, trained)
    if expected == "bf16":
        bf16_or_skip(path)  # this CPU runs the kernel at all
    auto = SlotTagger.load(path)  # auto is the default
    assert auto.precision == expected
    assert auto.model.net.encoder.predict_dtype is (torch.bfloat16 if expected == "bf16" else None)
    assert SlotTagger.load(path, precision="fp32").precision == "fp32"
    assert SlotTagger.load(trained_in(tmp_path, trained, cell="gru")).precision == "fp32"  # oneDNN's bf16 kernel: LSTM


def test_auto_on_a_cpu_whose_kernel_refuses_bfloat16_predicts_in_float32(tmp_path, monkeypatch):
    from slotfill.inference import tagger as tagger_module
    from slotfill.models import encoder

    def refuse(*args, **kwargs):
        raise RuntimeError("could not create a primitive descriptor for the LSTM forward propagation primitive.")

    monkeypatch.setattr(tagger_module, "hardware_bf16", lambda: True)
    monkeypatch.setattr(encoder, "_LAYER_FN", {"lstm": refuse})
    auto = SlotTagger.load(trained_in(tmp_path, "bf16"))
    assert auto.precision == "fp32" and auto.model.net.encoder.predict_dtype is None
    assert auto.predict(TEXTS[0])[0]["tags"]  # the packed float32 path, not the refused kernel


def test_a_pickled_auto_tagger_resolves_again_where_it_is_unpickled(tmp_path, monkeypatch):
    import pickle

    from slotfill.inference import tagger as tagger_module

    path = trained_in(tmp_path, "bf16")
    monkeypatch.setattr(tagger_module, "hardware_bf16", lambda: True)
    here = bf16_or_skip(path)  # this CPU runs the kernel at all
    here = SlotTagger.load(path)
    assert here.precision == "bf16"
    monkeypatch.setattr(tagger_module, "hardware_bf16", lambda: False)  # a worker on a CPU without AMX
    there = pickle.loads(pickle.dumps(here))
    assert there.precision == "fp32" and there.model.net.encoder.predict_dtype is None


def test_every_member_of_an_ensemble_predicts_in_the_precision_and_mixed_members_mean_float32(tmp_path, monkeypatch):
    from slotfill.inference import tagger as tagger_module
    from slotfill.models.encoder import RecurrentEncoder
    from slotfill.models.slot_model import SlotModel

    monkeypatch.setattr(tagger_module, "hardware_bf16", lambda: True)
    members = [SlotModel.load(trained_in(tmp_path / str(i), "bf16", intent_encoder="separate")) for i in range(2)]
    bf16_or_skip(trained_in(tmp_path / "probe", "bf16"))
    both = SlotTagger.load(SlotModel.combine(members).save(tmp_path / "ensemble.pt"))
    encoders = [m for m in both.model.net.modules() if isinstance(m, RecurrentEncoder)]
    assert both.precision == "bf16" and len(encoders) == 4  # two members, each a slot and an intent encoder
    assert all(e.predict_dtype is torch.bfloat16 for e in encoders)
    members[1].meta["train"] = {"precision": "fp32"}
    mixed = SlotModel.combine(members)
    assert "precision" not in mixed.meta["train"]
    assert SlotTagger.load(mixed.save(tmp_path / "mixed.pt")).precision == "fp32"


def test_bf16_asked_for_a_gru_or_rnn_is_one_line(tmp_path):
    for cell in ("gru", "rnn"):
        with pytest.raises(ConfigError, match=rf"^precision=bf16: only the LSTM's layers .*model.cell={cell}\); use"):
            SlotTagger.load(trained_in(tmp_path / cell, "fp32", cell=cell), precision="bf16")


@pytest.mark.slow
def test_bf16_precision_agrees_with_fp32(trained_sample, tagger):
    fast = bf16_or_skip(trained_sample["model_file"])
    got, want = fast.predict(TEXTS), tagger.predict(TEXTS)
    assert [r["tags"] for r in got] == [r["tags"] for r in want]
    assert [r["intent"] for r in got] == [r["intent"] for r in want]
    for g, w in zip(got, want):
        assert all(abs(a["confidence"] - b["confidence"]) < 0.05 for a, b in zip(g["spans"], w["spans"]))


@pytest.mark.slow
def test_unseen_city_gets_its_role_from_context(tagger):
    (res,) = tagger.predict("i want to fly from zzyzx to denver")
    assert ("fromloc.city_name", "zzyzx") in [(s["slot"], s["text"]) for s in res["spans"]]


@pytest.mark.slow
def test_lightning_checkpoint_loads_too(trained_sample, tagger):
    ckpt = SlotTagger.load(trained_sample["best_checkpoint"])
    text = ["i want to leave taipei and arrive in boston"]
    assert ckpt.predict(text) == tagger.predict(text)


def test_min_confidence_in_the_python_api(tiny_model_file):
    from slotfill.inference.pipeline import drop_unsure

    tagger = SlotTagger.load(tiny_model_file)
    texts = ["i want to leave taipei and arrive in boston", "flights to denver on monday"]
    every = tagger.predict(texts)
    cut = sorted(s["confidence"] for r in every for s in r["spans"])[1]
    assert tagger.predict(texts, min_confidence=cut) == [drop_unsure(r, cut) for r in every]
    assert "dropped" not in every[0]  # without a threshold, the result keeps its shape
    tokens = [r["tokens"] for r in every]
    assert tagger.predict_tokens(tokens, min_confidence=cut) == [
        drop_unsure(r, cut) for r in tagger.predict_tokens(tokens)
    ]


@pytest.mark.parametrize("crf", [False, True])
def test_nbest_lists_the_likeliest_sequences_the_first_being_the_answer(tmp_path, crf):
    from tests.helpers import tiny_model

    tagger = SlotTagger.load(tiny_model(intent=True, crf=crf).save(tmp_path / "model.pt"))
    texts = ["i want to leave taipei, and arrive in boston", "to denver", ""]
    plain = tagger.predict(texts)
    results = tagger.predict(texts, nbest=4)
    for one, res in zip(plain, results):
        assert {k: v for k, v in res.items() if k != "nbest"} == one  # the answer itself is unchanged
    for res in results[:2]:
        alts = res["nbest"]
        assert 1 <= len(alts) <= 4 and alts[0]["tags"] == res["tags"]
        assert len({tuple(a["tags"]) for a in alts}) == len(alts)
        probs = [a["probability"] for a in alts]
        assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1 and sum(probs) <= 1 + 1e-6
        assert all(len(a["tags"]) == len(res["tokens"]) for a in alts)
        assert [(s["slot"], s["start"], s["end"]) for s in alts[0]["spans"]] == [
            (s["slot"], s["start"], s["end"]) for s in res["spans"]
        ]
    assert results[2]["nbest"] == [{"tags": [], "spans": [], "log_probability": 0.0, "probability": 1.0}]
    with pytest.raises(ConfigError, match="nbest"):
        tagger.predict(texts, nbest=0)
    # scored batch_size sentences at a time, by length (one long sentence padded a whole chunk to its
    # size: 5x the memory), with the same alternatives
    sizes = []
    scores = tagger._emissions
    tagger._emissions = lambda pieces: sizes.append([len(p) for p in pieces]) or scores(pieces)
    alone = tagger.predict(texts, nbest=4, batch_size=1)
    assert [[a["tags"] for a in r["nbest"]] for r in alone] == [[a["tags"] for a in r["nbest"]] for r in results]
    assert sizes == [[2], [9]]  # by length; the comma hidden from the model, the empty text not scored


UNPICKLE = """
import pickle, sys, json
if sys.argv[2] == "no-torch":
    sys.modules["torch"] = None  # any import of torch now fails
tagger = pickle.loads(open(sys.argv[1], "rb").read())
print(json.dumps(tagger.predict(["i want to leave taipei and arrive in boston"])))
"""


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_pickled_tagger_runs_in_another_process_without_the_model_file(tmp_path, precision):
    import json
    import pickle
    import subprocess
    import sys

    from tests.helpers import ROOT, tiny_model

    path = tiny_model(intent=True, lexicon=True).save(tmp_path / "model.pt")
    tagger = bf16_or_skip(path) if precision == "bf16" else SlotTagger.load(path)
    expected = tagger.predict(["i want to leave taipei and arrive in boston"])
    blob = tmp_path / "tagger.pickle"
    blob.write_bytes(pickle.dumps(tagger))
    path.unlink()  # a worker on another machine has the pickle, not the file
    assert pickle.loads(blob.read_bytes()).predict(["i want to leave taipei and arrive in boston"]) == expected
    proc = subprocess.run(
        [sys.executable, "-c", UNPICKLE, str(blob), "torch"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == expected


@pytest.mark.parametrize("text", ["👍", "?", "..."])
def test_a_message_of_only_punctuation_or_emoji_still_gets_an_intent_and_no_slot(tmp_path, text):
    """A chat's "👍": Rasa's own NLU classifies every non-empty message; its tokens are read, never tagged."""
    from tests.helpers import tiny_model

    tagger = SlotTagger.load(tiny_model(intent=True).save(tmp_path / "model.pt"))
    (res,) = tagger.predict([text], nbest=3)
    assert res["intent"] is not None and res["intent_ranking"] and set(res["tags"]) == {"O"}
    assert [(a["tags"], a["probability"]) for a in res["nbest"]] == [(res["tags"], 1.0)]


def test_pre_tokenised_sentences_hide_unseen_punctuation_as_raw_text_does(tmp_path):
    """evaluate tags gold tokens with predict_tokens: it fed the model a '?' that predict hides, so its
    scores on data with punctuation were another tagger's than the one predict and serve answer with."""
    from tests.helpers import tiny_model

    tagger = SlotTagger.load(tiny_model(intent=True).save(tmp_path / "model.pt"))
    fed = []
    tag = tagger._tag
    tagger._tag = lambda pieces, batch_size: fed.extend(pieces) or tag(pieces, batch_size)
    tokens = ["flights", "to", "new", "york", "?", "boston", ","]
    assert "?" not in tagger.vocabs.words and "," not in tagger.vocabs.words
    given = tagger.predict_tokens([tokens])[0]
    assert fed == [["flights", "to", "new", "york", "boston"]]
    said = tagger.predict(["flights to new york ? boston ,"])[0]
    assert given["tags"] == said["tags"] and given["intent"] == said["intent"] and given["tags"][-1] == "O"
    fed.clear()
    assert tagger.predict_tokens([["?"]])[0]["tags"] == ["O"] and fed == [["?"]]  # read for its intent only
