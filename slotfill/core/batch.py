"""A batch of token lists as the network's int64 inputs, in numpy (torch-free).

The one encoder of prediction: the PyTorch tagger, ONNX Runtime, evaluation and the server all
go through :func:`encode_batch`. Each distinct token of a batch is normalised, looked up and
spelled once (a 256-sentence batch of ATIS holds ~2,800 tokens but a few hundred distinct
ones); only the lexicon match, which depends on the neighbours, runs per sentence. It gives
exactly what training's :func:`slotfill.models.encoding.collate` gives for the same sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slotfill.core.tokenize import normalize
from slotfill.core.vocab import MAX_WORD_LEN, Vocabularies


def encode_batch(token_lists: Sequence[Sequence[str]], vocabs: Vocabularies) -> dict[str, np.ndarray]:
    """``words [B,T]``, ``chars [U,L]``, ``char_index [B,T]``, ``lengths [B]`` (and ``lexicon [B,T,types]``).

    ``chars`` holds one row per distinct (normalised, truncated) word, row 0 the padding word, in
    the order the words first occur; ``char_index`` points into it.
    """
    B = len(token_lists)
    lengths = np.array([len(t) for t in token_lists], dtype=np.int64)
    T = int(lengths.max()) if B else 0
    types: dict[str, int] = {}  # each distinct token, numbered from 1 (0 is padding)
    index = np.zeros((B, T), dtype=np.int64)
    for b, tokens in enumerate(token_lists):
        row = [types.setdefault(token, len(types) + 1) for token in tokens]
        index[b, : len(row)] = row
    norms = [normalize(token) for token in types]
    word_of = np.array([0, *vocabs.words.encode(norms)], dtype=np.int64)
    rows: dict[str, int] = {}
    char_rows: list[list[int]] = [[]]
    char_of = [0]
    for norm in norms:
        key = norm[:MAX_WORD_LEN]
        r = rows.get(key)
        if r is None:
            r = rows[key] = len(char_rows)
            char_rows.append(vocabs.char_ids(key))
        char_of.append(r)
    L = max(1, max(len(c) for c in char_rows))
    chars = np.zeros((len(char_rows), L), dtype=np.int64)
    for r, ids in enumerate(char_rows[1:], 1):
        chars[r, : len(ids)] = ids
    out = {
        "words": word_of[index],
        "chars": chars,
        "char_index": np.array(char_of, dtype=np.int64)[index],
        "lengths": lengths,
    }
    if vocabs.lexicon is not None:
        lexicon = np.zeros((B, T, len(vocabs.lexicon)), dtype=np.int64)
        for b, tokens in enumerate(token_lists):
            if tokens:
                match = vocabs.lexicon.match([norms[types[t] - 1] for t in tokens])
                lexicon[b, : len(tokens)] = match
        out["lexicon"] = lexicon
    return out
