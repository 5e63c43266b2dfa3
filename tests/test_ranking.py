"""core/ranking.py: the intent decision first, then every other intent by probability."""

from hypothesis import given
from hypothesis import strategies as st

from slotfill.core.ranking import ranked
from slotfill.core.vocab import Vocab

NAMES = Vocab(["flight", "airfare", "ground_service", "airline"], specials=())


def test_the_choice_comes_first_then_the_others_by_probability():
    intent, confidence, ranking = ranked([0.9, 0.05, 0.3, 0.01], [0], NAMES)
    assert (intent, confidence) == ("flight", 0.9)
    assert ranking == [
        {"name": "flight", "confidence": 0.9},
        {"name": "ground_service", "confidence": 0.3},
        {"name": "airfare", "confidence": 0.05},
        {"name": "airline", "confidence": 0.01},
    ]


def test_a_multi_intent_choice_is_one_entry_with_its_least_likely_part():
    intent, confidence, ranking = ranked([0.8, 0.6, 0.1, 0.2], [0, 1], NAMES)
    assert (intent, confidence) == ("flight#airfare", 0.6)
    assert [r["name"] for r in ranking] == ["flight#airfare", "airline", "ground_service"]


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30), st.data())
def test_rankings_are_at_most_ten_long_and_name_each_intent_once(probs, data):
    names = Vocab([f"i{k}" for k in range(len(probs))], specials=())
    picked = data.draw(st.lists(st.integers(0, len(probs) - 1), min_size=1, max_size=3, unique=True))
    _, _, ranking = ranked(probs, picked, names)
    assert len(ranking) == min(10, len(probs) - len(picked) + 1)
    rest = [r["confidence"] for r in ranking[1:]]
    assert rest == sorted(rest, reverse=True)
    atoms = [a for r in ranking for a in r["name"].split("#")]
    assert len(atoms) == len(set(atoms))
