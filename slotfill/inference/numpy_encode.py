"""Token lists to the graph's int64 inputs, in numpy (mirrors :func:`slotfill.models.encoding.collate`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slotfill.core.tokenize import normalize
from slotfill.core.vocab import MAX_WORD_LEN, Vocabularies


def encode_batch(token_lists: Sequence[Sequence[str]], vocabs: Vocabularies) -> dict[str, np.ndarray]:
    """``words [B,T]``, ``chars [U,L]``, ``char_index [B,T]``, ``lengths [B]`` (and ``lexicon [B,T,types]``)."""
    B = len(token_lists)
    T = max(len(t) for t in token_lists)
    words = np.zeros((B, T), dtype=np.int64)
    char_index = np.zeros((B, T), dtype=np.int64)
    lengths = np.array([len(t) for t in token_lists], dtype=np.int64)
    lexicon = np.zeros((B, T, len(vocabs.lexicon)), dtype=np.int64) if vocabs.lexicon is not None else None
    rows: dict[str, int] = {}
    char_rows: list[list[int]] = [[]]
    for b, tokens in enumerate(token_lists):
        norm = [normalize(t) for t in tokens]
        words[b, : len(norm)] = vocabs.words.encode(norm)
        for t, word in enumerate(norm):
            key = word[:MAX_WORD_LEN]
            r = rows.get(key)
            if r is None:
                r = rows[key] = len(char_rows)
                char_rows.append(vocabs.char_ids(key))
            char_index[b, t] = r
        if lexicon is not None:
            lexicon[b, : len(norm)] = np.asarray(vocabs.lexicon.match(norm), dtype=np.int64).reshape(len(norm), -1)
    L = max(1, max(len(c) for c in char_rows))
    chars = np.zeros((len(char_rows), L), dtype=np.int64)
    for r, ids in enumerate(char_rows):
        chars[r, : len(ids)] = ids
    out = {"words": words, "chars": chars, "char_index": char_index, "lengths": lengths}
    if lexicon is not None:
        out["lexicon"] = lexicon
    return out
