"""ATIS-style tokenisation of raw text, keeping each token's character offsets.

The benchmarks are lower-cased, words keep inner apostrophes, hyphens, ampersands, colons,
slashes and dots (``i'd``, ``o'clock``, ``top-rated``, ``r&b``, ``10:30``), ``st.`` keeps its
dot, and other punctuation stands alone (commas and question marks never occur in ATIS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = r"[^\W_]+(?:['’&:/.\-][^\W_]+)*"
TOKEN_RE = re.compile(rf"(?i:st\.)(?!\w)|{_WORD}|[^\w\s]|_+")


@dataclass(frozen=True)
class Token:
    text: str  # normalised (lower-cased) form fed to the model
    start: int  # character offsets into the original string: original[start:end]
    end: int

    @property
    def is_punct(self) -> bool:
        return not any(ch.isalnum() for ch in self.text)


def tokenize(text: str) -> list[Token]:
    """Split raw text into lower-cased tokens with offsets into ``text``."""
    return [Token(m.group().lower().replace("’", "'"), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]
