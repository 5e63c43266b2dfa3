"""BIO tags: their parts, their repair, and the slot spans they mark (the one place that parses them)."""

from __future__ import annotations

from collections.abc import Sequence


def split_tag(tag: str) -> tuple[str, str]:
    """``("B", "toloc.city_name")`` from ``B-toloc.city_name``; ``("O", "")`` for ``O``.

    The prefix is one letter of any scheme (B, I, E, S, L, U); the slot is everything after the first ``-``.
    """
    if tag == "O" or len(tag) < 3 or tag[1] != "-":
        return "O", ""
    return tag[0], tag[2:]


def slot_of(tag: str) -> str:
    """The slot a tag belongs to (``toloc.city_name``), ``""`` for ``O``."""
    return split_tag(tag)[1]


def is_begin(tag: str) -> bool:
    return split_tag(tag)[0] == "B"


def is_inside(tag: str) -> bool:
    return split_tag(tag)[0] == "I"


def repair_bio(tags: Sequence[str]) -> list[str]:
    """Make a tag sequence well-formed: an ``I-x`` that follows neither ``B-x`` nor ``I-x`` becomes ``B-x``.

    This is how conlleval reads such a tag (it starts a new chunk), so repairing never changes
    the default-mode score. slotfill's decoders cannot produce ill-formed tags; this guards
    tags that come from elsewhere.
    """
    out = []
    prev = "O"
    for t in tags:
        if is_inside(t) and slot_of(prev) != slot_of(t):
            t = "B-" + slot_of(t)
        out.append(t)
        prev = t
    return out


def bio_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(slot, first_token, end_token_exclusive)`` for each chunk of a BIO sequence, read as
    :func:`repair_bio` repairs it (an ``I-x`` that does not continue an ``x`` chunk starts one)."""
    spans = []
    start, label = 0, None
    for i, t in enumerate(tags):
        prefix, slot = split_tag(t)
        if prefix == "I" and slot == label:
            continue
        if label is not None:
            spans.append((label, start, i))
        start, label = (i, slot) if t != "O" else (0, None)
    if label is not None:
        spans.append((label, start, len(tags)))
    return spans
