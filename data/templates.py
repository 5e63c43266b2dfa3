"""Shared helpers for the data generators: fill slot templates, write benchmark folders."""

from __future__ import annotations

from pathlib import Path


def fill(template: str, values: dict[str, str], slots: dict[str, str], word_tags: dict[str, str] | None = None):
    """Tokens and BIO tags of a template: ``{key}`` becomes ``values[key]`` tagged ``slots[key]``."""
    tokens: list[str] = []
    tags: list[str] = []
    for word in template.split():
        if word.startswith("{"):
            key = word[1:-1]
            for i, w in enumerate(values[key].split()):
                tokens.append(w)
                tags.append(("B-" if i == 0 else "I-") + slots[key])
        else:
            tokens.append(word)
            tags.append((word_tags or {}).get(word, "O"))
    return tokens, tags


def write_split(out: Path, rows: list[tuple[str, str, str]]) -> None:
    """Write ``(sentence, tags, intent)`` rows as ``seq.in``, ``seq.out`` and ``label``."""
    out.mkdir(parents=True, exist_ok=True)
    for name, col in (("seq.in", 0), ("seq.out", 1), ("label", 2)):
        (out / name).write_text("".join(r[col] + "\n" for r in rows))
