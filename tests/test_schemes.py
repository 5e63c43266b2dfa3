"""formats/schemes.py: BIO, IOB1 and BIOES/BILOU read into BIO and written back."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.data.formats import Record
from slotfill.data.formats.schemes import detect, from_bio, to_bio
from slotfill.errors import DataError
from tests.helpers import examples

BIO = ["B-a", "I-a", "O", "B-b", "B-b", "I-b", "I-b"]


def _rec(tags):
    return Record(["w"] * len(tags), list(tags), "", "f", 1)


def test_writes_each_scheme():
    assert from_bio(BIO, "bioes") == ["B-a", "E-a", "O", "S-b", "B-b", "I-b", "E-b"]
    assert from_bio(BIO, "bilou") == ["B-a", "L-a", "O", "U-b", "B-b", "I-b", "L-b"]
    assert from_bio(BIO, "iob1") == ["I-a", "I-a", "O", "I-b", "B-b", "I-b", "I-b"]
    assert from_bio(BIO, "bio") == BIO


@pytest.mark.parametrize("scheme, found", [("bioes", "bioes"), ("bilou", "bioes"), ("iob1", "iob1"), ("bio", "bio")])
def test_reads_each_scheme_back_to_bio(scheme, found):
    records = [_rec(from_bio(BIO, scheme))]
    assert detect(records) == found
    assert to_bio(records) == found and records[0].tags == BIO
    named = [_rec(from_bio(BIO, scheme))]
    assert to_bio(named, scheme) == found and named[0].tags == BIO


def test_bio_keeps_an_i_tag_that_starts_a_chunk():
    records = [_rec(["O", "I-a", "O", "B-b"])]
    assert to_bio(records) == "bio" and records[0].tags == ["O", "I-a", "O", "B-b"]


@pytest.mark.parametrize(
    "tags, problem",
    [
        (["O", "E-a"], "does not continue a chunk"),
        (["B-a", "O", "S-b"], "has no end tag"),
        (["S-a", "B-b"], "the last chunk (b) has no end tag"),
        (["B-a", "I-b", "E-b"], "does not continue a chunk of type 'b'"),
    ],
)
def test_ill_formed_bioes_is_an_error_with_its_place(tags, problem):
    with pytest.raises(DataError, match=r"^f:1: .*") as err:
        to_bio([_rec(tags)])
    assert problem in str(err.value)


def test_explicit_bio_refuses_bioes_tags_and_says_why():
    with pytest.raises(DataError, match=r"tag 1 'S-a' is not in BIO form .*data.scheme=bio"):
        to_bio([_rec(["S-a"])], "bio")


CHUNKS = st.lists(st.tuples(st.sampled_from([None, "a", "b"]), st.integers(1, 3)), min_size=1, max_size=6)


@settings(max_examples=examples(100), deadline=None)
@given(CHUNKS, st.sampled_from(["bio", "iob1", "bioes", "bilou"]))
def test_every_scheme_round_trips(chunks, scheme):
    tags = []
    for label, n in chunks:
        tags += ["O"] * n if label is None else [f"B-{label}"] + [f"I-{label}"] * (n - 1)
    records = [_rec(from_bio(tags, scheme))]
    to_bio(records, scheme)  # named as it was written: bilou too (--from-scheme bilou, data.scheme=bilou)
    assert records[0].tags == tags


def test_a_stray_bioes_tag_in_bio_data_is_named_where_the_error_points_at_a_good_line():
    records = [Record(["w"] * 4, ["O", "O", "B-city", "I-city"], "", "seq.in", n, "seq.out") for n in (1, 2)]
    records.append(Record(["w"] * 4, ["O", "O", "S-city", "O"], "", "seq.in", 3, "seq.out"))
    with pytest.raises(DataError, match=r"seq.out:1: .*no end tag.*detected as BIOES from seq.out:3 'S-city'"):
        to_bio(records)
    with pytest.raises(DataError, match=r"seq.out:3: tag 3 'S-city' is not in BIO form"):
        to_bio([Record(list(r.tokens), list(r.tags), "", "seq.in", r.line, "seq.out") for r in records], "bio")


def test_a_bad_tag_is_named_at_its_token_line_where_tokens_have_lines():
    """conll: one token a line, so the line of the tag that is wrong, not the first of its sentence."""
    r = Record(["fly", "to", "boston"], ["O", "O", "Q-city"], "", "a.conll", 3, lines=[3, 4, 6])
    with pytest.raises(DataError, match=r"a.conll:6: tag 3 'Q-city' is not in BIO form"):
        to_bio([r])
    r = Record(["to", "new", "york"], ["O", "B-city", "O"], "", "a.conll", 1, lines=[1, 2, 3])
    with pytest.raises(DataError, match=r"a.conll:3: tag 3 'O': the chunk before it has no end tag"):
        to_bio([r], "bioes")
