"""report.py: confusions, error analysis and the Markdown report."""

import json

from slotfill.evaluation.report import (
    evaluate_predictions,
    intent_coverage_warning,
    label_coverage_warning,
    markdown_report,
    type_matrix,
    write_outputs,
)


def test_confusions_count_departure_arrival_swaps():
    gold = [["O", "B-fromloc.city_name", "O", "B-toloc.city_name"]]
    pred = [["O", "B-toloc.city_name", "O", "B-toloc.city_name"]]
    res = evaluate_predictions([["from", "boston", "to", "denver"]], gold, pred, None, None)
    assert res["direction"] == {"fromloc_as_toloc": 1, "toloc_as_fromloc": 0}
    assert res["confusions"]["spans"][("fromloc.city_name", "toloc.city_name")] == 1
    assert len(res["errors"]) == 1 and "intent_accuracy" not in res["scores"]


def test_report_lists_scores_and_wrong_sentences():
    gold = [["O", "B-toloc.city_name"], ["O", "B-toloc.city_name"]]
    pred = [["O", "B-toloc.city_name"], ["O", "O"]]
    res = evaluate_predictions(
        [["to", "boston"], ["to", "denver"]], gold, pred, ["flight", "flight"], ["flight", "fare"]
    )
    assert res["scores"]["intent_accuracy"] == 50.0 and res["scores"]["sentence_accuracy"] == 50.0
    report = markdown_report(res, "Evaluation")
    assert "strict IOB2" in report and "Sentences with errors (1" in report
    assert "| denver | B-toloc.city_name | O ✗ |" in report and "predicted `fare`" in report


def test_departure_arrival_section_only_for_data_with_those_slots():
    res = evaluate_predictions([["play", "jazz"]], [["O", "B-genre"]], [["O", "B-genre"]], None, None)
    assert res["direction"] is None and "Departure vs arrival" not in markdown_report(res, "E")
    gold = [["O", "B-toloc.city_name"]]
    res = evaluate_predictions([["to", "boston"]], gold, gold, None, None)
    assert "Departure vs arrival" in markdown_report(res, "E")


def test_type_matrix_counts_tokens_by_type_with_o_and_merges_rare_types():
    gold = [["O", "B-a", "I-a", "B-b", "B-c"]]
    pred = [["B-a", "B-a", "O", "B-b", "B-b"]]
    labels, m = type_matrix(gold, pred, top_k=10)
    assert labels == ["O", "a", "b", "c"]
    assert m[labels.index("a")][labels.index("O")] == 1 and m[labels.index("O")][labels.index("a")] == 1
    labels, m = type_matrix(gold, pred, top_k=2)  # top_k slot types besides O
    assert labels == ["O", "a", "b", "(other)"] and sum(map(sum, m)) == 5
    labels, m = type_matrix(gold, pred, top_k=1)
    assert labels == ["O", "a", "(other)"] and m[2] == [0, 0, 2]  # b read as b, c as b: both in (other)


def test_report_has_the_per_intent_table():
    res = evaluate_predictions([["x"], ["y"]], [["B-s"], ["O"]], [["B-s"], ["O"]], ["a#b", "c"], ["b#a", "a"])
    assert res["per_intent"]["a#b"]["f1"] == 100.0 and res["per_intent"]["c"]["recall"] == 0.0
    assert "| a#b | 100.00 | 100.00 | 100.00 | 1 | 1 |" in markdown_report(res, "Evaluation")


def test_a_predicted_type_gold_never_has_is_other_not_the_last_gold_type():
    labels, m = type_matrix([["O", "B-city"]], [["O", "B-state"]])
    assert labels == ["O", "city", "(other)"] and m[1] == [0, 0, 1]  # city read as state: off the diagonal
    labels, m = type_matrix([["O", "B-city"]], [["B-state", "B-city"]])
    assert m[0] == [0, 0, 1] and m[1] == [0, 1, 0]
    assert type_matrix([["O", "B-city"]], [["O", "B-city"]])[0] == ["O", "city"]  # no column for nothing


def test_a_set_with_no_slots_says_why_its_slot_scores_read_zero():
    res = evaluate_predictions([["a", "b"]], [["O", "O"]], [["O", "O"]], ["x"], ["x"])
    assert res["scores"]["f1"] == 0 and res["scores"]["slot_exact_match"] == 100
    assert "read 0.00 by convention: no slots in the gold or the predicted tags" in markdown_report(res, "t")
    found = evaluate_predictions([["a"]], [["B-s"]], [["B-s"]], ["x"], ["x"])
    assert "by convention" not in markdown_report(found, "t")


