"""``hub``: the shape of the public ATIS copy on the Hugging Face hub, CSV with ``id, intent, text, slots``.

``slots`` is a space-separated tag string aligned with ``text.split()``; multi-intents are
joined with ``+`` (``#`` inside slotfill). :func:`load` reads a hub data set (or local files)
through ``datasets``; :func:`read` a local CSV file directly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from slotfill.data.formats.base import Record, intent_of, read_text
from slotfill.data.formats.schemes import from_bio
from slotfill.errors import DataError, first_line

NAME = "hub"
SUFFIX = ".csv"
# column names other hub copies use for the same three fields (the first present is taken)
COLUMNS = {
    "text": ("text", "utterance", "sentence", "input", "tokens", "words"),
    "slots": ("slots", "slot_labels", "tags", "output", "labels", "ner_tags"),
    "intent": ("intent", "intents", "label", "intent_label"),
}


def _column(names: Iterable[str], field: str, where: str) -> str | None:
    """The column holding ``field``; None for a missing intent column (intents are optional)."""
    names = list(names)
    for c in COLUMNS[field]:
        if c in names:
            return c
    if field == "intent":
        return None
    raise DataError(where, None, f"no {field} column (looked for {', '.join(COLUMNS[field])}; has {', '.join(names)})")


def _words(value: object, where: tuple[str, int]) -> list[str]:
    if isinstance(value, (list, tuple)):  # a datasets column of tokens: each one word, as jsonl's
        words = [str(v) for v in value]
        bad = next((w for w in words if not w or any(c.isspace() for c in w)), None)
        if bad is not None:
            raise DataError(where[0], where[1], f"item {bad!r} is empty or contains whitespace")
        return words
    return str(value or "").split()


def rows_to_records(rows: Iterable[dict], columns: list[str], where: str, first_row: int = 2) -> list[Record]:
    """Records from row dicts; line numbers count a header line (``first_row`` is the first row's)."""
    text, slots, intent = (_column(columns, f, where) for f in ("text", "slots", "intent"))
    return [
        Record(
            _words(row.get(text), (where, n)),
            _words(row.get(slots), (where, n)),
            # a class label 0 is an intent: only a missing one is none
            intent_of(None if row.get(intent) in (None, "") else str(row.get(intent)), (where, n)) if intent else "",
            where,
            n,
        )
        for n, row in enumerate(rows, first_row)
    ]


def read(path: Path) -> list[Record]:
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    rows, lines = [], []
    try:
        for row in reader:
            if None in row or None in row.values():  # DictReader's rest key and rest value
                fields = len(reader.fieldnames or []) + len(row.get(None) or []) - list(row.values()).count(None)
                raise DataError(
                    path, reader.line_num, f"{fields} fields, but the header has {len(reader.fieldnames or [])}"
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as e:
        raise DataError(path, reader.line_num, f"not valid CSV ({e})") from None
    if reader.fieldnames is None:
        raise DataError(path, None, "empty file (expected a header id,intent,text,slots)")
    records = rows_to_records(rows, list(reader.fieldnames), str(path))
    for r, n in zip(records, lines):
        r.line = n
    return records


def dumps(records: list[Record], scheme: str = "bio") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "intent", "text", "slots"])
    for i, r in enumerate(records):
        w.writerow([i, r.intent.replace("#", "+"), " ".join(r.tokens), " ".join(from_bio(r.tags, scheme))])
    return buf.getvalue()


def sniff(lines: list[str]) -> bool:
    if not lines:
        return False
    header = [c.strip() for c in lines[0].split(",")]
    return any(c in header for c in COLUMNS["text"]) and any(c in header for c in COLUMNS["slots"])


def load(name: str | None, data_files: dict[str, str] | None = None) -> dict[str, list[Record]]:
    """Every split of a hub data set (or of local ``data_files``, split -> file) as records.

    ``validation``/``dev`` become ``valid``. Rows are numbered from 2 (the CSV header is line 1).
    """
    import datasets as hf

    label = name if not data_files else next(iter(data_files.values()))
    try:
        if data_files:
            raw = hf.load_dataset("csv", data_files=dict(data_files))
        else:
            raw = hf.load_dataset(name)
    except FileNotFoundError as e:
        raise DataError(label, None, first_line(e) if str(e).strip() else "not found") from None
    except Exception as e:  # the hub client raises many types when offline or the name is wrong
        raise DataError(label, None, f"cannot load from the Hugging Face hub: {first_line(e)}") from None
    out = {}
    for split, ds in raw.items():
        where = (data_files or {}).get(split, f"{name}[{split}]")
        target = {"validation": "valid", "dev": "valid"}.get(split, split)
        out[target] = rows_to_records(_label_names(ds), ds.column_names, where)
    return out


def _label_names(ds) -> Iterable[dict]:
    """Rows with ``ClassLabel`` ids (an intent, or a list of tags) replaced by their names."""
    import datasets as hf

    decode = {}
    for col, feat in ds.features.items():
        if isinstance(feat, hf.ClassLabel):
            decode[col] = feat.int2str
        elif isinstance(getattr(feat, "feature", None), hf.ClassLabel):
            decode[col] = lambda ids, f=feat.feature: [f.int2str(i) for i in ids]
    for row in ds:
        yield {c: decode[c](v) if c in decode else v for c, v in row.items()}
