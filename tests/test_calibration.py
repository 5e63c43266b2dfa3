"""calibration.py: span and intent outcomes, reliability bins and the expected calibration error."""

import pytest

from slotfill.evaluation.calibration import calibration, intent_outcomes, reliability, span_outcomes


def _result(spans, intent=None, conf=None):
    return {"spans": spans, "intent": intent, "intent_confidence": conf}


def test_a_span_is_right_only_with_type_and_boundaries():
    gold = [["O", "B-to", "I-to"], ["B-from", "O"]]
    results = [
        _result([{"slot": "to", "token_start": 1, "token_end": 3, "confidence": 0.9}]),
        _result([{"slot": "to", "token_start": 0, "token_end": 1, "confidence": 0.6}]),
    ]
    assert span_outcomes(gold, results) == ([0.9, 0.6], [True, False])
    conf, ok = intent_outcomes(["a#b", "c"], [_result([], "b#a", 0.8), _result([], "a", 0.7)])
    assert (conf, ok) == ([0.8, 0.7], [True, False])


def test_ece_is_zero_when_confidence_is_accuracy_and_large_when_overconfident():
    conf = [0.75] * 4
    assert reliability(conf, [True, True, True, False])["ece"] == pytest.approx(0.0)
    over = reliability([0.95] * 10, [True] * 5 + [False] * 5)
    assert over["ece"] == pytest.approx(45.0) and over["accuracy"] == 50.0
    assert sum(b["count"] for b in over["bins"]) == 10 and over["bins"][9]["count"] == 10
    assert reliability([1.0], [True])["bins"][-1]["count"] == 1  # confidence 1.0 in the last bin
    assert reliability([], [])["n"] == 0


def test_intent_calibration_only_for_models_with_intents():
    results = [_result([], None, None)]
    assert set(calibration([["O"]], ["a"], results)) == {"span"}
    assert set(calibration([["O"]], ["a"], [_result([], "a", 0.9)])) == {"span", "intent"}


def test_nothing_predicted_has_no_ece_rather_than_a_perfect_one():
    empty = reliability([], [])
    assert empty["n"] == 0 and empty["ece"] is None and empty["mean_confidence"] is None and empty["accuracy"] is None
    span = calibration([["O", "B-to"]], None, [_result([])])["span"]  # a gold slot, no span predicted
    assert span["n"] == 0 and span["ece"] is None
