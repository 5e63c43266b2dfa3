"""datamodule.py: length-bucketed batches, DDP shards, one encoding pass."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.errors import ConfigError, DataError
from slotfill.training.datamodule import BucketBatchSampler, SlotDataModule
from tests.helpers import examples


@settings(max_examples=examples(50), deadline=None)
@given(
    st.lists(st.integers(1, 40), min_size=1, max_size=200),
    st.integers(1, 16),
    st.integers(1, 3),
    st.booleans(),
)
def test_bucket_sampler_covers_every_sentence(lengths, batch_size, world, shuffle):
    samplers = [
        BucketBatchSampler(lengths, batch_size, shuffle, seed=3, num_replicas=world, rank=r) for r in range(world)
    ]
    per_rank = [list(s) for s in samplers]
    for s, batches in zip(samplers, per_rank):
        assert len(s) == len(batches)
        assert all(0 < len(b) <= batch_size for b in batches)
    seen = [i for batches in per_rank for b in batches for i in b]
    assert set(seen) == set(range(len(lengths)))
    if shuffle:
        # every rank runs the same number of steps (DDP would hang otherwise)
        assert len({len(b) for b in per_rank}) == 1
    else:
        assert len(seen) == len(lengths)  # evaluation: each sentence exactly once


def test_bucket_sampler_groups_similar_lengths_and_reshuffles():
    lengths = [(i * 7) % 30 + 1 for i in range(400)]
    s = BucketBatchSampler(lengths, 16, shuffle=True, seed=0)
    first, second = list(s), list(s)
    assert first != second
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first) / len(first)
    assert spread < 5


def test_seeds_never_share_an_epochs_order():
    """Runs of seeds 42 and 43 are independent samples: no epoch of one shuffles as an epoch of the other."""
    lengths = [(i * 7) % 30 + 1 for i in range(200)]

    def orders(seed):
        epoch = [0]
        s = BucketBatchSampler(lengths, 8, shuffle=True, seed=seed, epoch_fn=lambda: epoch[0])
        out = []
        for epoch[0] in range(3):
            out.append(list(s))
        return out

    a, b = orders(42), orders(43)
    assert not [x for x in a for y in b if x == y]
    assert orders(42) == a  # and each seed's epochs stay what they were (resume)


@pytest.mark.slow  # ~0.7-1.1 s
def test_datamodule_encodes_once_and_batches(sample_dir):
    dm = SlotDataModule(name="sample", path=str(sample_dir), batch_size=8)
    dm.prepare()
    encoded = dm.encoded["train"]
    dm.prepare()
    assert dm.encoded["train"] is encoded
    batch = next(iter(dm.train_dataloader()))
    assert batch["words"].shape[0] <= 8
    assert batch["char_index"].shape == batch["words"].shape
    assert batch["chars"].shape[0] == int(batch["char_index"].max()) + 1


def test_from_config_refuses_unknown_settings(sample_dir):
    dm = SlotDataModule.from_config({"name": "sample", "path": str(sample_dir), "batch_size": 4})
    assert dm.batch_size == 4 and dm.name == "sample"
    with pytest.raises(ConfigError, match="data.batchsize"):
        SlotDataModule.from_config({"batchsize": 4})


def test_a_slot_seen_only_as_inside_tags_that_start_chunks_gets_its_begin_tag(tmp_path):
    from tests.conftest import write_split

    split = write_split(tmp_path, "train", "to new york\n" * 12, "O I-city I-city\n" * 12, "flight\n" * 12)
    dm = SlotDataModule(name="x", path=str(split), batch_size=4)
    dm.prepare()
    assert "B-city" in dm.vocabs.tags.itos
    assert all(
        ex["tags"].tolist() == [0, dm.vocabs.tags.index("B-city"), dm.vocabs.tags.index("I-city")]
        for ex in dm.encoded["train"]
    )


def test_what_the_data_gives_and_lacks_is_said(sample_dir, tmp_path, caplog):
    """A valid_size with a valid split is unused, a carved valid split and a model without intents are said."""
    from tests.conftest import write_split

    with caplog.at_level("INFO"):
        SlotDataModule(name="sample", path=str(sample_dir), valid_size=5, intents=False).prepare()
    assert "data.valid_size=5 is not used: the data has a valid split" in caplog.text
    assert "intents in train vocabulary" not in caplog.text  # a slots-only model reads none
    caplog.clear()
    split = write_split(tmp_path, "train", "to boston\n" * 20, "O B-city\n" * 20, "flight\n" * 20)
    with caplog.at_level("INFO"):
        SlotDataModule(name="x", path=str(split), valid_size=4).prepare()
    assert "no valid split: 4 training sentences set aside as valid (data.valid_size)" in caplog.text


def test_a_train_split_without_any_slot_is_refused_before_training(tmp_path):
    """Every tag O (a format whose span field was not read): it trained to "sentence acc 100.00" before."""
    from tests.conftest import write_split

    split = write_split(tmp_path, "train", "to boston\n" * 12, "O O\n" * 12, "flight\n" * 12)
    dm = SlotDataModule(name="x", path=str(split))
    with pytest.raises(DataError, match=r"train/seq.out: no slot in any sentence of the train split: check the data"):
        dm.prepare()
    assert dm.datasets is None and not dm.encoded


def test_splits_with_and_without_intents_are_said_at_start(tmp_path, caplog):
    """A forgotten valid/label file: trained and picked checkpoints on slots alone without a word before."""
    from tests.conftest import write_split

    write_split(tmp_path, "train", "to boston\n" * 12, "O B-city\n" * 12, "flight\n" * 12)
    write_split(tmp_path, "valid", "to denver\n" * 2, "O B-city\n" * 2, None)
    with caplog.at_level("WARNING"):
        SlotDataModule(name="x", path=str(tmp_path)).prepare()
    said = [r.getMessage() for r in caplog.records if "no intents" in r.getMessage()]
    assert len(said) == 1 and "valid has no intents while train has them" in said[0]
    caplog.clear()
    with caplog.at_level("WARNING"):  # a model without an intent head has no use for them
        SlotDataModule(name="x", path=str(tmp_path), intents=False).prepare()
    assert "no intents" not in caplog.text
