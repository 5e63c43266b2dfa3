"""``doccano``: doccano's sequence-labelling export, JSONL with ``{"text": ..., "label": [[start, end, type], ...]}``.

The spans may be under ``label``, ``labels`` (older doccano) or ``entities`` (relation and
intent-and-slot projects), each a ``[start, end, type]`` list or a ``{"start_offset", "end_offset",
"label"}`` object. A record without any of these keys is a sentence without slots, unless another
key holds what looks like spans (:func:`~slotfill.data.formats.base.span_like`): that is refused,
naming the record's keys. An optional ``intent`` (string or list) or ``cats`` (list) field gives
the intent. A record with ``tokens`` and ``tags``, or with ``spans``, is jsonl's, never taken for doccano.
"""

from __future__ import annotations

import json
from pathlib import Path

from slotfill.data.formats.base import SPAN_KEYS, Record, align_spans, intent_of, span_like_keys, text_and_spans
from slotfill.data.formats.jsonl import _first_object, objects
from slotfill.errors import DataError

NAME = "doccano"
SUFFIX = ".jsonl"
SPAN_FORMS = '[start, end, type] or {"start_offset", "end_offset", "label"}'


def spans(obj: dict, where: tuple[Path, int]) -> list[tuple]:
    """A record's ``(start, end, type)`` spans, from whichever of doccano's keys holds them."""
    path, n = where
    present = [k for k in SPAN_KEYS if k in obj]
    if not present:
        other = span_like_keys(obj, ("text", "intent", "cats"))
        if other:
            keys = ", ".join(repr(k) for k in obj)
            raise DataError(path, n, f"no spans under 'label', 'labels' or 'entities'; the record has keys {keys}")
        return []
    filled = [k for k in present if obj[k]]
    if len(filled) > 1:
        raise DataError(path, n, f"spans under both {filled[0]!r} and {filled[1]!r}: keep one")
    key = (filled or present)[0]
    if not isinstance(obj[key], list):
        raise DataError(path, n, f"{key!r} must be a list of {SPAN_FORMS}")
    out = []
    for x in obj[key]:
        if isinstance(x, list) and len(x) == 3:
            out.append(tuple(x))
        elif isinstance(x, dict) and {"start_offset", "end_offset", "label"} <= set(x):
            out.append((x["start_offset"], x["end_offset"], x["label"]))
        else:
            raise DataError(path, n, f"each item of {key!r} must be {SPAN_FORMS}, found {json.dumps(x)[:80]}")
    return out


def read(path: Path) -> list[Record]:
    records = []
    for n, obj in objects(path):
        where = (path, n)
        text = obj.get("text")
        if not isinstance(text, str):
            raise DataError(path, n, "expected a 'text' string")
        tokens, tags = align_spans(text, spans(obj, where), where)
        intent = intent_of(obj.get("intent", obj.get("cats")), where)
        records.append(Record(tokens, tags, intent, str(path), n))
    return records


def dumps(records: list[Record], scheme: str = "bio") -> str:
    lines = []
    for r in records:
        text, spans = text_and_spans(r.tokens, r.tags)
        obj = {"text": text, "label": [list(s) for s in spans]}
        if r.intent:
            obj["intent"] = r.intent
        lines.append(json.dumps(obj, ensure_ascii=False) + "\n")
    return "".join(lines)


def sniff(lines: list[str]) -> bool:
    first = _first_object(lines)
    if first is None or "text" not in first or "spans" in first or {"tokens", "tags"} <= set(first):  # jsonl's
        return False
    return any(k in first for k in SPAN_KEYS)
