"""encoding.py: token lists to id tensors; one normalisation for word and character keys."""

from slotfill.models.encoding import IGNORE, collate, encode_example, encode_tokens
from tests.helpers import tiny_vocabs


def test_unseen_labels_are_ignored_not_dropped():
    v = tiny_vocabs()
    ex = encode_example(["go", "to", "mars"], ["O", "O", "B-planet"], "space#flight", v, 0)
    assert ex["tags"].tolist() == [0, 0, IGNORE]
    assert ex["intents"].sum() == 1  # the known atom "flight" only
    assert ex["words"].tolist() == [v.words.unk_index, v.words.index("to"), v.words.unk_index]


def test_mixed_case_and_decomposed_input_maps_like_the_training_text():
    v = tiny_vocabs()
    lower, upper = encode_tokens(["taipei"], v), encode_tokens(["TAIPEI"], v)
    assert lower["words"].tolist() == upper["words"].tolist()
    assert lower["char_ids"] == upper["char_ids"]  # capitals are not <unk> characters
    assert v.chars.unk_index not in upper["char_ids"][0]
    composed, decomposed = encode_tokens(["caf\u00e9"], v), encode_tokens(["cafe\u0301"], v)
    assert composed["keys"] == decomposed["keys"] == ["caf\u00e9"]


def test_collate_shares_character_rows_between_repeated_words():
    v = tiny_vocabs()
    b = collate([encode_tokens(["to", "to", "taipei"], v), encode_tokens(["to"], v)])
    assert b["chars"].shape[0] == 3  # the padding word, "to", "taipei"
    assert b["char_index"].tolist() == [[1, 1, 2], [1, 0, 0]]


def test_an_inside_tag_that_starts_a_chunk_is_learnt_as_its_begin_tag():
    """As conlleval reads it: the CRF's loss for a target no decoder can give was 10,000 a token."""
    v = tiny_vocabs()
    ex = encode_example(["go", "to", "york"], ["O", "I-to", "I-to"], "flight", v, 0)
    assert ex["tags"].tolist() == [0, v.tags.index("B-to"), v.tags.index("I-to")]