def test_a_gold_i_tag_that_starts_a_chunk_is_the_b_tag_predicted():
    """Default-mode F1 reads ``O I-x`` as ``O B-x``; the sentence scores and the error list read it so too."""
    gold = [["O", "I-toloc.city_name"], ["O", "I-toloc.city_name"]]
    pred = [["O", "B-toloc.city_name"], ["O", "O"]]
    res = evaluate_predictions([["to", "boston"], ["to", "denver"]], gold, pred, ["flight"] * 2, ["flight"] * 2)
    assert res["scores"]["slot_exact_match"] == res["scores"]["sentence_accuracy"] == 50.0
    assert res["scores"]["recall"] == 50.0 and res["scores"]["precision"] == 100.0  # boston found: F1 agrees
    assert [e["index"] for e in res["errors"]] == [1]
    res = evaluate_predictions([["to", "new", "york"]], [["O", "I-c", "O"]], [["O", "B-c", "B-c"]], None, None)
    report = markdown_report(res, "E")
    assert "| new | I-c | B-c |" in report and "| york | O | B-c ✗ |" in report  # only the real error marked


def test_a_token_holding_a_bar_keeps_the_tables_columns():
    res = evaluate_predictions([["a|b", "boston"]], [["O", "B-city"]], [["O", "O"]], None, None)
    assert "| a\\|b | O | O |" in markdown_report(res, "E")


def test_the_intent_heatmap_has_top_k_plus_5_intents_and_the_rest_merged():
    gold = [f"i{n}" for n in range(9) for _ in range(9 - n)]  # i0 most frequent, i8 least
    res = evaluate_predictions([["x"]] * len(gold), [["O"]] * len(gold), [["O"]] * len(gold), gold, gold, top_k=1)
    labels, m = res["intent_matrix"]
    assert labels == ["i0", "i1", "i2", "i3", "i4", "i5", "(other)"] and m[6][6] == 3 + 2 + 1
    assert evaluate_predictions([["x"]] * 3, [["O"]] * 3, [["O"]] * 3, ["a", "b", "c"], ["a"] * 3)["intent_matrix"][
        0
    ] == ["a", "b", "c"]  # no (other) for nothing merged


def test_labels_the_model_never_saw_are_named_and_a_low_intent_coverage_is_warned(tmp_path):
    gold_tags, pred_tags = [["B-city", "B-moon"], ["O", "B-city"]], [["B-city", "O"], ["O", "B-city"]]
    res = evaluate_predictions(
        [["a", "b"]] * 2, gold_tags, pred_tags, ["flight#spaceflight", "flight"], ["flight", "flight"],
        known=(["O", "B-city", "I-city"], ["flight"]),
    )  # fmt: skip
    assert res["unseen_labels"] == {"slots": ["moon"], "intents": ["spaceflight"]}
    report = markdown_report(res, "E")
    assert "Gold slot types the model never saw (1; all count as errors): `moon`." in report
    assert "Gold intents the model never saw (1; all count as errors): `spaceflight`." in report
    metrics = write_outputs(res, tmp_path, {}, "test", {})
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["unseen_labels"] == metrics["unseen_labels"] == res["unseen_labels"]
    assert written["scores"]["test"]["f1"] > 0 and written["slot_scores_defined"] is True  # the keys read before
    no_intents = evaluate_predictions([["a"]], [["B-city"]], [["B-city"]], None, None, known=(["O", "B-city"], None))
    assert no_intents["unseen_labels"] == {"slots": [], "intents": None}

    assert intent_coverage_warning(["flight", "fare", "flight"], ["flight"]) is None  # 2 of 3 sentences known
    warning = intent_coverage_warning(["atis_flight", "atis_flight", "fare", ""], ["flight", "fare"])
    assert warning.startswith("the model knows 1 of the 2 intent labels in this data (33% of gold intents)")
    assert intent_coverage_warning(["flight", "fare"], ["a"]).startswith("the model knows 0 of the 2 intent labels")
    assert intent_coverage_warning(["", ""], ["a"]) is None and label_coverage_warning([["O"]], ["O"]) is None


def test_slot_scores_of_a_set_without_slots_are_flagged_undefined(tmp_path):
    res = evaluate_predictions([["a", "b"]], [["O", "O"]], [["O", "O"]], ["x"], ["x"])
    assert res["slot_scores_defined"] is False
    write_outputs(res, tmp_path, {}, "test", {})
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["slot_scores_defined"] is False and written["scores"]["test"]["f1"] == 0.0  # readers need a number
    false_alarm = evaluate_predictions([["a"]], [["O"]], [["B-s"]], None, None)  # a predicted slot: precision 0
    assert false_alarm["slot_scores_defined"] is True


def test_a_calibration_with_nothing_predicted_reads_none_predicted():
    gold = [["O", "B-to"]]
    res = evaluate_predictions([["a", "b"]], gold, [["O", "O"]], None, None, [{"spans": [], "intent": None}])
    assert "| span | 0 (none predicted) | n/a | n/a | n/a |" in markdown_report(res, "E")
