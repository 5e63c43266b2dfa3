"""ATIS-style tokenisation of raw text, keeping each token's character offsets.

The benchmarks are lower-cased, words keep inner apostrophes, hyphens, ampersands, colons,
slashes and dots (``i'd``, ``o'clock``, ``top-rated``, ``r&b``, ``10:30``), ``st.`` keeps its
dot, and other punctuation stands alone (commas and question marks never occur in ATIS).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_WORD = r"[^\W_]+(?:['’&:/.\-][^\W_]+)*"
TOKEN_RE = re.compile(rf"(?i:st\.)(?!\w)|{_WORD}|[^\w\s]|_+")


@dataclass(frozen=True)
class Token:
    text: str  # normalised form fed to the model (see normalize)
    start: int  # character offsets into the original string: original[start:end]
    end: int

    @property
    def is_punct(self) -> bool:
        return not any(ch.isalnum() for ch in self.text)


def normalize(token: str) -> str:
    """The form a token is looked up in: NFC, lower-cased, typographic apostrophe as ``'``.

    The one normalisation of text: vocabularies are built from it and word and character
    lookups go through it, in training and prediction alike.
    """
    if token.isascii():  # the common case, and NFC leaves ASCII unchanged
        return token.lower()
    return unicodedata.normalize("NFC", token).lower().replace("’", "'")


def tokenize(text: str) -> list[Token]:
    """Split raw text into normalised tokens with offsets into ``text``."""
    return [Token(normalize(m.group()), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]
