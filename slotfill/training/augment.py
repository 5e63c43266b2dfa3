"""Mention swap: training slot values replaced by other names of the same lexicon type.

A slot whose training values are mostly entries of one lexicon list (``fromloc.city_name``:
city names) is a slot *of that type*. During training each of its values is replaced, with
probability ``train.mention_swap``, by a random entry of the list: "leave boston" becomes
"leave kuala lumpur" tagged ``B-fromloc.city_name I-fromloc.city_name``. The model then meets
names it has no vector for, one word or several, in every context the training data has, and
learns to tag them from context, spelling and the lexicon feature. Which slots have a type
is read off the training data, never configured per dataset.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence

import torch
from torch.utils.data import Dataset

from slotfill.core.lexicon import Lexicon
from slotfill.core.spans import bio_spans
from slotfill.core.tokenize import normalize
from slotfill.core.vocab import Vocabularies
from slotfill.models.encoding import encode_example

log = logging.getLogger(__name__)

MIN_SHARE = 0.5  # a slot has a type when at least this share of its training values are entries of it
MIN_VALUES = 5  # ...and it has at least this many values


class MentionSwap:
    """Which slots hold names of which lexicon type, and the swap itself."""

    def __init__(
        self, lexicon: Lexicon, slot_types: dict[str, str], p: float, one_word: frozenset[str] = frozenset()
    ) -> None:
        self.slot_types = slot_types
        self.p = p
        self.one_word = one_word  # slots training never saw an I- tag of: no I- target to give a longer name
        self._entries = {t: [e.split(" ") for e in lexicon.entries[t]] for t in set(slot_types.values())}
        self._single = {t: [e for e in names if len(e) == 1] for t, names in self._entries.items()}

    @classmethod
    def fit(
        cls, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], lexicon: Lexicon, p: float
    ) -> MentionSwap | None:
        """Slot types read off the training sentences; None when no slot has one."""
        values: dict[str, int] = Counter()
        listed: dict[str, Counter] = {}
        longer: set[str] = set()
        for sentence, sentence_tags in zip(tokens, tags):
            for slot, start, end in bio_spans(sentence_tags):
                value = [normalize(w) for w in sentence[start:end]]
                values[slot] += 1
                if end - start > 1:
                    longer.add(slot)
                for kind in lexicon.types:
                    if lexicon.lists(kind, value):
                        listed.setdefault(slot, Counter())[kind] += 1
        slot_types = {}
        for slot, counts in listed.items():
            kind, n = counts.most_common(1)[0]
            if values[slot] >= MIN_VALUES and n / values[slot] >= MIN_SHARE:
                slot_types[slot] = kind
                log.info("mention swap: %s values are %s names (%d of %d listed)", slot, kind, n, values[slot])
        return cls(lexicon, slot_types, p, frozenset(slot_types) - longer) if slot_types else None

    def __call__(
        self, tokens: Sequence[str], tags: Sequence[str], rng: random.Random
    ) -> tuple[list[str], list[str]] | None:
        """The sentence with each typed slot value swapped with probability ``p``; None if none was."""
        out_tokens, out_tags, at = [], [], 0
        for slot, start, end in bio_spans(tags):
            kind = self.slot_types.get(slot)
            if kind is None or rng.random() >= self.p:
                continue
            names = self._single[kind] if slot in self.one_word else self._entries[kind]
            if not names:
                continue
            name = rng.choice(names)
            out_tokens += [*tokens[at:start], *name]
            out_tags += [*tags[at:start], f"B-{slot}", *[f"I-{slot}"] * (len(name) - 1)]
            at = end
        if not at:
            return None
        return out_tokens + list(tokens[at:]), out_tags + list(tags[at:])


class SwappedTrainingSet(Dataset):
    """The training split with typed slot values swapped: seeded per epoch and sentence, re-encoded when changed."""

    def __init__(
        self,
        encoded: Sequence[dict],
        tokens: Sequence[Sequence[str]],
        tags: Sequence[Sequence[str]],
        intents: Sequence[str],
        vocabs: Vocabularies,
        swap: MentionSwap,
        seed: int,
        epoch_fn: Callable[[], int],
    ) -> None:
        self.encoded, self.tokens, self.tags, self.intents = encoded, tokens, tags, intents
        self.vocabs, self.swap, self.seed, self.epoch_fn = vocabs, swap, seed, epoch_fn

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = random.Random(f"{self.seed}:{self.epoch_fn()}:{i}")  # a resumed run swaps as the uninterrupted one did
        swapped = self.swap(self.tokens[i], self.tags[i], rng)
        if swapped is None:
            return self.encoded[i]
        return encode_example(*swapped, self.intents[i], self.vocabs, i)
