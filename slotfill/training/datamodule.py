"""LightningDataModule: loads a benchmark once, builds vocabularies from train, encodes, batches."""

from __future__ import annotations

import inspect
import logging
import random
from collections.abc import Callable, Iterator, Sequence

import pytorch_lightning as pl
from torch.utils.data import DataLoader, Sampler

from slotfill.core.lexicon import Lexicon
from slotfill.core.spans import repair_bio
from slotfill.core.tokenize import normalize
from slotfill.core.vocab import Vocabularies
from slotfill.data.check import intent_mismatch
from slotfill.data.formats import Record
from slotfill.data.load import DATA_KEYS, load_data, to_datasetdict
from slotfill.errors import ConfigError, DataError
from slotfill.models.encoding import collate, encode_example
from slotfill.training.augment import MentionSwap, SwappedTrainingSet

log = logging.getLogger(__name__)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar-length sentences: shuffle, sort within pools, shuffle the batches.

    Under DDP each rank takes every ``num_replicas``-th batch; in training the batch list is
    padded so every rank runs the same number of steps. Each ``__iter__`` is a new epoch with
    its own (seeded, rank-independent) order: epoch ``epoch_fn()`` when given (the trainer's
    epoch, so a resumed run shuffles as the uninterrupted run did), else the next one.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        pool_batches: int = 50,
        epoch_fn: Callable[[], int] | None = None,
    ) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.pool = batch_size * pool_batches
        self.epoch = 0
        self.epoch_fn = epoch_fn

    def _batches(self) -> list[list[int]]:
        idx = list(range(len(self.lengths)))
        if not self.shuffle:
            # evaluation: each rank takes every num_replicas-th sentence (no padding, no repeats)
            idx.sort(key=lambda i: self.lengths[i])
            idx = idx[self.rank :: self.num_replicas]
            return [idx[i : i + self.batch_size] for i in range(0, len(idx), self.batch_size)]
        # seed and epoch apart: with seed + epoch, seed 42's second epoch was seed 43's first
        rng = random.Random(f"{self.seed}:{self.epoch}")
        rng.shuffle(idx)
        batches = []
        for p in range(0, len(idx), self.pool):
            pool = sorted(idx[p : p + self.pool], key=lambda i: self.lengths[i])
            batches += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        rng.shuffle(batches)
        n = len(batches)
        while len(batches) % self.num_replicas:  # repeat batches so every rank has as many steps
            batches.append(batches[len(batches) % n])
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        # a generator: the epoch is read when the first batch is asked for, not when the iterator is
        # made (Lightning makes one early, before a resumed run's loops are restored, to count steps
        # for a learning-rate schedule)
        if self.epoch_fn is not None:
            self.epoch = self.epoch_fn()
        batches = self._batches()
        self.epoch += 1
        if self.shuffle:
            batches = batches[self.rank :: self.num_replicas]
        yield from batches

    def __len__(self) -> int:
        if not self.shuffle:
            mine = len(range(self.rank, len(self.lengths), self.num_replicas))
            return -(-mine // self.batch_size)
        n = sum(
            -(-min(self.pool, len(self.lengths) - p) // self.batch_size) for p in range(0, len(self.lengths), self.pool)
        )
        return -(-n // self.num_replicas)


def with_lookups(lexicon: Lexicon | None, lookups: dict[str, list[str]]) -> Lexicon | None:
    """The model's lexicon lists with a training file's lookup tables added (a table named like a
    list extends it, another becomes a new list)."""
    if not lookups:
        return lexicon
    entries = {t: list(lexicon.entries[t]) for t in lexicon.types} if lexicon is not None else {}
    for table, names in lookups.items():
        entries.setdefault(table, []).extend(names)
    log.info("lexicon lists from the training file's lookup tables: %s", ", ".join(lookups))
    return Lexicon(entries)


def check_trainable(splits: dict[str, list[Record]], intents: bool = True) -> None:
    """Refuse a train split without a single slot (a model would learn to tag nothing and score 100%
    sentence accuracy on it); say which splits lack the intents others have (``intents``: the model has
    an intent head)."""
    train = splits["train"]
    if not any(tag != "O" for r in train for tag in r.tags):
        where = (train[0].tag_file or train[0].file) if train else "<train>"
        raise DataError(
            where,
            None,
            "no slot in any sentence of the train split: check the data format's span/tag field "
            "(slotfill data check with the same data settings shows what was read)",
        )
    if intents and (mismatch := intent_mismatch(splits)) is not None:
        log.warning("%s", mismatch)


class SlotDataModule(pl.LightningDataModule):
    """Loads ``train/valid/test`` once; vocabularies come from train unless given (evaluation)."""

    def __init__(
        self,
        name: str | None = None,
        benchmark: str | None = None,
        format: str = "auto",
        scheme: str = "auto",
        path: str | None = None,
        train: str | None = None,
        valid: str | None = None,
        test: str | None = None,
        valid_size: int | None = None,
        hub: dict | None = None,
        batch_size: int = 32,
        eval_batch_size: int = 256,
        min_freq: int = 1,
        num_workers: int = 0,
        seed: int = 0,
        vocabs: Vocabularies | None = None,
        lexicon: Lexicon | None = None,
        intents: bool = True,
    ) -> None:
        super().__init__()
        # where and how to read (see slotfill.data.load); the name is settled when the data is read
        self.data = {
            "name": name,
            "benchmark": benchmark,
            "format": format,
            "scheme": scheme,
            "path": path,
            "train": train,
            "valid": valid,
            "test": test,
            "valid_size": valid_size,
            "hub": dict(hub or {}),
        }
        assert set(self.data) == set(DATA_KEYS)
        self.name = name or benchmark or "data"
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.min_freq = min_freq
        self.num_workers = num_workers
        self.seed = seed
        self.vocabs = vocabs
        self.lexicon = lexicon  # gazetteer lists for new vocabularies (a given vocabs has its own)
        self.intents = intents  # False: a model without an intent head, a split's intents in part are no error
        self.datasets = None
        self.columns: dict[str, dict[str, list]] = {}
        self.encoded: dict[str, list[dict]] = {}
        self.swap: MentionSwap | None = None  # training slot values swapped for lexicon entries (use_mention_swap)

    @classmethod
    def from_config(cls, values: dict, lexicon: Lexicon | None = None, intents: bool = True) -> SlotDataModule:
        """From the plain values of a ``conf/data`` group (and the model's lexicon lists, if any; ``intents``:
        whether the model learns them, ``model.intent``)."""
        known = set(inspect.signature(cls.__init__).parameters) - {"self", "vocabs", "lexicon", "intents"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown setting {', '.join('data.' + k for k in unknown)}")
        return cls(**values, lexicon=lexicon, intents=intents)

    def prepare(self) -> None:
        """Load, check (:func:`check_trainable`) and encode every split (idempotent; call before building the model)."""
        if self.datasets is not None:
            return
        loaded = load_data(self.data)
        check_trainable(loaded.splits, self.intents)
        self.datasets, self.name = to_datasetdict(loaded.splits, self.intents), loaded.name
        # plain lists, read once: a datasets column read row by row costs ~1 ms a row (Arrow formatting)
        self.columns = {split: ds[:] for split, ds in self.datasets.items()}
        train = self.columns["train"]
        if self.vocabs is None:
            self.lexicon = with_lookups(self.lexicon, loaded.extras.lookups)
            self.vocabs = Vocabularies.from_training_data(
                [[normalize(t) for t in s] for s in train["tokens"]],
                [repair_bio(t) for t in train["tags"]],  # the tags encode_example learns
                train["intent"],
                self.min_freq,
                self.lexicon,
            )
            self.vocabs.synonyms = dict(loaded.extras.synonyms)
        for split, ds in self.columns.items():
            self.encoded[split] = [
                encode_example(tokens, tags, intent, self.vocabs, i)
                for i, (tokens, tags, intent) in enumerate(zip(ds["tokens"], ds["tags"], ds["intent"]))
            ]
        sizes = ", ".join(f"{k} {len(v)}" for k, v in self.encoded.items())
        intents = f", {len(self.vocabs.intents)} intents" if self.intents else ""  # a slots-only model reads none
        log.info(
            "%s: %s sentences; %d words, %d tags%s in train vocabulary",
            self.name,
            sizes,
            len(self.vocabs.words),
            len(self.vocabs.tags),
            intents,
        )
        if self.data.get("valid_size") is not None and not loaded.carved_valid:
            log.warning("data.valid_size=%s is not used: the data has a valid split", self.data["valid_size"])

    def use_mention_swap(self, p: float) -> None:
        """Swap training slot values of a lexicon type for other entries with probability ``p`` (needs lexicons)."""
        self.prepare()
        if p > 0 and self.vocabs.lexicon is not None:
            train = self.columns["train"]
            self.swap = MentionSwap.fit(train["tokens"], train["tags"], self.vocabs.lexicon, p)
        else:
            self.swap = None

    def setup(self, stage: str | None = None) -> None:
        self.prepare()

    def gold(self, split: str) -> tuple[list[list[str]], list[str]]:
        """Gold tag sequences and intent labels of a split, exactly as read (unseen labels kept)."""
        self.prepare()
        ds = self.columns[split]
        return ds["tags"], ds["intent"]

    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 1, 0
        return trainer.world_size, trainer.global_rank

    def _trainer_epoch(self) -> int:
        # the count Lightning gives samplers' set_epoch (it never calls a batch sampler's): right
        # after a resume too, where current_epoch still counts the replayed epoch as unfinished
        return int(self.trainer.fit_loop.epoch_progress.current.processed)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        self.prepare()
        world, rank = self._world()
        data = self.encoded[split]
        epoch_fn = self._trainer_epoch if shuffle and getattr(self, "trainer", None) is not None else None
        sampler = BucketBatchSampler(
            [len(ex["words"]) for ex in data],
            self.batch_size if shuffle else self.eval_batch_size,
            shuffle=shuffle,
            seed=self.seed,
            num_replicas=world,
            rank=rank,
            epoch_fn=epoch_fn,
        )
        if split == "train" and self.swap is not None:
            ds = self.columns["train"]
            data = SwappedTrainingSet(
                data, ds["tokens"], ds["tags"], ds["intent"], self.vocabs, self.swap, self.seed, epoch_fn or (lambda: 0)
            )
        return DataLoader(data, batch_sampler=sampler, collate_fn=collate, num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    @property
    def has_test(self) -> bool:
        self.prepare()
        return "test" in self.datasets
