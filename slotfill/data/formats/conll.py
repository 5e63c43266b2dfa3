"""``conll``: one token a line, columns separated by tabs (where a line has any) or spaces, the tag last.

Sentences are separated by blank lines; ``-DOCSTART-`` lines are skipped; a comment line
``# intent = NAME`` (CoNLL-U style) before a sentence gives its intent. Comments are lines
before a sentence that start with ``#`` and a space or tab (``# sent_id = 3``); ``#`` followed
by just a tag (or tab-separated columns ending in one) is the token ``#``, and ``#5<TAB>O`` is the
token ``#5``; inside a sentence, so is a ``#`` line with as many columns as the token line before
it and a tag last (``# # I-NP O`` among space-separated four-column lines). A token holding a
space, a comment inside a sentence (a missing blank line before it), or a second ``# intent =``
for one sentence, is an error with its line; so is a bad tag, at its token's line. The writer
refuses a token this reader would misread (``-DOCSTART-``).
"""

from __future__ import annotations

import re
from pathlib import Path

from slotfill.data.formats.base import Record, read_lines
from slotfill.data.formats.schemes import TAG_RE, from_bio
from slotfill.errors import DataError

NAME = "conll"
SUFFIX = ".conll"
DOCSTART = "-DOCSTART-"
INTENT_RE = re.compile(r"^#\s*intent\s*=\s*(\S*)\s*$")
INTENT_LIKE = re.compile(r"^#\s*intents?\b", re.IGNORECASE)  # a comment meant as an intent


def read(path: Path) -> list[Record]:
    records: list[Record] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []  # each token's line: a bad tag is named at its own line
    intent, start = "", None
    width = 0  # the sentence's last token line's column count

    def close() -> None:
        nonlocal tokens, tags, lines, intent, start
        if tokens:
            records.append(Record(tokens, tags, intent, str(path), start, lines=lines))
        elif intent:
            raise DataError(path, start, f"'# intent = {intent}' is not followed by a sentence")
        tokens, tags, lines, intent, start = [], [], [], "", None

    for n, line in enumerate(read_lines(path), 1):
        stripped = line.strip()
        if not stripped:
            close()
            continue
        cols = _columns(stripped)
        # '# # I-NP O' between lines of four columns: the token '#' of a space-separated file
        in_step = bool(tokens) and len(cols) == width and TAG_RE.match(cols[-1]) is not None
        if _comment(stripped) and not in_step and not _token_line(stripped, cols):
            if tokens:  # read as the token '#', its tag would be the comment's last word
                raise DataError(path, n, f"{stripped!r}: a comment inside a sentence: a blank line missing before it?")
            m = INTENT_RE.match(stripped)
            if m is None and INTENT_LIKE.match(stripped):  # taken for a comment, its sentence would lose its intent
                raise DataError(path, n, f"{stripped!r}: write an intent as '# intent = NAME' (one word)")
            if m:
                if not m.group(1):
                    raise DataError(path, n, "empty intent in '# intent ='")
                if intent:
                    raise DataError(path, n, f"a second '# intent =' for one sentence (the first: line {start})")
                intent, start = m.group(1), n
            continue
        if cols[0] == DOCSTART:
            close()
            continue
        if len(cols) < 2:
            raise DataError(path, n, f"expected a token and a tag, found one column {cols[0]!r}")
        if any(c.isspace() for c in cols[0]):
            raise DataError(path, n, f"the token {cols[0]!r} holds a space (one token a line)")
        if start is None:
            start = n
        tokens.append(cols[0])
        tags.append(cols[-1])
        lines.append(n)
        width = len(cols)
    close()
    return records


def _comment(line: str) -> bool:
    return line == "#" or (line.startswith("#") and line[1].isspace())


def _columns(line: str) -> list[str]:
    """A stripped line's columns: split at tabs where it has any (a token may not hide a space), else at spaces."""
    if "\t" in line:
        return [c.strip() for c in line.split("\t") if c.strip()]
    return line.split()


def _token_line(line: str, cols: list[str]) -> bool:
    """``# O`` or ``#<TAB>SYM<TAB>O``: the token ``#`` with its tag, not a comment (``# text = to O``)."""
    tabbed = len(cols) >= 2 and "\t" in line
    return (len(cols) == 2 or tabbed) and cols[0] == "#" and TAG_RE.match(cols[-1]) is not None


def dumps(records: list[Record], scheme: str = "bio") -> str:
    for r in records:
        if DOCSTART in r.tokens:
            raise r.error(f"the token {DOCSTART} cannot be written as conll (its reader takes it for a document break)")
    return "".join(sentence(r.tokens, r.tags, r.intent, scheme) for r in records)


def sentence(tokens: list[str], tags: list[str], intent: str | None, scheme: str = "bio") -> str:
    """One sentence block (``# intent = ...``, ``token<TAB>tag`` lines, a blank line)."""
    head = f"# intent = {intent}\n" if intent else ""
    return head + "".join(f"{t}\t{g}\n" for t, g in zip(tokens, from_bio(tags, scheme))) + "\n"


def sniff(lines: list[str]) -> bool:
    """Two or more columns a line with a tag in the last, blank lines between sentences."""
    rows = [ln.split() for ln in lines if ln.strip() and not _comment(ln.strip())]
    rows = [r for r in rows if r[0] != DOCSTART]
    ok = [len(r) >= 2 and TAG_RE.match(r[-1]) is not None for r in rows]
    # the first line and most others, not all: the reader then names the line that is not a token and a tag
    # (a CSV header line is not a token line, so a hub CSV is never taken for conll)
    return bool(rows) and ok[0] and sum(ok) >= 0.9 * len(ok)
