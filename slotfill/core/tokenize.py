"""ATIS-style tokenisation of raw text, keeping each token's character offsets.

The benchmarks are lower-cased, words keep inner apostrophes, hyphens, ampersands, colons,
slashes and dots (``i'd``, ``o'clock``, ``top-rated``, ``r&b``, ``10:30``), ``st.`` keeps its
dot, a number keeps its thousands separators (``1,000``, looked up as ``1000``), and other
punctuation stands alone (commas and question marks never occur in ATIS).
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

# Python's re has no \p{M}: before matching, every combining mark (accents written as a
# separate code point, Indic vowel signs and viramas, variation selectors as in ✈️) is read
# as this one mark, which the pattern keeps inside the word or symbol it follows.
_MARK = "\u0301"
_CHAR = rf"(?:[^\W_]|{_MARK})"
# a joiner is inside a word only before a letter or digit: marks alone after it ("0/<ZWSP>") are
# not the rest of a word
_WORD = rf"{_CHAR}+(?:['’&:/.\-]{_MARK}*[^\W_]{_CHAR}*)*"
# a number with thousands separators ("1,000", "12,500.75") is one token, looked up without them:
# ATIS writes "1000", and split at its comma it read as two slots ("1" and "000 dollars")
# "101,102" (three digits, one group) is read as a list of two numbers, as before
_GROUPED = rf"(?:\d{{1,2}}(?:,\d{{3}})+|\d{{3}}(?:,\d{{3}}){{2,}})(?:\.\d+)?(?!{_MARK}*\w)"
_DIGIT_GROUPS = re.compile(_GROUPED)
# any token may start after marks, as a word can: an invisible character before a token is read as
# _MARK, and only a word could start there ("<ZWSP>st." would be "st" and ".", "<ZWSP>1,000" three
# tokens); "st." and a number end where no word goes on after marks ("st.<ZWSP>louis" is one word)
TOKEN_RE = re.compile(rf"{_MARK}*(?:(?i:st\.)(?!{_MARK}*\w)|{_GROUPED}|{_WORD}|[^\w\s{_MARK}]{_MARK}*|_+)")


class Token(NamedTuple):  # a tuple: built once per token of every sentence tagged
    text: str  # normalised form fed to the model (see normalize)
    start: int  # character offsets into the original string: original[start:end]
    end: int


def is_punct(text: str) -> bool:
    """A token of no letter or digit (punctuation, symbols, emoji; an empty one too)."""
    return not any(ch.isalnum() for ch in text)


def _invisible(ch: str) -> bool:
    """Control and format characters (NUL, zero-width space and joiners, soft hyphen), whitespace excepted."""
    return unicodedata.category(ch) in ("Cc", "Cf") and not ch.isspace()


def visible(text: str) -> str:
    """``text`` without its invisible characters (format and control characters that are not whitespace)."""
    return "".join(ch for ch in text if not _invisible(ch))


def normalize(token: str) -> str:
    """The form a token is looked up in: NFC, lower-cased (``İ`` as ``i``), typographic apostrophe as ``'``, without
    invisible characters (so ``bos<ZWSP>ton`` is ``boston`` in training data and typed text alike).

    The one normalisation of text: vocabularies are built from it and word and character
    lookups go through it, in training and prediction alike.
    """
    if "," in token and _DIGIT_GROUPS.fullmatch(seen := visible(token)):  # "1,000" is the "1000" the data sets write
        token = seen.replace(",", "")
    if token.isascii() and token.isprintable():  # the common case, and NFC leaves ASCII unchanged
        return token.lower()
    token = visible(token)
    # "İ".lower() is "i" and a combining dot: "İstanbul" would not be "istanbul" (words, lexicons)
    return unicodedata.normalize("NFC", token).lower().replace("i\u0307", "i").replace("’", "'")


def _marks_as_one(text: str) -> str:
    """``text`` with every combining mark and invisible character replaced by :data:`_MARK` (same
    length: offsets hold): they stay inside the word they are written in, as in whitespace-split data."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(_MARK if unicodedata.category(ch)[0] == "M" or _invisible(ch) else ch for ch in text)


def tokenize(text: str) -> list[Token]:
    """Split raw text into normalised tokens with offsets into ``text``; invisible characters at a
    token's edges are left outside it (``<ZWSP>boston`` is ``boston`` in the text a span shows too)."""
    spans = (m.span() for m in TOKEN_RE.finditer(_marks_as_one(text)))
    if text.isascii() and text.isprintable():  # the common case: nothing invisible
        return [Token(normalize(text[s:e]), s, e) for s, e in spans]
    tokens = []
    for s, e in spans:
        while s < e and _invisible(text[s]):
            s += 1
        while e > s and _invisible(text[e - 1]):
            e -= 1
        if s < e:
            tokens.append(Token(normalize(text[s:e]), s, e))
    return tokens
