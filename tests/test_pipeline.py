"""inference/pipeline.py: what every tagger shares after the network (here: dropping unsure spans)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotfill.core.spans import bio_spans
from slotfill.errors import ConfigError
from slotfill.inference.pipeline import check_confidence, drop_unsure


@st.composite
def results(draw):
    tags = draw(st.lists(st.sampled_from(["O", "B-a", "I-a", "B-b"]), min_size=1, max_size=12))
    spans = [
        {"slot": slot, "text": "x", "token_start": s, "token_end": e, "confidence": draw(st.floats(0, 1))}
        for slot, s, e in bio_spans(tags)
    ]
    return {"tokens": ["x"] * len(tags), "tags": tags, "spans": spans}


@given(results(), st.floats(0, 1))
def test_spans_under_the_threshold_are_dropped_and_listed(result, threshold):
    out = drop_unsure(result, threshold)
    assert all(s["confidence"] >= threshold for s in out["spans"])
    assert all(s["confidence"] < threshold for s in out["dropped"])
    assert len(out["spans"]) + len(out["dropped"]) == len(result["spans"])
    for s in out["dropped"]:
        assert out["tags"][s["token_start"] : s["token_end"]] == ["O"] * (s["token_end"] - s["token_start"])
    assert [(x, s, e) for x, s, e in bio_spans(out["tags"])] == [
        (s["slot"], s["token_start"], s["token_end"]) for s in out["spans"]
    ]
    assert result["tags"] is not out["tags"]  # the input is left as it was


@pytest.mark.parametrize("bad", [-0.1, 1.01, "0.5", None, True, float("nan")])
def test_a_threshold_outside_0_to_1_is_one_line(bad):
    with pytest.raises(ConfigError, match="min_confidence="):
        check_confidence(bad)


def test_hidden_punctuation_inside_a_span_joins_it():
    from slotfill.inference.pipeline import _bridge

    tags = ["O", "B-city", "O", "I-city", "O", "O", "B-day"]  # "to san , francisco , on monday": 2 and 4 hidden
    _bridge(tags, [0, 1, 3, 5, 6])
    assert tags == ["O", "B-city", "I-city", "I-city", "O", "O", "B-day"]
    other = ["B-city", "O", "I-state"]  # another type after it: not joined
    _bridge(other, [0, 2])
    assert other == ["B-city", "O", "I-state"]


def test_the_api_reads_a_generator_takes_threads_auto_and_caps_nbest(tiny_model_file):
    from slotfill import SlotTagger
    from slotfill.core.limits import MAX_NBEST

    tagger = SlotTagger.load(tiny_model_file, threads="auto")
    assert len(tagger.predict(t for t in ["to boston", "from taipei"])) == 2
    assert len(tagger.predict_tokens(s for s in [["to", "boston"]])) == 1
    with pytest.raises(ConfigError, match=f"nbest={MAX_NBEST + 1}"):
        tagger.predict(["to boston"], nbest=MAX_NBEST + 1)
    with pytest.raises(ConfigError, match="threads='many'"):
        SlotTagger.load(tiny_model_file, threads="many")


def test_the_api_reads_each_sentence_once_and_names_what_it_cannot_read(tiny_model_file):
    import numpy as np

    from slotfill import SlotTagger

    tagger = SlotTagger.load(tiny_model_file)
    (r,) = tagger.predict_tokens([iter(["to", "boston"])])  # an iterator per sentence: read once, tagged
    assert r["tokens"] == ["to", "boston"] and len(r["tags"]) == 2
    for bad, said in ((b"to boston", "texts: bytes"), (None, "texts: NoneType"), (5, "texts: int"), ({"a": 1}, "dict")):
        with pytest.raises(TypeError, match=said):
            tagger.predict(bad)
    with pytest.raises(TypeError, match="sentence 1: predict_tokens takes lists of str tokens"):
        tagger.predict_tokens([b"to"])
    # pandas and Spark hand out numpy numbers
    assert tagger.predict(["to boston"], batch_size=np.int64(8), nbest=np.int64(2), min_confidence=np.float32(0.1))
    with pytest.raises(ConfigError, match="an ONNX graph; load it with slotfill.load_tagger"):
        SlotTagger.load(tiny_model_file.with_suffix(".onnx"))


@pytest.mark.parametrize(
    "sentence, said",
    [
        (["bo\ud800ston"], r"sentence 2, token 1: holds a lone surrogate \(U\+D800\)"),
        ([""], "sentence 2, token 1: '' is not a token"),
        (["to", " ", "boston"], "sentence 2, token 2: ' ' is not a token"),
        (["new york"], "sentence 2, token 1: 'new york' is not a token"),
        (["b" * 20_000] * 10, "sentence 2: 200,009 characters, over the limit"),
    ],
)
def test_pre_tokenised_sentences_are_held_to_what_predict_takes(tiny_model_file, sentence, said):
    """A token predict's tokenizer would never make, or a sentence predict would refuse as text, is a
    one-line error: tagged, a lone surrogate failed only when the result was written as JSON."""
    from slotfill import SlotTagger
    from slotfill.errors import SlotfillError

    tagger = SlotTagger.load(tiny_model_file)
    with pytest.raises(SlotfillError, match=said):
        tagger.predict_tokens([["to", "boston"], sentence])  # the second is named
    assert tagger.predict_tokens([[], ["to", "boston"]])[1]["tokens"] == ["to", "boston"]
