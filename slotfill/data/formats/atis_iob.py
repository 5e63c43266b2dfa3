"""``atis_iob``: the single-file ATIS distribution, one sentence a line.

``BOS w1 ... wn EOS<TAB>O t1 ... tn INTENT``: the first tag belongs to ``BOS`` and the
intent stands in the place of ``EOS``'s tag.
"""

from __future__ import annotations

from pathlib import Path

from slotfill.data.formats.base import Record, read_lines
from slotfill.data.formats.schemes import from_bio
from slotfill.errors import DataError

NAME = "atis_iob"
SUFFIX = ".iob"


def read(path: Path) -> list[Record]:
    records = []
    for n, line in enumerate(read_lines(path), 1):
        if not line.strip():
            raise DataError(path, n, "empty line (atis_iob has one sentence a line)")
        if "\t" not in line:
            raise DataError(path, n, "no tab between the words and the tags")
        left, right = line.split("\t", 1)
        words, tags = left.split(), right.split()
        if len(words) < 2 or words[0] != "BOS" or words[-1] != "EOS":
            raise DataError(path, n, "the words must be 'BOS w1 ... wn EOS'")
        if len(tags) != len(words) or tags[0] != "O":
            raise DataError(
                path, n, f"expected 'O', {len(words) - 2} tags and the intent after the tab, found {len(tags)} fields"
            )
        records.append(Record(words[1:-1], tags[1:-1], tags[-1], str(path), n))
    return records


def dumps(records: list[Record], scheme: str = "bio") -> str:
    out = []
    for r in records:
        if not r.intent:
            raise r.error("no intent: atis_iob needs one for every sentence")
        out.append(f"BOS {' '.join(r.tokens)} EOS\tO {' '.join(from_bio(r.tags, scheme))} {r.intent}\n")
    return "".join(out)


def sniff(lines: list[str]) -> bool:
    """``BOS ... EOS<TAB>...`` on the first line and most others, not all: the reader then names the line."""
    rows = [ln for ln in lines if ln.strip()]
    ok = [ln.startswith("BOS ") and "\t" in ln and ln.split("\t")[0].rstrip().endswith(" EOS") for ln in rows]
    return bool(rows) and ok[0] and sum(ok) >= 0.9 * len(ok)
