"""Readers and writers of slot-filling data, one module per format, behind one registry.

Every reader returns :class:`Record` objects with the tags as written in the file;
:func:`read` then checks every tag and converts the tagging scheme to BIO. Writers take BIO
records and write them in the scheme asked for.

=============  ====================================================================
``folder``     ``seq.in`` / ``seq.out`` / ``label`` in a split folder
``conll``      token and tag columns, blank lines between sentences, ``# intent = X``
``atis_iob``   ``BOS w1 .. wn EOS<TAB>O t1 .. tn INTENT``, one sentence a line
``jsonl``      ``{"tokens", "tags", "intent"}`` or ``{"text", "spans", "intent"}``
``rasa``       Rasa NLU YAML, ``- fly to [boston](toloc.city_name)``
``doccano``    doccano JSONL, ``{"text", "label": [[start, end, type]]}``
``labelstudio`` Label Studio JSON export (``result[].value.{start, end, labels}``)
``hub``        CSV with ``id, intent, text, slots`` (the ATIS copy on the hub)
=============  ====================================================================
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from types import ModuleType

from slotfill.core.files import write_atomic
from slotfill.core.limits import MAX_SENTENCE_TOKENS, unicode_problem
from slotfill.core.lines import UTF16, utf16
from slotfill.core.spans import bio_spans, repair_bio
from slotfill.core.tokenize import tokenize
from slotfill.core.vocab import normalize_intent
from slotfill.data.formats import atis_iob, conll, doccano, folder, hub, jsonl, labelstudio, rasa
from slotfill.data.formats.base import Record, retokenizes
from slotfill.data.formats.rasa import Extras
from slotfill.data.formats.schemes import READ_SCHEMES, WRITE_SCHEMES, to_bio
from slotfill.errors import DataError

FILE_FORMATS: dict[str, ModuleType] = {m.NAME: m for m in (conll, atis_iob, jsonl, rasa, doccano, labelstudio, hub)}
FORMATS = ("auto", folder.NAME, *FILE_FORMATS)
# formats whose files hold text and character spans: tokens come from slotfill's tokenizer
TEXT_FORMATS = ("rasa", "doccano", "labelstudio")
log = logging.getLogger(__name__)
_LINE = re.compile(r"\(line (\d+)\)")

__all__ = [
    "FORMATS",
    "Extras",
    "READ_SCHEMES",
    "WRITE_SCHEMES",
    "Record",
    "detect",
    "read",
    "read_file",
    "write",
    "dumps",
]


def _head(path: Path, size: int = 1 << 16) -> list[str]:
    try:
        with open(path, "rb") as f:
            raw = f.read(size)
    except OSError as e:
        raise DataError(path, None, f"cannot read file: {e.strerror}") from None
    if utf16(raw):  # decoded as UTF-8, it would look like no format
        raise DataError(path, None, UTF16)
    lines = raw.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()
    return lines[:-1] if len(raw) == size and len(lines) > 1 else lines  # the last line may be cut


def detect(path: Path) -> str:
    """The format of a file or split folder, from its content; a one-line error if unknown or ambiguous."""
    if path.is_dir():
        if folder.is_split_dir(path):
            return folder.NAME
        raise DataError(path, None, "a folder without seq.in: give a file, or a folder of splits as data.path")
    if not path.exists():
        raise DataError(path, None, "file not found")
    lines = _head(path)
    if not any(ln.strip() for ln in lines):
        raise DataError(path, None, "empty file")
    found = [name for name, m in FILE_FORMATS.items() if m.sniff(lines)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError(
            path, None, f"cannot tell the format; set data.format= (or --from) to one of {', '.join(FORMATS[1:])}"
        )
    raise DataError(path, None, f"ambiguous format: looks like {' and '.join(found)}; set data.format= (or --from)")


def read(path: str | Path, fmt: str = "auto", scheme: str = "auto") -> list[Record]:
    """Every record of one file (or split folder), validated, tags in BIO, intents normalised."""
    return read_file(path, fmt, scheme)[0]


def read_file(path: str | Path, fmt: str = "auto", scheme: str = "auto") -> tuple[list[Record], Extras]:
    """:func:`read`, and what else the file holds (a Rasa file's synonyms and lookup tables).

    The parts of the file slotfill does not use are named in one warning line.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise DataError(path, None, f"unknown format {fmt!r} (choose one of {', '.join(FORMATS)})")
    if fmt == "auto":
        fmt = detect(path)
    module = folder if fmt == folder.NAME else FILE_FORMATS[fmt]
    if fmt != folder.NAME and path.is_dir():
        raise DataError(path, None, f"is a folder, expected a {fmt} file")
    records, extras = rasa.read_with_extras(path) if module is rasa else (module.read(path), Extras())
    if extras.unused:  # in the file's order, as a reader goes through it
        unused = sorted(extras.unused, key=lambda part: int(m.group(1)) if (m := _LINE.search(part)) else 0)
        log.warning("%s: not used by slotfill: %s", path, ", ".join(unused))
    if not records:
        raise DataError(path, None, "no sentences")
    return finish(records, scheme), extras


def finish(records: list[Record], scheme: str = "auto") -> list[Record]:
    """Check tags, convert them to BIO and normalise intents, in place."""
    to_bio(records, scheme)
    for r in records:
        problem = next(filter(None, (unicode_problem(t, at=False) for t in (*r.tokens, *r.tags, r.intent))), None)
        if problem:  # a JSON or YAML escape of half a character
            raise r.error(problem)
        written, r.intent = r.intent, normalize_intent(r.intent)
        if written.strip() and not r.intent:  # "#", "+", a zero-width space: taken for no intent, silently
            raise r.error(f"intent {written!r} names no intent")
        if len(r.tokens) > MAX_SENTENCE_TOKENS:
            raise r.error(
                f"{len(r.tokens):,} tokens, over the limit of {MAX_SENTENCE_TOKENS:,} a sentence (missing line break?)"
            )
    return records


def dumps(records: list[Record], fmt: str, scheme: str = "bio", **options) -> str:
    """The text of a file in ``fmt`` (any format but ``folder``)."""
    if fmt not in FILE_FORMATS:
        raise DataError(
            "<output>", None, f"cannot write format {fmt!r} as one file (choose one of {', '.join(FILE_FORMATS)})"
        )
    return FILE_FORMATS[fmt].dumps(records, scheme, **options)


def write(
    records: list[Record],
    path: str | Path,
    fmt: str,
    scheme: str = "bio",
    shown_as: str | Path | None = None,
    **options,
) -> Path:
    """Write one split: a split folder for ``folder``, else one file (atomically).

    Nothing is written that would not read back as the same tokens, tags and intents: the output
    is read back first and the first sentence that would change is refused. In the formats of text
    and character spans, tokens come from the tokenizer: a sentence it would split otherwise
    (:func:`retokenized`) is compared by its text, tags of vanished tokens never lost. ``shown_as``:
    the path messages name (a staged file's final place).
    """
    path = Path(path)
    shown = Path(shown_as) if shown_as is not None else path
    if fmt == folder.NAME:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp") as tmp:
            folder.write(records, Path(tmp), scheme)
            _reads_back(records, Path(tmp), fmt, scheme, shown)
            path.mkdir(exist_ok=True)
            for f in Path(tmp).iterdir():
                os.replace(f, path / f.name)
        return path
    spans = fmt in TEXT_FORMATS or bool(options.get("spans"))
    if spans:
        for r in records:
            vanishing = next((t for t in r.tokens if not tokenize(t)), None)
            if vanishing is not None:  # read back, the sentence would lose it and its tag
                codes = " ".join(f"U+{ord(c):04X}" for c in vanishing)
                raise r.error(f"a token of only invisible characters ({codes}): {fmt} text cannot hold it")
    text = dumps(records, fmt, scheme, **options)
    problem = unicode_problem(text)
    if problem:  # half a character from an escape, in a Rasa synonym or lookup table
        raise DataError(shown, None, f"cannot be written: the output {problem}")
    check = write_atomic(path.with_name(f".{path.name}.check.tmp"), text)
    try:
        _reads_back(records, check, fmt, scheme, shown, by_text=spans)
        os.replace(check, path)
    finally:
        check.unlink(missing_ok=True)
    return path


def _reads_back(
    records: list[Record], written: Path, fmt: str, scheme: str, target: Path, by_text: bool = False
) -> None:
    """Refuse output whose reader would see other sentences than ``records`` (``by_text``: a sentence the
    tokenizer splits otherwise counts as the same when its text, slots and intent are)."""
    try:
        back = read(written, fmt, scheme if scheme in READ_SCHEMES else "auto")
    except DataError as e:
        raise DataError(target, None, f"{fmt} cannot hold this data: read back, {e.problem}") from None
    if fmt == rasa.NAME:  # the writer groups the examples by intent, in order of first appearance
        order = {intent: n for n, intent in enumerate(dict.fromkeys(r.intent for r in records))}
        records = sorted(records, key=lambda r: order[r.intent])
    for i, r in enumerate(records):
        b = back[i] if i < len(back) else None
        if b is not None and by_text and not retokenizes(r.tokens):
            same = _surface(b.tokens, b.tags) == _surface(r.tokens, r.tags) and b.intent == r.intent
            if not same:
                raise r.error(f"this sentence would read back from {fmt} as another sentence: it cannot be written")
            continue
        # tags as scored: an I-x that starts a chunk is written as the chunk start another scheme has
        if b is None or (b.tokens, repair_bio(b.tags), b.intent) != (r.tokens, repair_bio(r.tags), r.intent):
            raise r.error(
                f"this sentence would read back from {fmt} as another sentence: it cannot be written as {fmt}"
            )
    if len(back) != len(records):
        raise DataError(target, None, f"{fmt} would read back {len(back)} sentences instead of {len(records)}")


def _surface(tokens: list[str], tags: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """A sentence's characters and its slots' (label, characters), spaces aside: what a text format keeps
    of a sentence its tokenizer splits otherwise (``call:`` read back as ``call`` ``:``)."""
    return "".join(tokens), [(label, "".join(tokens[s:e])) for label, s, e in bio_spans(tags)]


def suffix(fmt: str) -> str:
    """The file name ending used for a split written in ``fmt`` (``''`` for folders)."""
    return "" if fmt == folder.NAME else FILE_FORMATS[fmt].SUFFIX


def retokenized(records: list[Record]) -> list[Record]:
    """Records whose tokens slotfill's tokenizer would split differently once written as text."""
    return [r for r in records if not retokenizes(r.tokens)]
