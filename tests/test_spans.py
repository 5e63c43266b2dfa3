"""spans.py: BIO repair and span extraction."""

from hypothesis import given
from hypothesis import strategies as st

from slotfill.core.spans import bio_spans, is_inside, repair_bio, slot_of


def test_repair_and_spans():
    assert repair_bio(["O", "I-a", "I-a", "B-b", "I-a"]) == ["O", "B-a", "I-a", "B-b", "B-a"]
    assert bio_spans(["B-a", "I-a", "O", "B-b", "B-b", "I-b"]) == [("a", 0, 2), ("b", 3, 4), ("b", 4, 6)]
    assert bio_spans([]) == []


@given(st.lists(st.sampled_from(["O", "B-a", "I-a", "B-b", "I-b"]), max_size=12))
def test_spans_cover_every_slot_token_once(tags):
    covered = [i for _, s, e in bio_spans(tags) for i in range(s, e)]
    assert covered == [i for i, t in enumerate(tags) if t != "O"]
    assert repair_bio(repair_bio(tags)) == repair_bio(tags)


def test_a_tag_splits_into_its_prefix_and_slot():
    from slotfill.core.spans import is_begin, is_inside, slot_of, split_tag

    assert split_tag("B-toloc.city_name") == ("B", "toloc.city_name")
    assert split_tag("I-a-b") == ("I", "a-b")  # the slot keeps its own dashes
    assert split_tag("O") == ("O", "") and split_tag("S-x") == ("S", "x")
    assert slot_of("O") == "" and is_begin("B-x") and is_inside("I-x") and not is_inside("B-x")


def _spans_of_repaired(tags):
    """The reference reading: repair first, then a chunk ends wherever an I- tag does not follow."""
    spans, start, label = [], None, None
    for i, t in enumerate([*repair_bio(tags), "O"]):
        if not is_inside(t):
            if label is not None:
                spans.append((label, start, i))
            start, label = (i, slot_of(t)) if t != "O" else (None, None)
    return spans


@given(st.lists(st.sampled_from(["O", "B-a", "I-a", "B-b", "I-b", "E-a", "S-b", "X", "I-"]), max_size=12))
def test_spans_are_those_of_the_repaired_sequence(tags):
    assert bio_spans(tags) == _spans_of_repaired(tags)
