"""Turn token lists into id tensors and pad them into batches (shared by training and the tagger)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence

from slotfill.core.spans import repair_bio
from slotfill.core.tokenize import normalize
from slotfill.core.vocab import MAX_WORD_LEN, Vocabularies, split_intent

IGNORE = -100  # tag id of padding and of gold tags the training vocabulary lacks (ignored by the loss)


def encode_tokens(tokens: Sequence[str], vocabs: Vocabularies, max_word_len: int = MAX_WORD_LEN) -> dict:
    """Word ids and char ids for one sentence, both looked up in the normalised form."""
    norm = [normalize(t) for t in tokens]
    words = torch.tensor(vocabs.words.encode(norm), dtype=torch.long)
    keys = [t[:max_word_len] for t in norm]
    out = {"words": words, "keys": keys, "char_ids": [vocabs.char_ids(k) for k in keys]}
    if vocabs.lexicon is not None:
        match = vocabs.lexicon.match(norm)
        out["lexicon"] = torch.tensor(match, dtype=torch.long).reshape(len(norm), len(vocabs.lexicon))
    return out


def encode_example(tokens: Sequence[str], tags: Sequence[str], intent: str, vocabs: Vocabularies, index: int) -> dict:
    """Ids for one labelled sentence; unseen tags become IGNORE, unseen atomic intents are left out.

    Tags are learnt as they are scored: an ``I-x`` that starts a chunk is ``B-x`` (conlleval's reading),
    never a target no decoder can give (the CRF's loss was 10,000 for each)."""
    ex = encode_tokens(tokens, vocabs)
    ex["tags"] = torch.tensor([vocabs.tags.stoi.get(t, IGNORE) for t in repair_bio(tags)], dtype=torch.long)
    multi_hot = torch.zeros(len(vocabs.intents))
    for part in split_intent(intent):
        i = vocabs.intents.stoi.get(part)
        if i is not None:
            multi_hot[i] = 1.0
    ex["intents"] = multi_hot
    ex["index"] = index
    return ex


def collate(batch: Sequence[dict]) -> dict:
    """Pad a list of encoded sentences into tensors (tags padded with IGNORE).

    Characters are stored once per distinct word in the batch (``chars [U, L]``, row 0 is the
    padding word) with ``char_index [B, T]`` pointing into it: the char CNN then runs once per
    word type instead of once per token.
    """
    lengths = torch.tensor([len(ex["words"]) for ex in batch], dtype=torch.long)
    B, T = len(batch), int(lengths.max())
    words = pad_sequence([ex["words"] for ex in batch], batch_first=True)
    rows: dict[str, int] = {}
    char_rows: list[list[int]] = [[]]
    index = [[0] * T for _ in range(B)]
    for b, ex in enumerate(batch):
        idx = index[b]
        for t, (key, ids) in enumerate(zip(ex["keys"], ex["char_ids"])):
            r = rows.get(key)
            if r is None:
                r = rows[key] = len(char_rows)
                char_rows.append(ids)
            idx[t] = r
    L = max(1, max(len(c) for c in char_rows))
    chars = torch.tensor([c + [0] * (L - len(c)) for c in char_rows], dtype=torch.long)
    out = {"words": words, "chars": chars, "char_index": torch.tensor(index, dtype=torch.long), "lengths": lengths}
    if "lexicon" in batch[0]:  # gazetteer features [B, T, types]; padding is 0
        out["lexicon"] = pad_sequence([ex["lexicon"] for ex in batch], batch_first=True)
    if "tags" in batch[0]:
        out["tags"] = pad_sequence([ex["tags"] for ex in batch], batch_first=True, padding_value=IGNORE)
        out["intents"] = torch.stack([ex["intents"] for ex in batch])
    if "index" in batch[0]:
        out["index"] = torch.tensor([ex["index"] for ex in batch], dtype=torch.long)
    return out
