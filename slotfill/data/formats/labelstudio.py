"""``labelstudio``: a Label Studio JSON export, a list of tasks.

Each task: ``{"data": {"text": ...}, "annotations": [{"result": [...]}]}``; a result with
``value.{start, end, labels}`` is a slot, one with ``value.choices`` the intent. A task needs
exactly one annotation that was not skipped (``was_cancelled``); a model's ``predictions``
(pre-annotations) are not gold and do not count.
"""

from __future__ import annotations

import json
from pathlib import Path

from slotfill.data.formats.base import Record, align_spans, intent_of, parse_json, read_text, text_and_spans
from slotfill.errors import DataError

NAME = "labelstudio"
SUFFIX = ".json"


def tasks(path: Path) -> list[tuple[int, object]]:
    """``(line, item)`` for each item of the top-level JSON list."""
    text = read_text(path)
    dec = json.JSONDecoder()
    whole = parse_json(text, (path, None))
    if not isinstance(whole, list):
        raise DataError(path, 1, "expected a JSON list of tasks (Label Studio's JSON export)")
    out, i = [], text.index("[") + 1
    line, counted = 1, 0  # the line at offset ``counted``: lines counted on from the last task, not from 0
    for _ in whole:  # find where each item starts, for line numbers
        while text[i] in " \t\r\n,":
            i += 1
        item, end = dec.raw_decode(text, i)
        line += text.count("\n", counted, i)
        counted = i
        out.append((line, item))
        i = end
    return out


def _result(task: dict, where: tuple[Path, int]) -> list:
    given = task.get("annotations") or []
    if not isinstance(given, list) or not all(isinstance(a, dict) for a in given):
        raise DataError(where[0], where[1], "'annotations' must be a list of objects")
    annotations = [a for a in given if not a.get("was_cancelled")]
    if not annotations:
        if given:
            skipped = "annotation was" if len(given) == 1 else f"{len(given)} annotations were all"
            raise DataError(
                where[0], where[1], f"the task's {skipped} skipped: annotate it or leave it out of the export"
            )
        only = " (only predictions)" if task.get("predictions") else ""
        raise DataError(where[0], where[1], f"task has no annotation{only}: annotate it or leave it out of the export")
    if len(annotations) != 1:
        raise DataError(where[0], where[1], f"expected one annotation for the task, found {len(annotations)}")
    result = annotations[0].get("result", [])
    if not isinstance(result, list):
        raise DataError(where[0], where[1], "'result' must be a list")
    return result


def read(path: Path) -> list[Record]:
    records = []
    for n, task in tasks(path):
        where = (path, n)
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise DataError(path, n, "a task needs a 'data' object")
        text = task["data"].get("text")
        if not isinstance(text, str):
            raise DataError(path, n, f"expected data.text, the task has data keys {sorted(task['data'])}")
        spans, intent = [], ""
        for res in _result(task, where):
            value = res.get("value", {}) if isinstance(res, dict) else {}
            if "labels" in value:
                labels = value["labels"]
                if not isinstance(labels, list) or len(labels) != 1:
                    raise DataError(path, n, f"a span needs exactly one label, found {labels!r}")
                spans.append((value.get("start"), value.get("end"), labels[0]))
            elif "choices" in value:
                if intent:
                    raise DataError(path, n, "more than one intent (choices) result")
                intent = intent_of(value["choices"], where)
            else:
                raise DataError(path, n, f"a result with neither labels nor choices: {json.dumps(res)[:80]}")
        tokens, tags = align_spans(text, spans, where)
        records.append(Record(tokens, tags, intent, str(path), n))
    return records


def dumps(records: list[Record], scheme: str = "bio") -> str:
    out = []
    for r in records:
        text, spans = text_and_spans(r.tokens, r.tags)
        result = [
            {
                "value": {"start": s, "end": e, "text": text[s:e], "labels": [label]},
                "from_name": "label",
                "to_name": "text",
                "type": "labels",
            }
            for s, e, label in spans
        ]
        if r.intent:
            result.append(
                {"value": {"choices": [r.intent]}, "from_name": "intent", "to_name": "text", "type": "choices"}
            )
        out.append({"data": {"text": text}, "annotations": [{"result": result}]})
    return "[\n" + ",\n".join(json.dumps(t, ensure_ascii=False) for t in out) + "\n]\n"


def sniff(lines: list[str]) -> bool:
    head = "".join(lines).lstrip()
    return head.startswith("[") and '"data"' in head
