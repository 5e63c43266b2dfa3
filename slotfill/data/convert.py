"""``slotfill convert IN OUT --to FORMAT``: one split (a file or split folder) or a folder of splits."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from slotfill.data.formats import folder as folder_format
from slotfill.data.load import find_splits, formats
from slotfill.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class Written:
    path: Path
    sentences: int
    retokenized: list[formats.Record]  # sentences a text format will read back with other tokens


def _is_dataset(path: Path, fmt: str) -> bool:
    return path.is_dir() and not folder_format.is_split_dir(path) and bool(_splits_of(path, fmt))


def _splits_of(path: Path, fmt: str) -> dict[str, Path]:
    """:func:`find_splits`, its refusal worded for convert (which takes no ``data.valid=``)."""
    return find_splits(path, fmt, ambiguous="convert those files one at a time")


def convert(
    src: str | Path,
    dst: str | Path,
    to: str,
    src_format: str = "auto",
    scheme: str = "bio",
    src_scheme: str = "auto",
    **options,
) -> list[Written]:
    """Read ``src`` (tags into BIO) and write it to ``dst`` in ``to`` with the tagging ``scheme``.

    A folder of splits becomes a folder: ``dst/<split>/`` for ``folder``, else
    ``dst/<split><suffix>`` (``train.conll``, ``valid.conll``, ...).
    """
    src, dst = Path(src), Path(dst)
    if to not in formats.FORMATS or to == "auto":
        raise DataError("--to", None, f"unknown format {to!r} (choose one of {', '.join(formats.FORMATS[1:])})")
    if scheme not in formats.WRITE_SCHEMES:
        raise DataError(
            "--scheme", None, f"unknown scheme {scheme!r} (choose one of {', '.join(formats.WRITE_SCHEMES)})"
        )
    if options.get("spans") and to != "jsonl":
        raise DataError("--spans", None, f"only jsonl has a spans form, not {to} (drop --spans or use --to jsonl)")
    if not src.exists():
        raise DataError(src, None, "not found")
    if _is_dataset(src, src_format):
        if dst.exists() and not dst.is_dir():
            raise DataError(dst, None, "is a file: a folder of splits is written to a folder (name a folder)")
        jobs = [(p, dst / (split + formats.suffix(to))) for split, p in _splits_of(src, src_format).items()]
    else:
        jobs = [(src, dst)]
    for source, target in jobs:
        s, t = source.resolve(), target.resolve()
        if t == s or s in t.parents or t in s.parents:  # replacing one would remove or overwrite the other
            raise DataError(target, None, f"is, holds or lies in the input {source}: name another place for the output")
        _check_replaceable(target, to)
    # every split read (and checked) before any is written, and written beside its place first: only when
    # all are written do they replace what was there, so a refused data set leaves nothing and loses nothing
    read = [(source, target, *formats.read_file(source, src_format, src_scheme)) for source, target in jobs]
    staging = dst.parent / f".{dst.name}.converting"
    _remove(staging)
    try:
        staging.mkdir(parents=True)
    except OSError as e:
        raise DataError(dst, None, f"cannot write there ({e.strerror})") from None
    written: list[Written] = []
    try:
        for source, target, records, extras in read:
            staged = staging / target.relative_to(dst) if target != dst else staging / dst.name
            staged.parent.mkdir(parents=True, exist_ok=True)
            written.append(_write(source, staged, target, records, extras, to, scheme, options))
        for (_, target, _, _), w in zip(read, written, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            _remove(target)  # an earlier conversion's file (or split folder): replaced whole
            w.path.replace(target)
            w.path = target
    finally:
        _remove(staging)
    return written


def _check_replaceable(target: Path, to: str) -> None:
    """Refuse a target that holds more than an earlier conversion would have written there."""
    if to == folder_format.NAME and target.exists() and not target.is_dir():  # a file is never a split folder
        raise DataError(target, None, "is a file: name a folder to write a split folder to")
    if not target.is_dir() or target.is_symlink():
        return
    if to != folder_format.NAME:
        raise DataError(target, None, f"is a folder: name a file to write {to} to")
    others = sorted(p.name for p in target.iterdir() if p.name not in folder_format.FILE_NAMES)
    if others:
        raise DataError(
            target,
            None,
            f"holds files a split folder does not ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}): "
            "name a new or empty folder",
        )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _write(
    source: Path, staged: Path, target: Path, records: list, extras, to: str, scheme: str, options: dict
) -> Written:
    """One file (or split folder) of :func:`convert`, written to ``staged`` for ``target``."""
    if to == "rasa":
        options = {**options, "extras": extras}
    elif extras:
        log.warning(
            "%s: %s has no place for this file's %d synonyms and lookup tables %s: not written to %s",
            source,
            to,
            len(extras.synonyms),
            ", ".join(extras.lookups) or "(none)",
            target,
        )
    formats.write(records, staged, to, scheme, shown_as=target, **options)
    moved = formats.retokenized(records) if to in formats.TEXT_FORMATS or options.get("spans") else []
    return Written(staged, len(records), moved)


def summary(written: list[Written]) -> str:
    lines = []
    for w in written:
        lines.append(f"wrote {w.path} ({w.sentences} sentences)")
        if w.retokenized:
            r = w.retokenized[0]
            lines.append(
                f"  note: {len(w.retokenized)} sentences hold tokens that slotfill's tokenizer splits further when "
                f"reading the text back (first: {r.file}:{r.line}: {' '.join(r.tokens)})"
            )
    return "\n".join(lines)
