"""``jsonl``: one JSON object a line, in either of two shapes.

* ``{"tokens": [...], "tags": [...], "intent": "..."}`` (what ``slotfill predict format=jsonl`` writes, too);
* ``{"text": "...", "spans": [{"start": 0, "end": 6, "label": "..."}], "intent": "..."}``: character
  spans, aligned to slotfill's tokenizer (a span off token boundaries is an error).

``intent`` is optional (a string, a list of atomic intents, or null); so is ``spans`` (a sentence
without slots), but a record whose spans are under another key is refused: under ``entities``,
``labels`` or ``label`` a non-empty list of lists or objects of any shape, under any other key a
non-empty list of ``[start, end, label]`` or of objects with whole-number offsets and a label. Other
values (``"entities": []``, ``"label": "greet"``, word timings) are ignored. A first record with
``tokens`` but no ``tags`` and a doccano key (``label``, ``labels``, ``entities``) is doccano's.
"""

from __future__ import annotations

import json
from pathlib import Path

from slotfill.data.formats.base import (
    SPAN_KEYS,
    Record,
    align_spans,
    intent_of,
    parse_json,
    read_lines,
    span_like_keys,
    text_and_spans,
)
from slotfill.data.formats.schemes import from_bio
from slotfill.errors import DataError

NAME = "jsonl"
SUFFIX = ".jsonl"
KEYS = ("tokens", "tags", "text", "spans", "intent")


def objects(path: Path) -> list[tuple[int, dict]]:
    """``(line, object)`` for every non-blank line; a line that is not a JSON object is an error."""
    out = []
    for n, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        obj = parse_json(line, (path, n))
        if not isinstance(obj, dict):
            raise DataError(path, n, f"expected a JSON object, found {type(obj).__name__}")
        out.append((n, obj))
    return out


def _strings(value: object, key: str, where: tuple[Path, int]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(where[0], where[1], f"{key!r} must be a list of strings")
    for v in value:
        if not v or any(c.isspace() for c in v):
            raise DataError(where[0], where[1], f"{key!r} has an item {v!r} that is empty or contains whitespace")
    return value


def record(obj: dict, where: tuple[Path, int]) -> Record:
    """A record from either shape."""
    path, n = where
    intent = intent_of(obj.get("intent"), where)
    if "tokens" in obj:
        if "tags" not in obj:
            raise DataError(path, n, "'tokens' without 'tags'")
        tokens, tags = _strings(obj["tokens"], "tokens", where), _strings(obj["tags"], "tags", where)
        return Record(list(tokens), list(tags), intent, str(path), n)
    if "text" in obj:
        text, spans = obj["text"], obj.get("spans", [])
        other = span_like_keys(obj, KEYS)
        if "spans" not in obj and other:  # read as a sentence without slots, its slots would be lost
            raise DataError(path, n, f"jsonl reads slots from 'spans', this record has {other[0]!r}")
        if not isinstance(text, str):
            raise DataError(path, n, "'text' must be a string")
        if not isinstance(spans, list):
            raise DataError(path, n, "'spans' must be a list")
        triples = []
        for s in spans:
            if not isinstance(s, dict) or not {"start", "end", "label"} <= set(s):
                raise DataError(path, n, f"each span needs 'start', 'end' and 'label': {s!r}")
            triples.append((s["start"], s["end"], s["label"]))
        tokens, tags = align_spans(text, triples, where)
        return Record(tokens, tags, intent, str(path), n)
    raise DataError(path, n, "expected 'tokens' and 'tags', or 'text' and 'spans'")


def read(path: Path) -> list[Record]:
    return [record(obj, (path, n)) for n, obj in objects(path)]


def dumps(records: list[Record], scheme: str = "bio", spans: bool = False) -> str:
    """Tokens and tags (lossless), or with ``spans=True`` text and character spans (always BIO chunks)."""
    lines = []
    for r in records:
        if spans:
            text, triples = text_and_spans(r.tokens, r.tags)
            obj = {"text": text, "spans": [{"start": s, "end": e, "label": lab} for s, e, lab in triples]}
        else:
            obj = {"tokens": r.tokens, "tags": from_bio(r.tags, scheme)}
        obj["intent"] = r.intent or None
        lines.append(json.dumps(obj, ensure_ascii=False) + "\n")
    return "".join(lines)


def sniff(lines: list[str]) -> bool:
    first = _first_object(lines)
    if first is None:
        return False
    # doccano's records may carry their tokens: without tags beside them, spans under its keys are doccano's
    tokens = "tokens" in first and ("tags" in first or not any(k in first for k in SPAN_KEYS))
    return tokens or ("text" in first and "spans" in first)


def _first_object(lines: list[str]) -> dict | None:
    for line in lines:
        if line.strip():
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):  # not JSON, or JSON that the reader will refuse with its line
                return None
            return obj if isinstance(obj, dict) else None
    return None
