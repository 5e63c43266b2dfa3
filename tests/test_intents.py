"""intents.py: per-intent report and confusion matrix, multi-intent labels as sets."""

import pytest

from slotfill.evaluation.intents import NONE, intent_confusion, intent_key, intent_report, intent_report_markdown


def test_a_multi_intent_label_is_one_class_whatever_the_order():
    assert intent_key("b#a") == intent_key("a#b") == "a#b"
    assert intent_key(None) == intent_key("") == NONE


def test_report_counts_precision_recall_and_support():
    gold = ["flight", "flight", "fare", "flight#fare", "city"]
    pred = ["flight", "fare", "fare", "fare#flight", "flight"]
    r = intent_report(gold, pred)
    assert r["flight"] == pytest.approx({"precision": 50.0, "recall": 50.0, "f1": 50.0, "support": 2, "predicted": 2})
    assert r["fare"]["precision"] == 50.0 and r["fare"]["recall"] == 100.0
    assert r["fare#flight"]["f1"] == 100.0 and r["city"]["recall"] == 0.0
    assert r["micro avg"]["f1"] == pytest.approx(60.0)  # = intent accuracy (3 of 5)
    assert list(r)[0] == "flight"  # by gold support
    assert r["macro avg"]["recall"] == pytest.approx((50 + 100 + 100 + 0) / 4)
    assert any("| fare#flight | 100.00 |" in line for line in intent_report_markdown(r))


def test_confusion_rows_are_gold_and_rare_labels_merge():
    labels, m = intent_confusion(["a", "a", "b", "c"], ["a", "b", "b", "a"])
    assert labels == ["a", "b", "c"]
    assert m == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    labels, m = intent_confusion(["a", "a", "b", "c"], ["a", "b", "b", "a"], top_k=2)
    assert labels == ["a", "b", "(other)"] and sum(map(sum, m)) == 4 and m[2] == [1, 0, 0]
