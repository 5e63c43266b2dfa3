"""formatting.py: score lines and predictions as people and programs read them."""

import json

from slotfill.formatting import human, predictions, score_line

SCORES = {"f1": 95.0, "precision": 94.0, "recall": 96.0, "strict_f1": 94.5, "sentence_accuracy": 88.0}
RESULT = {
    "text": "to boston",
    "tokens": ["to", "boston"],
    "tags": ["O", "B-toloc.city_name"],
    "spans": [{"slot": "toloc.city_name", "text": "boston", "confidence": 0.98}],
    "intent": "atis_flight",
    "intent_confidence": 0.99,
}


def test_score_line_names_every_headline_number():
    line = score_line("atis/test", SCORES)
    assert line.startswith("atis/test: slot F1 95.00") and "strict F1 94.50" in line and "intent" not in line
    assert "intent acc 97.00" in score_line("x", {**SCORES, "intent_accuracy": 97.0})


def test_predictions_for_people_and_programs():
    assert human(RESULT) == "to boston\n  intent: atis_flight (0.99)\n  toloc.city_name: boston (0.98)\n"
    assert "(no slots)" in human({**RESULT, "spans": [], "intent": None})
    assert "(empty sentence" in human({**RESULT, "text": " ", "tokens": [], "spans": [], "intent": None})
    (line,) = list(predictions([RESULT], "jsonl"))
    assert json.loads(line) == RESULT and line.endswith("\n")
