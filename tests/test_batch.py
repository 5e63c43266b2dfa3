"""core/batch.py: the prediction encoder gives exactly training's encoding, each distinct token once."""

from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.core.batch import encode_batch
from slotfill.models.encoding import collate, encode_tokens
from tests.helpers import examples, tiny_vocabs

WORDS = ["to", "TO", "taipei", "new", "york", "boston", "caf\u00e9", "cafe\u0301", "xyzzy", "a" * 40, "to\u200b"]
SENTENCES = st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8), min_size=1, max_size=6)


@settings(max_examples=examples(60), deadline=None)
@given(SENTENCES, st.booleans())
def test_encode_batch_equals_collate_of_encode_tokens(sentences, lexicon):
    vocabs = tiny_vocabs(lexicon=lexicon)
    ours = encode_batch(sentences, vocabs)
    theirs = collate([encode_tokens(s, vocabs) for s in sentences])
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        assert ours[key].dtype.name == "int64", key
        assert ours[key].tolist() == value.tolist(), key


def test_each_distinct_word_is_spelled_once():
    vocabs = tiny_vocabs()
    b = encode_batch([["to", "To", "taipei"], ["TO"]], vocabs)
    assert b["chars"].shape[0] == 3  # the padding word, "to" (however written), "taipei"
    assert b["char_index"].tolist() == [[1, 1, 2], [1, 0, 0]]
    assert b["words"][0, 0] == b["words"][0, 1] == b["words"][1, 0] == vocabs.words.index("to")
