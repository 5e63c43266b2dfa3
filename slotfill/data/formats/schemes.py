"""Tagging schemes: read BIO, IOB1 and BIOES/BILOU into BIO (what slotfill stores), write any of them back.

* ``bio`` (IOB2): every chunk starts with ``B-``;
* ``iob1``: chunks start with ``I-``; ``B-`` only where a chunk directly follows one of the same type;
* ``bioes`` / ``bilou``: ``S-``/``U-`` single-token chunks, ``E-``/``L-`` chunk ends.

``auto`` looks at a file's tags: any ``E-/S-/L-/U-`` means BIOES; ``I-`` starting chunks and no
``B-`` that starts one after ``O`` or another type means IOB1; otherwise BIO (an ``I-x`` after
``O`` is kept as read and scored the way conlleval reads it, as the start of a chunk).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from slotfill.core.spans import bio_spans, repair_bio, split_tag
from slotfill.data.formats.base import Record
from slotfill.errors import DataError

READ_SCHEMES = ("auto", "bio", "iob1", "bioes", "bilou")  # bilou: bioes by other letters (U-, L-), read alike
WRITE_SCHEMES = ("bio", "iob1", "bioes", "bilou")
TAG_RE = re.compile(r"^(?:O|([BIESLU])-(\S+))$")
_BIOES = {"S", "E", "L", "U"}


def detect(records: Sequence[Record]) -> str:
    """The scheme of a file's tags (see the module docstring)."""
    i_starts = b_starts = False
    for r in records:
        prev = ("O", "")
        for tag in r.tags:
            m = TAG_RE.match(tag)
            if m is None:
                continue
            p, t = split_tag(tag)
            if p in _BIOES:
                return "bioes"
            starts = prev[0] == "O" or prev[1] != t
            if p == "I" and starts:
                i_starts = True
            elif p == "B" and starts:
                b_starts = True
            prev = (p, t)
    return "iob1" if i_starts and not b_starts else "bio"


def _detected_from(records: Sequence[Record]) -> str:
    """Where auto-detection saw BIOES: a stray ``S-``/``E-`` in BIO data makes every chunk look unfinished."""
    for r in records:
        for i, tag in enumerate(r.tags, 1):
            if TAG_RE.match(tag) and split_tag(tag)[0] in _BIOES:
                at = r.error("", tags=True, token=i)
                where = f"{at.path}:{at.line}"
                return f"the scheme was detected as BIOES from {where} {tag!r} (set data.scheme=bio if it is BIO)"
    return "the scheme was detected as BIOES"


def _bioes_to_bio(r: Record) -> list[str]:
    out, open_type = [], None  # open_type: the type of a B-/I- chunk waiting for its E-
    for i, tag in enumerate(r.tags, 1):
        p, t = split_tag(tag)
        p = {"U": "S", "L": "E"}.get(p, p)
        if p in ("I", "E") and open_type != t:
            raise r.error(f"tag {i} {tag!r} does not continue a chunk of type {t!r} (BIOES)", tags=True, token=i)
        if p in ("B", "S", "O") and open_type is not None:
            raise r.error(f"tag {i} {tag!r}: the chunk before it has no end tag (E-/L-) (BIOES)", tags=True, token=i)
        out.append("O" if p == "O" else ("B-" if p in ("B", "S") else "I-") + t)
        open_type = t if p in ("B", "I") else None
    if open_type is not None:
        raise r.error(f"the last chunk ({open_type}) has no end tag (E-/L-) (BIOES)", tags=True, token=len(r.tags))
    return out


def to_bio(records: list[Record], scheme: str = "auto") -> str:
    """Check every tag and convert ``records`` in place to BIO; the scheme that was read."""
    if scheme not in READ_SCHEMES:
        from slotfill.errors import ConfigError

        raise ConfigError(f"data.scheme={scheme}: choose one of {', '.join(READ_SCHEMES)}")
    found = detect(records) if scheme == "auto" else {"bilou": "bioes"}.get(scheme, scheme)
    allowed = "BIESLU" if found == "bioes" else "BI"
    form = "BIOES/BILOU (B-x, I-x, E-x, S-x, L-x, U-x or O)" if found == "bioes" else "BIO form (B-x, I-x or O)"
    for r in records:
        if not r.tokens:
            raise r.error("empty sentence")
        if len(r.tokens) != len(r.tags):
            raise r.error(f"{len(r.tags)} tags for {len(r.tokens)} tokens", tags=True)
        for i, tag in enumerate(r.tags, 1):
            m = TAG_RE.match(tag)
            if m is None or (m.group(1) is not None and m.group(1) not in allowed):
                hint = "" if scheme == "auto" or m is None else f" (data.scheme={scheme}; auto detects the scheme)"
                raise r.error(f"tag {i} {tag!r} is not in {form}{hint}", tags=True, token=i)
        if found == "bioes":
            try:
                r.tags = _bioes_to_bio(r)
            except DataError as e:
                if scheme != "auto":
                    raise
                raise DataError(e.path, e.line, f"{e.problem}; {_detected_from(records)}") from None
        elif found == "iob1":
            r.tags = repair_bio(r.tags)
    return found


def from_bio(tags: Sequence[str], scheme: str = "bio") -> list[str]:
    """BIO tags written in ``scheme`` (``bio`` keeps them as they are)."""
    if scheme == "bio":
        return list(tags)
    if scheme not in WRITE_SCHEMES:
        from slotfill.errors import ConfigError

        raise ConfigError(f"scheme {scheme!r}: choose one of {', '.join(WRITE_SCHEMES)}")
    out = ["O"] * len(tags)
    prev_end, prev_type = -1, None
    for label, s, e in bio_spans(tags):
        if scheme == "iob1":
            first = "B" if (s == prev_end and label == prev_type) else "I"
            out[s:e] = [f"{first}-{label}"] + [f"I-{label}"] * (e - s - 1)
        else:
            single, begin, inside, end = ("S", "B", "I", "E") if scheme == "bioes" else ("U", "B", "I", "L")
            if e - s == 1:
                out[s] = f"{single}-{label}"
            else:
                out[s:e] = [f"{begin}-{label}"] + [f"{inside}-{label}"] * (e - s - 2) + [f"{end}-{label}"]
        prev_end, prev_type = e, label
    return out
