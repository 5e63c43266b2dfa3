"""tokenize.py: ATIS-style tokens with offsets, and the one text normalisation."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotfill.core.tokenize import normalize, tokenize


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
        assert normalize(original) == tok.text
        assert not original.isspace() and original


def test_normalize_is_nfc_lowercase_and_plain_apostrophes():
    assert normalize("Caf\u0065\u0301") == normalize("CAF\u00c9") == "caf\u00e9"
    assert normalize("What’s") == "what's"
    assert normalize("Boston") == "boston"
    assert normalize("İstanbul") == normalize("ISTANBUL") == "istanbul"  # not "i" and a combining dot


def test_a_dotted_capital_i_matches_the_lexicon_as_typed_any_case():
    from slotfill.core.lexicon import Lexicon

    lex = Lexicon({"city": ["istanbul", "i\u0307zmir"]})  # the shipped lists hold dotted forms too
    for typed in ("İstanbul", "istanbul", "ISTANBUL"):
        assert lex.lists("city", [normalize(typed)]), typed
    assert lex.lists("city", [normalize("İzmir")]) and lex.lists("city", [normalize("izmir")])


def test_combining_marks_and_variation_selectors_stay_in_their_word():
    text = "cafe\u0301 to दिल्ली ✈️ now"
    toks = tokenize(text)
    assert [t.text for t in toks] == ["café", "to", "दिल्ली", "✈️", "now"]
    assert [text[t.start : t.end] for t in toks][:1] == ["cafe\u0301"]  # offsets into the text as typed
    assert texts("naïve-ish St. Louis") == ["naïve-ish", "st.", "louis"]


def test_decomposed_text_finds_the_training_word():
    from slotfill.core.vocab import Vocabularies
    from slotfill.models.encoding import encode_tokens

    training = [[normalize(w) for w in ["café", "दिल्ली"]]]
    vocabs = Vocabularies.from_training_data(training, [["O", "O"]], ["x"])
    ids = encode_tokens([t.text for t in tokenize("CAFE\u0301 दिल्ली")], vocabs)["words"].tolist()
    assert ids == [vocabs.words.stoi["café"], vocabs.words.stoi["दिल्ली"]]


def test_invisible_characters_stay_inside_their_word_as_in_whitespace_split_data():
    """NUL, zero-width space and soft hyphen do not split a word at predict time; the word is looked up without them."""
    for mark in ("\x00", "\u200b", "\u00ad", "\u2060"):
        text = f"fly to bos{mark}ton"
        tokens = tokenize(text)
        assert [t.text for t in tokens] == ["fly", "to", "boston"], repr(mark)
        assert text[tokens[2].start : tokens[2].end] == f"bos{mark}ton"
        assert normalize(f"bos{mark}ton") == "boston"  # what training data's token becomes


def test_invisible_characters_at_a_tokens_edges_stay_outside_its_offsets():
    text = "flights from \u200bboston\u200d to \ufeffdenver"
    toks = tokenize(text)
    assert [t.text for t in toks] == ["flights", "from", "boston", "to", "denver"]
    assert [text[t.start : t.end] for t in toks][2:] == ["boston", "to", "denver"]  # what a span's text shows
    assert tokenize("bos\u200bton")[0].text == "boston"  # inside a word: kept in its span, dropped from its form
    assert tokenize("\u200b \u200b") == []  # nothing visible, nothing to tag


def test_a_number_with_thousands_separators_is_one_token_looked_up_as_written_in_atis():
    """ATIS writes "1000": split at its comma, "1,000 dollars" read as two slots ("1", "000 dollars")."""
    toks = tokenize("fares under 1,000 dollars, or 12,500.75")
    assert [(t.text, t.start, t.end) for t in toks][2:] == [
        ("1000", 12, 17),
        ("dollars", 18, 25),
        (",", 25, 26),
        ("or", 27, 29),
        ("12500.75", 30, 39),
    ]
    assert [t.text for t in tokenize("1,2,3 and 1,0000")] == ["1", ",", "2", ",", "3", "and", "1", ",", "0000"]
    # three digits and one group read as a list ("flights 101,102"), as before; two groups are a number
    assert [t.text for t in tokenize("101,102 or 123,456,789")] == ["101", ",", "102", "or", "123456789"]
    assert normalize("1,000") == "1000" == normalize("1,000\u200b") and normalize("a,b") == "a,b"


def test_an_invisible_character_before_st_or_a_grouped_number_changes_nothing():
    """A leading BOM, zero-width space or word joiner made "st." two tokens and "1,000" three: tags changed."""
    plain = "fares from st. louis to boston under 1,000 dollars"
    for mark in ("\ufeff", "\u200b", "\u2060"):
        text = f"{mark}fares from {mark}st. louis to boston under {mark}1,000 dollars"
        toks = tokenize(text)
        assert [t.text for t in toks] == texts(plain), repr(mark)
        assert [text[t.start : t.end] for t in toks] == [plain[t.start : t.end] for t in tokenize(plain)]
    assert texts("\u200b/0 0/\u200b") == texts("/0 0/") == ["/", "0", "0", "/"]  # a joiner joins letters, not marks


_INVISIBLE = st.sampled_from(["\u200b", "\ufeff", "\u2060", "\u200d", "\u00ad", "\x00"])
_PIECES = st.sampled_from(
    ["st.", "St.", "1,000", "12,500.75", "101,102", "boston", "i'd", "0/", "/0", "é", "\u0301", "_", ".", ","]
)


@pytest.mark.slow
@given(st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=8).map(" ".join), st.data())
def test_invisible_characters_at_a_tokens_edges_change_no_token(plain, data):
    """Each token's form, and the text its offsets show, is the same with invisible characters at its edges."""
    tokens = tokenize(plain)
    text, at = "", 0
    for tok in tokens:
        before, after = data.draw(st.tuples(st.one_of(st.just(""), _INVISIBLE), st.one_of(st.just(""), _INVISIBLE)))
        text += plain[at : tok.start] + before + plain[tok.start : tok.end] + after
        at = tok.end
    text += plain[at:]
    assert [t.text for t in tokenize(text)] == [t.text for t in tokens]
    assert [text[t.start : t.end] for t in tokenize(text)] == [plain[t.start : t.end] for t in tokens]
