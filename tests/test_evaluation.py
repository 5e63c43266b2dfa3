"""evaluation.py: confusions, error analysis and the Markdown report."""

from slotfill.evaluation import evaluate_predictions, markdown_report


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
