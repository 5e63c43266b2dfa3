from hypothesis import given
from hypothesis import strategies as st

from slotfill.spans import bio_spans, repair_bio
from slotfill.tokenize import tokenize


def texts(s):
    return [t.text for t in tokenize(s)]


def test_atis_style_tokens():
    assert texts("I'd like a flight at 5 o'clock, please!") == [
        "i'd",
        "like",
        "a",
        "flight",
        "at",
        "5",
        "o'clock",
        ",",
        "please",
        "!",
    ]
    assert texts("St. Louis to San Francisco?") == ["st.", "louis", "to", "san", "francisco", "?"]
    assert texts("top-rated R&B at 10:30") == ["top-rated", "r&b", "at", "10:30"]
    assert texts("what’s up") == ["what's", "up"]


def test_unicode_and_emoji():
    toks = tokenize("fly to Zürich ✈️ now 😀")
    assert [t.text for t in toks][:3] == ["fly", "to", "zürich"]
    assert all(not t.text.isspace() for t in toks)


@given(st.text(max_size=80))
def test_offsets_point_into_original(text):
    for tok in tokenize(text):
        original = text[tok.start : tok.end]
        assert original.lower().replace("’", "'") == tok.text
        assert not original.isspace() and original


def test_repair_and_spans():
    assert repair_bio(["O", "I-a", "I-a", "B-b", "I-a"]) == ["O", "B-a", "I-a", "B-b", "B-a"]
    assert bio_spans(["B-a", "I-a", "O", "B-b", "B-b", "I-b"]) == [("a", 0, 2), ("b", 3, 4), ("b", 4, 6)]
    assert bio_spans([]) == []
