"""What every reader and writer shares: the record, UTF-8 lines with numbers, text <-> tokens and spans."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from slotfill.core.lines import decode_lines, read_lines  # noqa: F401  (the readers import them from here)
from slotfill.core.spans import bio_spans
from slotfill.core.tokenize import tokenize, visible
from slotfill.core.vocab import normalize_intent
from slotfill.errors import DataError


@dataclass
class Record:
    """One labelled sentence as read: tokens, one tag per token, the intent ('' if none), where it came from.

    ``line`` is 1-based; ``tag_file`` is the file the tags came from when it is not ``file``
    (``seq.out`` of the folder format), so tag errors point at the right file; ``lines`` holds each
    token's own line where a format writes one token a line (conll).
    """

    tokens: list[str]
    tags: list[str]
    intent: str = ""
    file: str = ""
    line: int | None = None
    tag_file: str | None = field(default=None, repr=False)
    lines: list[int] | None = field(default=None, repr=False)

    def error(self, problem: str, tags: bool = False, token: int | None = None) -> DataError:
        """An error at the record, or at its ``token``-th token (from 1) where tokens have lines of their own."""
        line = self.line
        if token is not None and self.lines is not None and 0 < token <= len(self.lines):
            line = self.lines[token - 1]
        return DataError((self.tag_file or self.file) if tags else self.file, line, problem)


def read_text(path: Path) -> str:
    """A whole UTF-8 file (a bad byte is reported with its line number); a leading BOM is dropped."""
    return "\n".join(read_lines(path)).lstrip("\ufeff")


def parse_json(text: str, where: tuple[str | Path, int | None]) -> object:
    """A JSON value, or one :class:`DataError` at ``where`` for anything Python's parser refuses:
    bad syntax, nesting deeper than the interpreter's recursion limit, a number of over 4,300 digits."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        line = where[1] if where[1] is not None else e.lineno
        raise DataError(where[0], line, f"not valid JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:
        raise DataError(where[0], where[1], "JSON nested too deeply") from None
    except ValueError as e:  # e.g. "Exceeds the limit (4300 digits) for integer string conversion"
        raise DataError(where[0], where[1], f"not usable JSON ({e})") from None


def intent_of(value: object, where: tuple[str | Path, int | None]) -> str:
    """An intent field (string, list of strings or missing) as slotfill keeps it."""
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = "#".join(value)
    if not isinstance(value, str):
        raise DataError(where[0], where[1], f"intent must be a string, got {type(value).__name__}")
    if len(value.split()) > 1:
        raise DataError(where[0], where[1], f"intent {value!r} contains whitespace")
    intent = normalize_intent(value)
    if value.strip() and not intent:  # "#", "+", a zero-width space: read as no intent, silently
        raise DataError(where[0], where[1], f"intent {value!r} names no intent")
    return intent


OFFSET_KEYS = (("start", "end"), ("start_offset", "end_offset"))
LABEL_KEYS = ("label", "labels", "entity", "type")
# where tools keep spans (doccano reads them there): a non-empty list of lists or objects under one of
# them is spans whatever their shape (LUIS's startPos/endPos, spaCy's start_char/end_char, a label id)
SPAN_KEYS = ("label", "labels", "entities")


def span_like(x: object) -> bool:
    """``[start, end, label]`` with whole-number offsets, or an object with whole-number start and end
    (``start``/``end`` or ``start_offset``/``end_offset``) and a label (not a word timing: floats, no label)."""

    def whole(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if isinstance(x, list):
        return len(x) == 3 and whole(x[0]) and whole(x[1]) and isinstance(x[2], str)
    if not isinstance(x, dict) or not any(k in x for k in LABEL_KEYS):
        return False
    return any(whole(x.get(s)) and whole(x.get(e)) for s, e in OFFSET_KEYS)


def span_like_keys(obj: dict, known: tuple[str, ...]) -> list[str]:
    """Keys of a JSON record besides ``known`` holding what a reader that missed them would read as a
    sentence without slots (all ``O``): under :data:`SPAN_KEYS` a non-empty list of lists or objects
    (``"entities": []`` and ``"label": "greet"`` are not spans), elsewhere a non-empty list of what
    looks like character spans (:func:`span_like`; word timings do not)."""

    def spans(k: str, v: object) -> bool:
        if k in known or not isinstance(v, list) or not v:
            return False
        if k in SPAN_KEYS:
            return any(isinstance(x, (list, dict)) for x in v)
        return all(map(span_like, v))

    return [k for k, v in obj.items() if spans(k, v)]


def check_label(label: object, where: tuple[str | Path, int | None]) -> str:
    if not isinstance(label, str) or not label.strip():
        raise DataError(where[0], where[1], f"slot label {label!r} is not a non-empty string")
    if len(label.split()) != 1:
        raise DataError(where[0], where[1], f"slot label {label!r} contains whitespace")
    return label


def align_spans(
    text: str, spans: list[tuple[int, int, str]], where: tuple[str | Path, int | None]
) -> tuple[list[str], list[str]]:
    """Tokens of ``text`` (slotfill's tokenizer, original spelling) and BIO tags from character spans.

    Whitespace and invisible characters (a right-to-left mark, a zero-width space) at either end of a
    span are trimmed; a span that then does not start and end on
    token boundaries, lies outside the text or overlaps another span is an error at ``where``.
    """
    file, line = where
    toks = tokenize(text)
    tokens = [text[t.start : t.end] for t in toks]
    first = {t.start: i for i, t in enumerate(toks)}
    last = {t.end: i for i, t in enumerate(toks)}
    tags = ["O"] * len(toks)
    for start, end, label in spans:
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):
            raise DataError(file, line, f"span {start}-{end} ({label}): offsets must be whole numbers")
    for start, end, label in sorted(spans, key=lambda s: (s[0], s[1])):
        if not 0 <= start < end <= len(text):
            raise DataError(file, line, f"span {start}-{end} ({label}) is outside the text ({len(text)} characters)")
        check_label(label, where)
        s, e = start, end  # trimmed as the tokenizer trims a token: whitespace, then invisible characters
        while s < e and (text[s].isspace() or not visible(text[s])):
            s += 1
        while e > s and (text[e - 1].isspace() or not visible(text[e - 1])):
            e -= 1
        if s == e:
            raise DataError(file, line, f"span {start}-{end} ({label}) covers only whitespace or invisible characters")
        if s not in first or e not in last:
            raise DataError(
                file,
                line,
                f"span {start}-{end} {text[start:end]!r} ({label}) does not fall on token boundaries "
                f"(slotfill's tokens: {' '.join(tokens)})",
            )
        i, j = first[s], last[e]
        if any(t != "O" for t in tags[i : j + 1]):
            raise DataError(file, line, f"span {start}-{end} {text[start:end]!r} ({label}) overlaps another span")
        tags[i : j + 1] = [f"B-{label}"] + [f"I-{label}"] * (j - i)
    return tokens, tags


def text_and_spans(tokens: list[str], tags: list[str]) -> tuple[str, list[tuple[int, int, str]]]:
    """The sentence as text (tokens joined by spaces) and its slots as character spans ``(start, end, label)``."""
    starts, pos = [], 0
    for t in tokens:
        starts.append(pos)
        pos += len(t) + 1
    spans = [(starts[s], starts[e - 1] + len(tokens[e - 1]), label) for label, s, e in bio_spans(tags)]
    return " ".join(tokens), spans


def retokenizes(tokens: list[str]) -> bool:
    """Whether slotfill's tokenizer reads ``" ".join(tokens)`` back as the same tokens (text formats need it)."""
    text = " ".join(tokens)
    return [text[t.start : t.end] for t in tokenize(text)] == list(tokens)
