"""Read slot-filling benchmarks into ``datasets.DatasetDict``, validating every line.

Two sources share one interface (:func:`load_benchmark`):

* ``folder``: ``<root>/{train,valid,test}/{seq.in,seq.out,label}``, the format of the ATIS
  and SNIPS copies used by most published results (one sentence a line, space-separated
  tokens, one BIO tag per token, one intent a line).
* ``hub``: a Hugging Face dataset (or local CSV files) with columns ``id, intent, text, slots``,
  the shape of the public ATIS copy on the hub. It has no validation split, so one is carved
  deterministically out of train.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from .errors import DataError
from .vocab import normalize_intent

SPLITS = ("train", "valid", "test")
TAG_RE = re.compile(r"^(O|[BI]-\S+)$")
DEFAULT_DATA_DIR = "../shared/data"
DATA_DIR_ENV = "SLOTFILL_DATA_DIR"
BOM = b"\xef\xbb\xbf"


def features():
    """The typed schema of every split: tags and intents stay strings so unseen labels survive."""
    from datasets import Features, List, Value

    return Features({"tokens": List(Value("string")), "tags": List(Value("string")), "intent": Value("string")})


def data_dir() -> Path:
    """Where benchmarks live: ``$SLOTFILL_DATA_DIR`` or ``../shared/data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def resolve_path(name: str, source: str, path: str | Path | None) -> Path | None:
    """The folder a data set is read from: ``path`` if set, else ``data_dir()/name`` for folder data."""
    if path is not None:
        return Path(path)
    return data_dir() / name if source == "folder" else None


def read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file; a bad byte is reported with its line number."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except OSError as e:
        raise DataError(path, None, f"cannot read file: {e.strerror}") from None
    return decode_lines(raw, path)


def decode_line(line: bytes, name: str | Path, n: int) -> str:
    """Line ``n`` (from 1, without its newline) as text; a UTF-8 BOM starting line 1 is dropped."""
    if n == 1 and line.startswith(BOM):
        # editors on Windows start UTF-8 files with a BOM; kept, it would join the first word
        line = line[len(BOM) :]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(name, n, f"not valid UTF-8 (byte {line[e.start]:#04x} at column {e.start + 1})") from None
    return text.rstrip("\r")


def decode_lines(raw: bytes, name: str | Path) -> list[str]:
    """Split bytes into UTF-8 lines (a final newline ends the last line, it starts no new one)."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [decode_line(line, name, n) for n, line in enumerate(lines, 1)]


def validate_example(tokens: list[str], tags: list[str], where: tuple[Path, int], tag_file: Path) -> None:
    """Check one sentence: non-empty, one tag per token, tags in BIO form."""
    path, n = where
    if not tokens:
        raise DataError(path, n, "empty sentence")
    if len(tokens) != len(tags):
        raise DataError(tag_file, n, f"{len(tags)} tags for {len(tokens)} tokens")
    for i, tag in enumerate(tags, 1):
        if not TAG_RE.match(tag):
            raise DataError(tag_file, n, f"tag {i} {tag!r} is not in BIO form (B-x, I-x or O)")


def read_split(split_dir: str | Path) -> dict[str, list]:
    """Read one split folder into columns ``tokens``, ``tags``, ``intent`` (intent '' if no label file)."""
    split_dir = Path(split_dir)
    seq_in, seq_out, label = split_dir / "seq.in", split_dir / "seq.out", split_dir / "label"
    sentences = read_lines(seq_in)
    tag_lines = read_lines(seq_out)
    intents = read_lines(label) if label.exists() else None
    if len(tag_lines) != len(sentences):
        raise DataError(seq_out, None, f"{len(tag_lines)} lines, but {seq_in} has {len(sentences)}")
    if intents is not None and len(intents) != len(sentences):
        raise DataError(label, None, f"{len(intents)} lines, but {seq_in} has {len(sentences)}")
    cols: dict[str, list] = {"tokens": [], "tags": [], "intent": []}
    for n, (sentence, tag_line) in enumerate(zip(sentences, tag_lines), 1):
        tokens, tags = sentence.split(), tag_line.split()
        validate_example(tokens, tags, (seq_in, n), seq_out)
        intent = ""
        if intents is not None:
            intent = intents[n - 1].strip()
            if not intent or len(intent.split()) != 1:
                raise DataError(label, n, "expected one intent label" if intent else "empty intent label")
            intent = normalize_intent(intent)
        cols["tokens"].append(tokens)
        cols["tags"].append(tags)
        cols["intent"].append(intent)
    if not cols["tokens"]:
        raise DataError(seq_in, None, "no sentences")
    return cols


def data_folder(root: str | Path) -> Path:
    """``root`` as a Path, or a one-line error saying where slotfill looked and what to set."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            root,
            None,
            f"no dataset folder here (looked at {root.resolve()}); set data.path=... or "
            f"${DATA_DIR_ENV} to the folder that holds atis/ and snips/",
        )
    return root


