"""vocab.py: vocabularies to and from plain dicts; intent labels; the character-id memo."""

from slotfill.core import vocab
from slotfill.core.vocab import Vocabularies, normalize_intent, split_intent
from tests.helpers import tiny_vocabs


def test_vocab_round_trip():
    v = tiny_vocabs()
    w = Vocabularies.from_dict(v.to_dict())
    assert w.words.itos == v.words.itos and w.tags.itos == v.tags.itos and w.intents.itos == v.intents.itos
    assert w.singletons == v.singletons
    assert set(v.intents.itos) == {"flight", "airfare"}
    flight, airfare = v.intents.stoi["flight"], v.intents.stoi["airfare"]
    assert w.intent_sets == v.intent_sets == sorted([[flight], sorted([flight, airfare])])
    old = v.to_dict()
    del old["intent_sets"]  # checkpoints written before set decoding
    assert Vocabularies.from_dict(old).intent_sets == []


def test_multi_intents_are_normalised_once_to_hash_joined_atoms():
    assert normalize_intent(" flight+airfare ") == "flight#airfare"
    assert normalize_intent("flight##airfare") == "flight#airfare"
    assert split_intent(normalize_intent("a+b#c")) == ["a", "b", "c"]


def test_synonyms_travel_with_the_vocabularies_and_map_values_case_blind():
    v = Vocabularies.from_training_data([["to", "nyc"]], [["O", "B-city"]], ["book"])
    v.synonyms = {"nyc": "New York"}
    back = Vocabularies.from_dict(v.to_dict())
    assert back.value_of("NYC") == "New York"
    assert back.value_of("boston") == "boston"
    # a model without synonyms keeps the file format it had
    assert "synonyms" not in Vocabularies.from_training_data([["a"]], [["O"]], ["x"]).to_dict()


def test_the_character_memo_stays_bounded_and_right(monkeypatch):
    """A stream with a new word on every line (a number, an id) must not grow the memo for good."""
    monkeypatch.setattr(vocab, "CHAR_MEMO", 3)
    v = tiny_vocabs()
    words = [f"boston{i}" for i in range(10)]
    for word in words * 2:
        assert v.char_ids(word) == v.chars.encode(word)
        assert len(v._char_cache) <= 3


def test_a_synonym_is_found_whatever_the_spaces_case_and_unicode_form_of_the_text():
    from tests.helpers import tiny_vocabs

    v = tiny_vocabs()
    v.synonyms = {"new york": "NYC", "são paulo": "SAO"}
    for text in ("new york", "New  York", "new\u00a0york", "new\tyork", "NEW YORK"):
        assert v.value_of(text) == "NYC", text
    assert v.value_of("Sa\u0303o Paulo") == v.value_of("São Paulo") == "SAO"  # decomposed and composed
    assert v.value_of("newyork") == "newyork"  # not a synonym: the text as written
