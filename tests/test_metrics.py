"""metrics.py: seqeval scores in both modes, sentence and intent accuracy."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from slotfill.evaluation.metrics import all_scores, one_of_gold, same_intent, slot_scores
from tests.helpers import examples

tags = st.sampled_from(["O", "B-a", "I-a", "B-b", "I-b"])


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.lists(st.tuples(tags, tags), min_size=1, max_size=8), min_size=1, max_size=6))
def test_slot_scores_equal_seqeval_in_both_modes(pairs):
    gold = [[g for g, _ in s] for s in pairs]
    pred = [[p for _, p in s] for s in pairs]
    ours = slot_scores(gold, pred)
    assert ours["f1"] == pytest.approx(100 * f1_score(gold, pred, zero_division=0))
    assert ours["precision"] == pytest.approx(100 * precision_score(gold, pred, zero_division=0))
    assert ours["recall"] == pytest.approx(100 * recall_score(gold, pred, zero_division=0))
    assert all_scores(gold, pred)["strict_f1"] == pytest.approx(slot_scores(gold, pred, mode="strict")["f1"])
    strict = slot_scores(gold, pred, mode="strict")
    assert strict["f1"] == pytest.approx(100 * f1_score(gold, pred, mode="strict", scheme=IOB2, zero_division=0))


def test_unseen_gold_tags_are_errors():
    gold = [["B-fromloc.city_name", "O", "B-never.seen"]]
    pred = [["B-fromloc.city_name", "O", "O"]]
    s = all_scores(gold, pred, ["atis_flight"], ["atis_flight"])
    assert s["recall"] == pytest.approx(50.0) and s["precision"] == pytest.approx(100.0)
    assert s["slot_exact_match"] == 0.0 and s["intent_accuracy"] == 100.0 and s["sentence_accuracy"] == 0.0


def test_multi_intents_compare_as_sets():
    assert same_intent("atis_flight#atis_airfare", "atis_airfare#atis_flight")
    assert not same_intent("atis_flight#atis_airfare", "atis_flight")


def test_multi_intent_lines_are_scored_by_both_rules_each_labelled():
    gold = ["atis_flight#atis_airfare", "atis_flight#atis_airfare", "atis_city", "atis_city"]
    pred = ["atis_airfare", "atis_flight#atis_airfare", "atis_city", "atis_flight#atis_city"]
    s = all_scores([["O"]] * 4, [["O"]] * 4, gold, pred)
    assert s["intent_accuracy"] == 50.0  # exact sets: lines 2 and 3
    # one of gold: line 1 too (airfare is one of its intents); never a prediction with a wrong atom (line 4)
    assert s["intent_accuracy_one_of_gold"] == 75.0
    assert s["multi_intent_lines"] == 2
    assert not one_of_gold("atis_city", "")


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        slot_scores([["O", "O"]], [["O"]])


def test_a_negative_set_has_no_per_slot_report_and_no_error():
    """Gold and predictions all O (a "no slots expected" test set): seqeval's report would fail."""
    from slotfill.evaluation.metrics import NO_SLOTS, slot_report, slot_scores

    gold = pred = [["O", "O"], ["O"]]
    assert slot_report(gold, pred) == NO_SLOTS + "\n" and slot_report(gold, pred, as_dict=True) == {}
    assert set(slot_scores(gold, pred)) >= {"precision", "recall", "f1"}


def test_a_sentence_is_right_when_its_tags_read_as_the_gold_chunks():
    from slotfill.evaluation.metrics import same_slots

    assert same_slots(["O", "I-x", "I-x"], ["O", "B-x", "I-x"])  # conlleval's reading of the gold
    assert same_slots(["O", "I-x", "I-y"], ["O", "B-x", "B-y"])  # I-y after x starts a second chunk
    assert not same_slots(["O", "I-x", "I-x"], ["O", "B-x", "B-x"]) and not same_slots(["O", "I-x"], ["O", "O"])
    scores = all_scores([["O", "I-x"]], [["O", "B-x"]], ["a"], ["a"])
    assert scores["f1"] == scores["slot_exact_match"] == scores["sentence_accuracy"] == 100.0