def load_folder(root: str | Path, splits: Sequence[str] = SPLITS):
    """Read ``<root>/<split>/{seq.in,seq.out,label}`` for each split into a DatasetDict."""
    from datasets import Dataset, DatasetDict

    root = data_folder(root)
    out = {}
    for split in splits:
        if not (root / split).is_dir():
            raise DataError(root / split, None, f"missing split folder {split!r}")
        out[split] = Dataset.from_dict(read_split(root / split), features=features())
    return DatasetDict(out)


def _hub_rows_to_columns(rows, name: str) -> dict[str, list]:
    cols: dict[str, list] = {"tokens": [], "tags": [], "intent": []}
    for n, row in enumerate(rows, 1):
        tokens, tags = (row.get("text") or "").split(), (row.get("slots") or "").split()
        # +1: CSV line numbers count the header
        validate_example(tokens, tags, (Path(name), n + 1), Path(name))
        cols["tokens"].append(tokens)
        cols["tags"].append(tags)
        cols["intent"].append(normalize_intent(row.get("intent") or ""))
    return cols


def load_hub(
    name: str = "tuetschek/atis",
    data_files: dict[str, str] | None = None,
    valid_size: int = 500,
    seed: int = 0,
):
    """Load an ATIS-shaped CSV dataset (``id, intent, text, slots``) from the hub or local files.

    ``data_files`` (split -> CSV path) loads local files through the ``csv`` builder, which is
    also how the hub copy is stored. Multi-intents joined by ``+`` become ``#``-joined as in the
    folder format. Without a ``validation``/``valid`` split, the last ``valid_size`` sentences of
    a seeded shuffle of train become ``valid``.
    """
    import datasets as hf

    try:
        if data_files:
            raw = hf.load_dataset("csv", data_files=dict(data_files))
        else:
            raw = hf.load_dataset(name)
    except FileNotFoundError as e:
        raise DataError(name if not data_files else next(iter(data_files.values())), None, str(e)) from None
    except Exception as e:  # the hub client raises many types when offline or the name is wrong
        raise DataError(name, None, f"cannot load from the Hugging Face hub: {e}") from None
    splits = {}
    for split, ds in raw.items():
        missing = {"text", "slots", "intent"} - set(ds.column_names)
        if missing:
            raise DataError(name, None, f"split {split!r} lacks columns {sorted(missing)}")
        label = (data_files or {}).get(split, f"{name}[{split}]")
        target = {"validation": "valid", "dev": "valid"}.get(split, split)
        splits[target] = hf.Dataset.from_dict(_hub_rows_to_columns(ds, label), features=features())
    if "train" not in splits:
        raise DataError(name, None, "no train split")
    if "valid" not in splits:
        parts = splits["train"].train_test_split(test_size=valid_size, seed=seed, shuffle=True)
        splits["train"], splits["valid"] = parts["train"], parts["test"]
    return hf.DatasetDict(splits)


def load_split(data: dict, split: str, split_dir: str | Path | None = None) -> tuple[dict[str, list], str]:
    """Columns of one labelled split and its display name: ``split_dir``, or ``split`` of a data config."""
    if split_dir:
        return read_split(split_dir), str(split_dir)
    name, source = data.get("name", "data"), data.get("source", "folder")
    path = resolve_path(name, source, data.get("path"))
    if source == "folder":
        return read_split(data_folder(path) / split), f"{name}/{split}"
    ds = load_benchmark(source, path, **(data.get("hub") or {}))
    if split not in ds:
        raise DataError(name, None, f"no split {split!r} (has {', '.join(sorted(ds))})")
    return ds[split].to_dict(), f"{name}/{split}"


def load_benchmark(source: str = "folder", path: str | Path | None = None, **kwargs):
    """Load a benchmark by source (``folder`` or ``hub``) into a DatasetDict with train/valid/test."""
    if source == "folder":
        if path is None:
            raise DataError("<config>", None, "data.path is not set")
        return load_folder(path)
    if source == "hub":
        return load_hub(**kwargs)
    raise DataError("<config>", None, f"unknown data source {source!r} (expected 'folder' or 'hub')")
