"""Lexicon (gazetteer) features: lists of known names per type, matched longest-first in each sentence.

Each token gets one feature per type: ``O`` (no match), ``B`` (a match starts here) or ``I``
(inside a match), as Rasa's lookup tables and NCRF++'s feature columns give them. The network
embeds them beside the word vector; during training ``train.lexicon_dropout`` hides matches so
the model also learns roles from context, and a name missing from the list still works.

A list file holds one entry a line, UTF-8; an entry may have several words ("kuala lumpur").
Entries are tokenised and normalised like every other text, empty lines are skipped and
repeated entries count once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from slotfill.core import resources
from slotfill.core.lines import read_lines
from slotfill.core.tokenize import normalize, tokenize
from slotfill.errors import DataError

PAD, OUT, BEGIN, INSIDE = 0, 1, 2, 3  # feature values; 0 is padding
MAX_ENTRY_TOKENS = 8  # longer entries are refused: no place name needs more words


def entry_tokens(text: str) -> tuple[str, ...]:
    """An entry as the tokens a sentence would hold (tokenised and normalised)."""
    return tuple(normalize(t.text) for t in tokenize(text))


def resolve_list(path: str | Path) -> Path:
    """A list file as given, or the one slotfill ships (``data/lexicons/...`` from any folder, installed too)."""
    return resources.resolve(path)


class Lexicon:
    """Entries per type and the longest-match feature columns they give a sentence."""

    def __init__(self, entries: Mapping[str, Sequence[str]], normalised: bool = False) -> None:
        self.types = list(entries)
        norm = (lambda e: e) if normalised else (lambda e: " ".join(entry_tokens(e)))
        self.entries = {t: sorted({norm(e) for e in entries[t]} - {""}) for t in self.types}
        self._sets = [{tuple(e.split(" ")) for e in self.entries[t]} for t in self.types]
        # first token -> {type: longest entry starting with it}: most tokens start no entry and cost one lookup
        self._starts: dict[str, dict[int, int]] = {}
        for k, entry_set in enumerate(self._sets):
            for entry in entry_set:
                longest = self._starts.setdefault(entry[0], {})
                if len(entry) > longest.get(k, 0):
                    longest[k] = len(entry)

    def __len__(self) -> int:
        return len(self.types)

    @classmethod
    def read(cls, files: Mapping[str, str | Path]) -> Lexicon:
        """Read ``{type: list file}``; a bad line is a :class:`DataError` with its file and line."""
        entries = {}
        for kind, name in files.items():
            path = resolve_list(name)
            if not path.is_file():
                raise DataError(path, None, f"lexicon list for {kind!r} not found (model.lexicons.{kind})")
            entries[kind] = []
            for n, line in enumerate(read_lines(path), 1):
                tokens = entry_tokens(line)
                if len(tokens) > MAX_ENTRY_TOKENS:
                    raise DataError(path, n, f"entry of {len(tokens)} words (at most {MAX_ENTRY_TOKENS})")
                if tokens:
                    entries[kind].append(" ".join(tokens))
            if not entries[kind]:
                raise DataError(path, None, "empty lexicon list")
        return cls(entries, normalised=True)

    def lists(self, kind: str, tokens: Sequence[str]) -> bool:
        """Whether normalised ``tokens`` are one entry of type ``kind``."""
        return tuple(tokens) in self._sets[self.types.index(kind)]

    def match(self, tokens: Sequence[str]) -> list[list[int]]:
        """Feature values ``[token][type]`` for normalised tokens (per type: longest match first, left to right)."""
        n = len(tokens)
        out = [[OUT] * len(self.types) for _ in range(n)]
        free = [0] * len(self.types)  # per type: where the next match may start
        for i, token in enumerate(tokens):
            for k, longest in self._starts.get(token, {}).items():
                if i < free[k]:
                    continue
                for size in range(min(longest, n - i), 0, -1):
                    if tuple(tokens[i : i + size]) in self._sets[k]:
                        out[i][k] = BEGIN
                        for j in range(i + 1, i + size):
                            out[j][k] = INSIDE
                        free[k] = i + size
                        break
        return out

    def to_dict(self, packed: bool = False) -> dict:
        """Types and entries; ``packed``: each type's entries as one newline-joined string, as model.pt
        stores them (torch's safe loader unpickles a list item by item; bench/cold_start.py)."""
        entries = {t: "\n".join(self.entries[t]) if packed else list(self.entries[t]) for t in self.types}
        return {"types": list(self.types), "entries": entries}

    @classmethod
    def from_dict(cls, d: dict) -> Lexicon:
        """From :meth:`to_dict`, packed or not (model files before format 4 hold lists)."""
        entries = {t: d["entries"][t] for t in d["types"]}
        return cls({t: e.split("\n") if isinstance(e, str) else e for t, e in entries.items()}, normalised=True)
