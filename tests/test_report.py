"""report.py: confusions, error analysis and the Markdown report."""

from slotfill.evaluation.report import evaluate_predictions, markdown_report, type_matrix


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
    assert labels == ["a", "O", "b", "c"]
    assert m[labels.index("a")][labels.index("O")] == 1 and m[labels.index("O")][labels.index("a")] == 1
    labels, m = type_matrix(gold, pred, top_k=2)
    assert labels == ["a", "(other)"] and sum(map(sum, m)) == 5


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
