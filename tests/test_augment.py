"""augment.py: slot types read off the training data, and the mention swap itself."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.core.lexicon import Lexicon
from slotfill.core.spans import bio_spans, repair_bio
from slotfill.training.augment import MIN_VALUES, MentionSwap, SwappedTrainingSet
from slotfill.training.datamodule import SlotDataModule
from tests.helpers import examples

LEX = Lexicon({"city": ["boston", "denver", "kuala lumpur", "rio de janeiro"], "state": ["ohio", "texas"]})

# fromloc values are all cities; toloc values mostly are not; "day" values are never listed
TOKENS = [["from", "boston", "to", "nowhere", "on", "monday"]] * MIN_VALUES + [["from", "Denver", "to", "ohio"]]
TAGS = [["O", "B-fromloc", "O", "B-toloc", "O", "B-day"]] * MIN_VALUES + [["O", "B-fromloc", "O", "B-toloc"]]


def test_slot_types_come_from_the_training_values():
    swap = MentionSwap.fit(TOKENS, TAGS, LEX, 1.0)
    assert swap.slot_types == {"fromloc": "city"}  # toloc: 1 of 6 listed; day: none
    assert MentionSwap.fit(TOKENS[:2], TAGS[:2], LEX, 1.0) is None  # too few values to tell


def test_a_slot_training_only_saw_one_word_long_gets_only_one_word_names():
    """No I- tag of it in the vocabulary: "kuala lumpur" would teach B-x O (or skip a token)."""
    swap = MentionSwap.fit(TOKENS, TAGS, LEX, 1.0)  # every fromloc value is one word
    assert swap.one_word == {"fromloc"}
    names = {" ".join(swap(TOKENS[0], TAGS[0], random.Random(seed))[0][1:2]) for seed in range(40)}
    assert names == {"boston", "denver"}
    longer = [["from", "new", "york"]] * MIN_VALUES, [["O", "B-fromloc", "I-fromloc"]] * MIN_VALUES
    lex = Lexicon({"city": [*LEX.entries["city"], "new york"]})
    assert MentionSwap.fit(*longer, lex, 1.0).one_word == frozenset()


def test_swap_replaces_typed_values_whole_and_tags_them_b_then_i():
    swap = MentionSwap(LEX, {"fromloc": "city"}, 1.0)
    rng = random.Random(0)
    seen = set()
    for _ in range(50):
        tokens, tags = swap(TOKENS[0], TAGS[0], rng)
        (fromloc,) = [(s, e) for slot, s, e in bio_spans(tags) if slot == "fromloc"]
        name = " ".join(tokens[fromloc[0] : fromloc[1]])
        assert name in LEX.entries["city"]
        assert tags[fromloc[0] :] == ["B-fromloc", *["I-fromloc"] * (fromloc[1] - fromloc[0] - 1), "O", "B-toloc"] + [
            "O",
            "B-day",
        ]
        assert tokens[fromloc[1] :] == ["to", "nowhere", "on", "monday"]
        seen.add(name)
    assert seen == set(LEX.entries["city"])
    assert MentionSwap(LEX, {"fromloc": "city"}, 0.0)(TOKENS[0], TAGS[0], rng) is None


@settings(max_examples=examples(100), deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["O", "B-fromloc", "I-fromloc", "B-day", "I-day"]), st.sampled_from(["a", "b"])),
        max_size=12,
    ),
    st.floats(0, 1),
    st.integers(0, 99),
)
def test_swapped_sentences_stay_well_formed_and_keep_untyped_values(pairs, p, seed):
    tags = repair_bio([t for t, _ in pairs])
    tokens = [w for _, w in pairs]
    out = MentionSwap(LEX, {"fromloc": "city"}, p)(tokens, tags, random.Random(seed))
    if out is None:
        return
    new_tokens, new_tags = out
    assert len(new_tokens) == len(new_tags)
    assert [t for t in new_tags if not t.endswith("fromloc")] == [t for t in tags if not t.endswith("fromloc")]
    assert len([s for s in bio_spans(new_tags) if s[0] == "fromloc"]) == len(
        [s for s in bio_spans(tags) if s[0] == "fromloc"]
    )
    for prev, cur in zip(["O", *new_tags], new_tags):
        assert not cur.startswith("I-") or prev[2:] == cur[2:]


@pytest.mark.slow
def test_swapped_training_set_is_seeded_by_epoch_and_sentence(sample_dir):
    probe = SlotDataModule(name="sample", path=str(sample_dir))
    probe.prepare()
    train = probe.datasets["train"]
    cities = {" ".join(t[s:e]) for t, g in zip(train["tokens"], train["tags"]) for _, s, e in bio_spans(g)}
    lexicon = Lexicon({"city": [*cities, "kuala lumpur", "rio de janeiro"]})
    dm = SlotDataModule(name="sample", path=str(sample_dir), batch_size=8, lexicon=lexicon)
    dm.use_mention_swap(1.0)
    assert dm.swap is not None and dm.swap.slot_types["fromloc.city_name"] == "city"
    epoch = [0]
    ds = dm.datasets["train"]
    data = SwappedTrainingSet(
        dm.encoded["train"], ds["tokens"], ds["tags"], ds["intent"], dm.vocabs, dm.swap, 7, lambda: epoch[0]
    )

    def words(i):
        return data[i]["keys"]

    first = [words(i) for i in range(len(data))]
    assert first == [words(i) for i in range(len(data))]  # the same epoch reads the same sentences
    assert any(w != [t.lower() for t in toks] for w, toks in zip(first, ds["tokens"]))  # values were swapped
    epoch[0] = 1
    assert [words(i) for i in range(len(data))] != first
    batch = next(iter(dm.train_dataloader()))  # batches of swapped sentences collate
    assert batch["lexicon"].shape[:2] == batch["words"].shape


@pytest.mark.slow
def test_no_swap_without_lexicons_or_probability(sample_dir):
    dm = SlotDataModule(name="sample", path=str(sample_dir), batch_size=8)
    dm.use_mention_swap(0.5)
    assert dm.swap is None
    dm = SlotDataModule(name="sample", path=str(sample_dir), batch_size=8, lexicon=LEX)
    dm.use_mention_swap(0.0)
    assert dm.swap is None
