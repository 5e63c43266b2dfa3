"""Turn token lists into id tensors and pad them into batches (shared by training and the tagger)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .vocab import Vocabularies, split_intent

IGNORE = -100  # tag id of padding and of gold tags the training vocabulary lacks (ignored by the loss)
MAX_WORD_LEN = 20  # characters per word seen by the char CNN; longer words keep their first 20


def encode_tokens(tokens: Sequence[str], vocabs: Vocabularies, max_word_len: int = MAX_WORD_LEN) -> dict:
    """Word ids (lower-cased lookup) and char ids for one sentence."""
    words = torch.tensor([vocabs.words.index(t.lower()) for t in tokens], dtype=torch.long)
    ids = [vocabs.chars.encode(t[:max_word_len]) for t in tokens]
    chars = torch.zeros(len(tokens), max((len(c) for c in ids), default=1) or 1, dtype=torch.long)
    for i, c in enumerate(ids):
        chars[i, : len(c)] = torch.tensor(c, dtype=torch.long)
    return {"words": words, "chars": chars}


def encode_example(
    tokens: Sequence[str], tags: Sequence[str], intent: str, vocabs: Vocabularies, index: int
) -> dict:
    """Ids for one labelled sentence; unseen tags become IGNORE, unseen atomic intents are left out."""
    ex = encode_tokens(tokens, vocabs)
    ex["tags"] = torch.tensor([vocabs.tags.stoi.get(t, IGNORE) for t in tags], dtype=torch.long)
    multi_hot = torch.zeros(len(vocabs.intents))
    for part in split_intent(intent):
        i = vocabs.intents.stoi.get(part)
        if i is not None:
            multi_hot[i] = 1.0
    ex["intents"] = multi_hot
    ex["index"] = index
    return ex


def collate(batch: Sequence[dict]) -> dict:
    """Pad a list of encoded sentences into tensors (tags padded with IGNORE)."""
    lengths = torch.tensor([len(ex["words"]) for ex in batch], dtype=torch.long)
    B, T = len(batch), int(lengths.max())
    L = max(ex["chars"].shape[1] for ex in batch)
    words = torch.zeros(B, T, dtype=torch.long)
    chars = torch.zeros(B, T, L, dtype=torch.long)
    for b, ex in enumerate(batch):
        n, w = ex["chars"].shape
        words[b, :n] = ex["words"]
        chars[b, :n, :w] = ex["chars"]
    out = {"words": words, "chars": chars, "lengths": lengths}
    if "tags" in batch[0]:
        tags = torch.full((B, T), IGNORE, dtype=torch.long)
        for b, ex in enumerate(batch):
            tags[b, : len(ex["tags"])] = ex["tags"]
        out["tags"] = tags
        out["intents"] = torch.stack([ex["intents"] for ex in batch])
    if "index" in batch[0]:
        out["index"] = torch.tensor([ex["index"] for ex in batch], dtype=torch.long)
    return out
