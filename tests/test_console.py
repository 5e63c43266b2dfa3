"""console.py: score lines and predictions as people and programs read them."""

import json

import pytest

from slotfill.cli.console import human, predictions, score_line

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


def test_predictions_in_data_formats(tmp_path):
    from slotfill.data.formats import rasa
    from slotfill.data.load import formats

    (block,) = list(predictions([RESULT], "conll"))
    assert block == "# intent = atis_flight\nto\tO\nboston\tB-toloc.city_name\n\n"
    assert list(predictions([RESULT], "seq.out")) == ["O B-toloc.city_name\n"]
    spans = [{**RESULT["spans"][0], "start": 3, "end": 9}]
    (yml,) = list(predictions([{**RESULT, "text": "to Boston", "spans": spans}], "rasa"))
    assert yml == '- intent: "atis_flight"\n  examples: |\n    - to [Boston](toloc.city_name)\n'
    yml = rasa.HEADER + yml  # predict writes it once, before the first chunk's items
    # what predict writes, the readers read
    (line,) = list(predictions([{**RESULT, "intent": None}], "jsonl"))
    for name, text in (("p.conll", block), ("p.yml", yml), ("p.jsonl", line)):
        (tmp_path / name).write_text(text)
        (r,) = formats.read(tmp_path / name)
        assert r.tags == RESULT["tags"] and r.intent == ("" if name == "p.jsonl" else "atis_flight")


def test_evaluation_summary_has_the_direction_line_only_when_it_applies():
    from slotfill.cli.console import evaluation_summary

    result = {"report": "r", "scores": {**SCORES}, "errors": [], "direction": None}
    assert "departure" not in evaluation_summary(result, "snips/test", "x")
    result["direction"] = {"fromloc_as_toloc": 1, "toloc_as_fromloc": 0}
    assert "departure->arrival confusions 1" in evaluation_summary(result, "atis/test", "x")


def test_people_see_the_alternatives_and_what_was_dropped():
    from slotfill.cli.console import human

    result = {
        "text": "to boston at 5:30pm",
        "tokens": ["to", "boston", "at", "5:30pm"],
        "tags": ["O", "B-toloc.city_name", "O", "O"],
        "spans": [{"slot": "toloc.city_name", "text": "boston", "confidence": 0.97}],
        "intent": None,
        "intent_confidence": None,
        "dropped": [
            {"slot": "toloc.city_name", "text": "5:30pm", "confidence": 0.14},
            {"slot": "toloc.city_name", "text": "dallas", "confidence": 0.9985},  # under min_confidence=0.999
        ],
        "nbest": [
            {"spans": [{"slot": "toloc.city_name", "text": "boston"}], "probability": 0.8},
            {"spans": [], "probability": 0.1},
        ],
    }
    lines = human(result).splitlines()
    assert "  #2 (p=0.100): no slots" in lines
    assert "  (dropped, under min_confidence: toloc.city_name: 5:30pm (0.14))" in lines
    assert "  (dropped, under min_confidence: toloc.city_name: dallas (0.99))" in lines  # never shown as 1.00


def test_rasa_examples_skip_blank_lines_name_multi_intents_with_a_plus_and_refuse_markup_in_the_text():
    from slotfill.errors import SlotfillError

    blank = {**RESULT, "text": "  ", "tokens": [], "tags": [], "spans": [], "intent": None}
    both = {**RESULT, "spans": [], "intent": "atis_flight#atis_airfare"}
    (yml,) = list(predictions([blank, both], "rasa"))
    assert '- intent: "atis_flight+atis_airfare"' in yml and '"none"' not in yml and "    - \n" not in yml
    marked = {**RESULT, "text": "to [boston](x)", "tokens": ["to", "[", "boston", "]", "(", "x", ")"], "spans": []}
    with pytest.raises(SlotfillError, match=r"format=rasa cannot hold the sentence 'to \[boston\]\(x\)'"):
        list(predictions([marked], "rasa"))


@pytest.mark.parametrize("char", ["\r", "\n", "\x85", "\u2028", "\x00", "\x07"])
def test_rasa_refuses_a_sentence_holding_a_line_break_or_a_control_character(char):
    """The YAML would be written, exit 0, and not read back (Rasa's reader and slotfill's)."""
    from slotfill.errors import SlotfillError

    broken = {**RESULT, "text": f"flights from denver{char}to boston", "spans": []}
    with pytest.raises(
        SlotfillError, match=r"format=rasa cannot hold the sentence .*: it holds .*one line of printable"
    ):
        list(predictions([broken], "rasa"))
    tabbed = {**RESULT, "text": "flights\tto boston", "spans": []}
    assert "flights\tto boston" in "".join(predictions([tabbed], "rasa"))


def test_a_blank_line_keeps_its_place_in_conll():
    blank = {**RESULT, "text": "", "tokens": [], "tags": [], "spans": [], "intent": None}
    blocks = "".join(predictions([RESULT, blank, RESULT], "conll")).split("\n\n")
    assert blocks[1] == "# blank line" and blocks[0] == blocks[2] and len([b for b in blocks if b]) == 3


def test_the_training_summary_names_the_epoch_its_scores_are_of():
    from slotfill.cli.console import training_summary

    metrics = {
        "dataset": "atis",
        "train_time_s": 12.4,
        "epochs": 1,
        "best_checkpoint": "/r/checkpoints/epoch=00-val_f1=52.30.ckpt",
        "monitor": "val/joint",
        "best_val_score": 61.234,
        "scores": {"valid": SCORES},
        "model_file": "/r/model.pt",
    }
    text = training_summary(metrics, None, "/r")
    assert text.startswith("trained atis in 12 s (1 epoch)\nselected: epoch 00 by val/joint (61.23)\nvalid: slot F1")
    del metrics["best_checkpoint"]  # fast_dev_run: no checkpoint, no line
    assert "selected" not in training_summary(metrics, None, "/r")


def test_scores_of_part_of_a_split_say_so():
    line = score_line("test", {**SCORES, "sentences_scored": 256, "sentences_in_split": 893})
    assert line.endswith("(of 256 of its 893 sentences)")


def test_score_line_of_a_set_without_slots_says_n_a_not_zero():
    line = score_line("mine/test", SCORES, slots_defined=False)
    assert line.startswith("mine/test: slot F1 n/a (no gold or predicted slots)  sentence acc")
