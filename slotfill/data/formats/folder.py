"""``folder``: a split folder with ``seq.in`` (tokens), ``seq.out`` (tags) and ``label`` (intent, optional).

Also the variant with the split's name as prefix: ``train/train.seq.in``, ``train.seq.out``, ``train.label``.
A data set is ``<root>/{train,valid,test}/``.
"""

from __future__ import annotations

from pathlib import Path

from slotfill.core.files import write_atomic
from slotfill.core.vocab import normalize_intent
from slotfill.data.formats.base import Record, read_lines
from slotfill.data.formats.schemes import from_bio
from slotfill.errors import DataError

NAME = "folder"
FILE_NAMES = ("seq.in", "seq.out", "label")  # what :func:`write` writes


def files(split_dir: Path) -> tuple[Path, Path, Path] | None:
    """``(seq.in, seq.out, label)`` of a split folder in either naming, or None if it has no ``seq.in``."""
    for prefix in ("", f"{split_dir.name}."):
        seq_in = split_dir / f"{prefix}seq.in"
        if seq_in.is_file():
            return seq_in, split_dir / f"{prefix}seq.out", split_dir / f"{prefix}label"
    return None


def is_split_dir(path: Path) -> bool:
    return path.is_dir() and files(path) is not None


def read(split_dir: Path) -> list[Record]:
    """Records of one split folder; the label file is optional (intent '')."""
    found = files(split_dir)
    if found is None:
        raise DataError(split_dir, None, f"no seq.in (or {split_dir.name}.seq.in) in this folder")
    seq_in, seq_out, label = found
    sentences = read_lines(seq_in)
    tag_lines = read_lines(seq_out)
    intents = read_lines(label) if label.exists() else None
    if len(tag_lines) != len(sentences):
        raise DataError(seq_out, None, f"{len(tag_lines)} lines, but {seq_in} has {len(sentences)}")
    if intents is not None and len(intents) != len(sentences):
        raise DataError(label, None, f"{len(intents)} lines, but {seq_in} has {len(sentences)}")
    records = []
    for n, (sentence, tag_line) in enumerate(zip(sentences, tag_lines), 1):
        intent = ""
        if intents is not None:
            intent = intents[n - 1].strip()
            if not intent or len(intent.split()) != 1:
                raise DataError(label, n, "expected one intent label" if intent else "empty intent label")
            if not normalize_intent(intent):
                raise DataError(label, n, f"intent {intent!r} names no intent")
        records.append(Record(sentence.split(), tag_line.split(), intent, str(seq_in), n, str(seq_out)))
    return records


def write(records: list[Record], split_dir: Path, scheme: str = "bio") -> None:
    """``seq.in``, ``seq.out`` and (when any sentence has an intent) ``label`` in ``split_dir``."""
    split_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(split_dir / "seq.in", "".join(" ".join(r.tokens) + "\n" for r in records))
    write_atomic(split_dir / "seq.out", "".join(" ".join(from_bio(r.tags, scheme)) + "\n" for r in records))
    if any(r.intent for r in records):
        missing = next((r for r in records if not r.intent), None)
        if missing is not None:
            raise missing.error("no intent, but other sentences have one (the label file needs one a line)")
        write_atomic(split_dir / "label", "".join(r.intent + "\n" for r in records))
