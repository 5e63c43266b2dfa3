"""Input limits that hold in every command, and the check of one text (torch-free).

A slot-filling input is a sentence: a text of :data:`MAX_TEXT_CHARS` characters, or a data
sentence of :data:`MAX_SENTENCE_TOKENS` tokens, is already a file that lost its line breaks, and
tagging it would only spend memory and minutes. The server has its own, smaller request limits
(:mod:`slotfill.serving.limits`).
"""

from __future__ import annotations

from slotfill.errors import SlotfillError

MAX_TEXT_CHARS = 100_000  # one text given to predict, the Python API or one input line
MAX_LINE_BYTES = 4 * MAX_TEXT_CHARS  # a line of more bytes is over MAX_TEXT_CHARS: UTF-8 is 1-4 bytes a character
MAX_SENTENCE_TOKENS = 1_000  # one sentence of training or evaluation data
# sentences predict reads, tags and writes at a time, on every engine: the same chunks (and so the
# same batches) give the same numbers, to the last digit, whichever engine tags them
PREDICT_CHUNK = 2_000
# likeliest tag sequences one sentence may ask for (nbest): each costs a pass of the n-best decoder, and
# a thousand took seconds and most of a gigabyte for one sentence
MAX_NBEST = 20


def unicode_problem(text: str, at: bool = True) -> str | None:
    """Why ``text`` is not valid Unicode (a lone surrogate, half a character from an escape), or None;
    ``at``: with the character's place (a token or a label is short enough without it)."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        place = f" at character {e.start + 1}" if at else ""
        return f"holds a lone surrogate (U+{ord(text[e.start]):04X}{place}): not valid Unicode text"
    return None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be tagged (over the length limit, or not valid Unicode), or None."""
    if len(text) > MAX_TEXT_CHARS:
        return f"{len(text):,} characters, over the limit of {MAX_TEXT_CHARS:,} a sentence (a missing line break?)"
    return unicode_problem(text)


def check_text(text: str, where: str) -> str:
    """``text``, or a one-line :class:`SlotfillError` naming ``where`` and the problem."""
    problem = text_problem(text)
    if problem:
        raise SlotfillError(f"{where}: {problem}")
    return text
