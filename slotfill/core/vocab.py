"""Token, character, tag and intent vocabularies, saved as plain lists inside checkpoints."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from slotfill.core.lexicon import Lexicon
from slotfill.core.tokenize import normalize, visible

PAD = "<pad>"
UNK = "<unk>"
MAX_WORD_LEN = 20  # characters per word seen by the char CNN; longer words keep their first 20

# words whose character ids are memoised: enough for a language's frequent words; 200,000 added
# ~40 MB to a streaming predict's peak on lines with a new number each (bench/RESULTS.md)
CHAR_MEMO = 20_000


class Vocab:
    """A string <-> index map; index 0 is padding and, if ``unk`` is set, index 1 is ``<unk>``."""

    def __init__(self, items: Iterable[str], *, specials: Sequence[str] = (PAD, UNK)) -> None:
        self.specials = list(specials)
        self.itos: list[str] = list(self.specials)
        seen = set(self.itos)
        for item in items:
            if item not in seen:
                seen.add(item)
                self.itos.append(item)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.unk_index = self.stoi.get(UNK)

    @classmethod
    def build(
        cls, sequences: Iterable[Iterable[str]], *, min_freq: int = 1, specials: Sequence[str] = (PAD, UNK)
    ) -> tuple[Vocab, Counter]:
        """Vocabulary of every item seen ``min_freq`` times, most frequent first, and the counts."""
        counts: Counter = Counter()
        for seq in sequences:
            counts.update(seq)
        items = sorted((s for s, c in counts.items() if c >= min_freq), key=lambda s: (-counts[s], s))
        return cls(items, specials=specials), counts

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, item: str) -> bool:
        return item in self.stoi

    def index(self, item: str, default: int | None = None) -> int:
        """Index of ``item``; unknown items map to ``<unk>`` (or ``default`` if given)."""
        i = self.stoi.get(item)
        if i is not None:
            return i
        if default is not None:
            return default
        if self.unk_index is None:
            raise KeyError(item)
        return self.unk_index

    def encode(self, items: Iterable[str], default: int | None = None) -> list[int]:
        fallback = self.unk_index if default is None else default
        if fallback is None:
            return [self.index(s) for s in items]
        get = self.stoi.get
        return [get(s, fallback) for s in items]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def to_dict(self) -> dict:
        return {"itos": list(self.itos), "specials": list(self.specials)}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        specials = list(d["specials"])
        return cls(d["itos"][len(specials) :], specials=specials)


def normalize_intent(label: str) -> str:
    """An intent label as slotfill keeps it: atomic intents joined by ``#``.

    ATIS joins multi-intents with ``#``, its hub copy with ``+``; readers call this once. Written
    alike, two labels are one intent: NFC, invisible characters (a BOM, a zero-width space) dropped.
    """
    label = unicodedata.normalize("NFC", visible(label)).strip()
    return join_intent(p for p in label.replace("+", "#").split("#") if p)


def split_intent(label: str) -> list[str]:
    """Atomic intents of a (normalised) label."""
    return [p for p in label.split("#") if p]


def join_intent(parts: Iterable[str]) -> str:
    return "#".join(parts)


def rasa_intent(label: str) -> str:
    """An intent as Rasa names it: a multi-intent's parts joined by ``+`` (its ``intent_split_symbol``)."""
    return "+".join(split_intent(label))


class Vocabularies:
    """Everything a tagger needs to turn text into ids and ids back into labels."""

    def __init__(
        self,
        words: Vocab,
        chars: Vocab,
        tags: Vocab,
        intents: Vocab,
        singletons: list[int],
        intent_sets: list[list[int]] | None = None,
        lexicon: Lexicon | None = None,
        synonyms: dict[str, str] | None = None,
    ) -> None:
        self.words = words
        self.chars = chars
        self.tags = tags
        self.intents = intents
        self.singletons = singletons  # word ids seen once in train: candidates for <unk> replacement
        # the combinations of atomic intents seen in train (sorted ids): multi-intent decoding
        # picks the likeliest of these rather than thresholding each atom on its own
        self.intent_sets = [sorted(s) for s in intent_sets or []]
        self.lexicon = lexicon if lexicon is not None and len(lexicon) else None  # gazetteer lists, if any
        # lowercased entity text -> the value answered for it (Rasa synonyms of the training file)
        self.synonyms = dict(synonyms or {})
        self._char_cache: dict[str, list[int]] = {}

    def char_ids(self, word: str) -> list[int]:
        """Character ids of a word, memoised (words repeat far more often than they are new)."""
        ids = self._char_cache.get(word)
        if ids is None:
            if len(self._char_cache) >= CHAR_MEMO:  # a long-running tagger's memory stays bounded
                self._char_cache.clear()
            ids = self._char_cache[word] = self.chars.encode(word)
        return ids

    @classmethod
    def from_training_data(
        cls,
        tokens: Sequence[Sequence[str]],
        tags: Sequence[Sequence[str]],
        intents: Sequence[str],
        min_freq: int = 1,
        lexicon: Lexicon | None = None,
    ) -> Vocabularies:
        words, counts = Vocab.build(tokens, min_freq=min_freq)
        chars, _ = Vocab.build("".join(t) for t in tokens)
        # "O" first keeps tag 0 meaningful for padding-free code paths; no PAD/UNK: a tag is a class.
        tag_vocab, _ = Vocab.build(tags, specials=("O",))
        intent_vocab, _ = Vocab.build((split_intent(i) for i in intents), specials=())
        singletons = sorted(words.stoi[w] for w, c in counts.items() if c == 1 and w in words)
        sets = {tuple(sorted({intent_vocab.stoi[p] for p in split_intent(i)})) for i in intents if split_intent(i)}
        return cls(words, chars, tag_vocab, intent_vocab, singletons, [list(s) for s in sorted(sets)], lexicon)

    def to_dict(self, packed: bool = False) -> dict:
        """Plain containers; ``packed``: the lexicon's entries one string per type (:meth:`Lexicon.to_dict`)."""
        return {
            "words": self.words.to_dict(),
            "chars": self.chars.to_dict(),
            "tags": self.tags.to_dict(),
            "intents": self.intents.to_dict(),
            "singletons": list(self.singletons),
            "intent_sets": [list(s) for s in self.intent_sets],
            "lexicon": self.lexicon.to_dict(packed) if self.lexicon else None,
            **({"synonyms": dict(self.synonyms)} if self.synonyms else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Vocabularies:
        return cls(
            Vocab.from_dict(d["words"]),
            Vocab.from_dict(d["chars"]),
            Vocab.from_dict(d["tags"]),
            Vocab.from_dict(d["intents"]),
            list(d["singletons"]),
            d.get("intent_sets"),  # absent in checkpoints from before set decoding
            Lexicon.from_dict(d["lexicon"]) if d.get("lexicon") else None,
            d.get("synonyms"),  # absent in models trained without synonyms
        )

    def value_of(self, text: str) -> str:
        """The value answered for an entity's text: its synonym's, else the text itself. Texts are
        compared as the model reads them (:func:`synonym_key`): ``new  york`` and ``NEW\u00a0York``
        are ``new york``'s."""
        if not self.synonyms:
            return text
        if getattr(self, "_keyed_from", None) is not self.synonyms:  # the dict may be replaced after loading
            self._keyed = {synonym_key(k): v for k, v in self.synonyms.items()}
            self._keyed_from = self.synonyms
        return self._keyed.get(synonym_key(text), text)


def synonym_key(text: str) -> str:
    """An entity text as its words normalised, one space apart (how synonyms are looked up)."""
    return " ".join(normalize(w) for w in text.split())
