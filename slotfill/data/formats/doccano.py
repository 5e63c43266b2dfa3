"""``doccano``: doccano's sequence-labelling export, JSONL with ``{"text": ..., "label": [[start, end, type], ...]}``.

An optional ``intent`` (string or list) or ``cats`` (list) field gives the intent.
"""

from __future__ import annotations

import json
from pathlib import Path

from slotfill.data.formats.base import Record, align_spans, intent_of, text_and_spans
from slotfill.data.formats.jsonl import _first_object, objects
from slotfill.errors import DataError

NAME = "doccano"
SUFFIX = ".jsonl"


def read(path: Path) -> list[Record]:
    records = []
    for n, obj in objects(path):
        where = (path, n)
        text, labels = obj.get("text"), obj.get("label", [])
        if not isinstance(text, str):
            raise DataError(path, n, "expected a 'text' string")
        if not isinstance(labels, list) or not all(isinstance(x, list) and len(x) == 3 for x in labels):
            raise DataError(path, n, "'label' must be a list of [start, end, type]")
        tokens, tags = align_spans(text, [tuple(x) for x in labels], where)
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
    return first is not None and "text" in first and "label" in first and "spans" not in first
