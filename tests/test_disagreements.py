"""evaluation/disagreements.py: errors where the training split labels the same words in context as the model did."""

from slotfill.evaluation.disagreements import PhraseLabels, label_disagreements
from slotfill.evaluation.report import evaluate_predictions, markdown_report

TRAIN_TOKENS = [
    ["flights", "before", "noon"],
    ["leave", "before", "noon"],
    ["fly", "to", "st.", "louis"],
    ["show", "me", "fares"],
]
TRAIN_TAGS = [
    ["O", "B-depart_time.time_relative", "B-depart_time.time"],
    ["O", "B-depart_time.time_relative", "B-depart_time.time"],
    ["O", "O", "B-toloc.city_name", "I-toloc.city_name"],
    ["O", "O", "O"],
]
TRAIN_INTENTS = ["flight", "flight", "flight", "airfare#flight"]
REFERENCE = PhraseLabels(TRAIN_TOKENS, TRAIN_TAGS, TRAIN_INTENTS)


def _error(tokens, gold, pred, gold_intent="flight", pred_intent="flight"):
    return {
        "index": 0,
        "tokens": tokens,
        "gold": gold,
        "pred": pred,
        "gold_intent": gold_intent,
        "pred_intent": pred_intent,
    }


def test_a_test_label_the_training_split_never_gives_in_that_context_is_a_disagreement():
    tokens = ["trips", "before", "noon"]
    err = _error(
        tokens,
        ["O", "B-depart_time.time_relative", "B-depart_time.period_of_day"],
        ["O", "B-depart_time.time_relative", "B-depart_time.time"],
    )
    [found] = label_disagreements([err], REFERENCE)
    assert found["evidence"] == [
        {
            "words": "noon",
            "gold": "depart_time.period_of_day",
            "model": "depart_time.time",
            "train_model": 2,
            "train_gold": 0,
        }
    ]
    # another type for the same words ("to st. louis": gold city_name, the model's toloc.city_name): same rule
    err = _error(
        ["to", "st.", "louis"], ["O", "B-city_name", "I-city_name"], ["O", "B-toloc.city_name", "I-toloc.city_name"]
    )
    assert label_disagreements([err], REFERENCE)


def test_the_models_own_errors_are_not_counted():
    # another context: the training split has never seen "noon" after "at"
    err = _error(["leave", "at", "noon"], ["O", "O", "B-depart_time.period_of_day"], ["O", "O", "B-depart_time.time"])
    assert label_disagreements([err], REFERENCE) == []
    # the gold's label is seen in that context too: the model chose one of two labels the data gives
    mixed = PhraseLabels(
        [*TRAIN_TOKENS, ["trips", "before", "noon"]],
        [*TRAIN_TAGS, ["O", "B-depart_time.time_relative", "B-depart_time.period_of_day"]],
    )
    err = _error(
        ["leave", "before", "noon"],
        ["O", "B-depart_time.time_relative", "B-depart_time.period_of_day"],
        ["O", "B-depart_time.time_relative", "B-depart_time.time"],
    )
    assert label_disagreements([err], mixed) == []
    # a boundary difference is always the model's
    err = _error(
        ["fly", "to", "st.", "louis"],
        ["O", "O", "B-toloc.city_name", "I-toloc.city_name"],
        ["O", "O", "B-toloc.city_name", "O"],
    )
    assert label_disagreements([err], REFERENCE) == []
    # one disagreement beside a plain error: the sentence is the model's
    err = _error(
        ["flights", "before", "noon", "to", "st.", "louis"],
        [
            "O",
            "B-depart_time.time_relative",
            "B-depart_time.period_of_day",
            "O",
            "B-toloc.city_name",
            "I-toloc.city_name",
        ],
        ["O", "B-depart_time.time_relative", "B-depart_time.time", "O", "B-toloc.city_name", "O"],
    )
    assert label_disagreements([err], REFERENCE) == []


def test_an_intent_the_training_split_gives_the_same_sentence():
    # a set of atoms in any order: the prediction lists its likeliest atom first
    err = _error(["show", "me", "fares"], ["O"] * 3, ["O"] * 3, gold_intent="airfare", pred_intent="flight#airfare")
    [found] = label_disagreements([err], REFERENCE)
    assert found["evidence"][0]["model"] == "flight#airfare" and found["evidence"][0]["train_model"] == 1
    err = _error(["show", "me", "fares"], ["O"] * 3, ["O"] * 3, gold_intent="flight#airfare", pred_intent="flight")
    assert label_disagreements([err], REFERENCE) == []


def test_the_report_counts_and_shows_them():
    tokens = [["trips", "before", "noon"], ["leave", "at", "noon"]]
    gold = [
        ["O", "B-depart_time.time_relative", "B-depart_time.period_of_day"],
        ["O", "O", "B-depart_time.period_of_day"],
    ]
    pred = [["O", "B-depart_time.time_relative", "B-depart_time.time"], ["O", "O", "B-depart_time.time"]]
    result = evaluate_predictions(tokens, gold, pred, None, None, reference=("toy/train", REFERENCE))
    assert [f["index"] for f in result["disagreements"]["sentences"]] == [0]
    text = markdown_report(result, "t")
    assert "1 of the 2 sentences with errors differ from the gold only where toy/train labels" in text
    assert "| 0 | trips before noon | noon | depart_time.period_of_day | depart_time.time | 2 / 0 |" in text
    assert evaluate_predictions(tokens, gold, pred, None, None)["disagreements"] is None
