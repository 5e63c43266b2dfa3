"""Numbers in messages, worded as people read them (torch-free)."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``1 line``, ``2,000 lines``: a count and its noun, plural unless it is one."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
