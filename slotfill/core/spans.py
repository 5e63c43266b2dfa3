"""Slot spans from BIO tags."""

from __future__ import annotations

from collections.abc import Sequence


def repair_bio(tags: Sequence[str]) -> list[str]:
    """Make a tag sequence well-formed: an ``I-x`` that follows neither ``B-x`` nor ``I-x`` becomes ``B-x``.

    This is how conlleval reads such a tag (it starts a new chunk), so repairing never changes
    the default-mode score. slotfill's decoders cannot produce ill-formed tags; this guards
    tags that come from elsewhere.
    """
    out = []
    prev = "O"
    for t in tags:
        if t.startswith("I-") and (prev == "O" or prev[2:] != t[2:]):
            t = "B-" + t[2:]
        out.append(t)
        prev = t
    return out


def bio_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(slot, first_token, end_token_exclusive)`` for each chunk of a (repaired) BIO sequence."""
    spans = []
    start, label = None, None
    for i, t in enumerate([*repair_bio(tags), "O"]):
        if t == "O" or t.startswith("B-"):
            if label is not None:
                spans.append((label, start, i))
            start, label = (i, t[2:]) if t != "O" else (None, None)
    return spans
