"""Numbers in messages, worded as people read them (torch-free)."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``1 line``, ``2,000 lines``: a count and its noun, plural unless it is one."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def verb(n: int, singular: str) -> str:
    """The present tense that agrees with a count: ``verb(1, "has")`` is ``has``, ``verb(2, "occurs")`` ``occur``."""
    if n == 1:
        return singular
    return {"has": "have", "is": "are", "was": "were"}.get(singular, singular.removesuffix("s"))
