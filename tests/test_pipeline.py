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
