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
    return path.is_dir() and not folder_format.is_split_dir(path) and bool(find_splits(path, fmt))


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
    if not src.exists():
        raise DataError(src, None, "not found")
    if _is_dataset(src, src_format):
        jobs = [(p, dst / (split + formats.suffix(to))) for split, p in find_splits(src, src_format).items()]
    else:
        jobs = [(src, dst)]
    # every split read (and checked) before any is written; a write that fails takes this call's others
    # with it: a refused data set is never left behind in part
    read = [(source, target, *formats.read_file(source, src_format, src_scheme)) for source, target in jobs]
    written: list[Written] = []
    try:
        for source, target, records, extras in read:
            written.append(_write(source, target, records, extras, to, scheme, options))
    except BaseException:
        for w in written:
            if w.path.is_dir():
                shutil.rmtree(w.path)
            else:
                w.path.unlink(missing_ok=True)
        raise
    return written


def _write(source: Path, target: Path, records: list, extras, to: str, scheme: str, options: dict) -> Written:
    """One file (or split folder) of :func:`convert`."""
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
    formats.write(records, target, to, scheme, **options)
    moved = formats.retokenized(records) if to in formats.TEXT_FORMATS or options.get("spans") else []
    return Written(target, len(records), moved)


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
