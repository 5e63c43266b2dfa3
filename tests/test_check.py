"""check.py: statistics and findings (errors and warnings) of a data set."""

from slotfill.data.check import check, render
from slotfill.data.formats import Record


def _r(text, tags, intent="fly", file="train", line=1):
    return Record(text.split(), tags.split(), intent, file, line)


def _splits():
    train = [
        _r("fly to boston", "O O B-city", line=1),
        _r("fly to denver", "O O B-city", line=2),
        _r("fly to boston", "O O O", line=3),  # the same sentence, other tags
    ]
    valid = [_r("fly to boston", "O O B-city", "fly", "valid", 1)]
    test = [_r("fare to zürich", "O O B-town", "fare", "test", 1)]
    return {"train": train, "valid": valid, "test": test}


def test_counts_per_split():
    report = check(_splits(), "mine")
    s = report.stats
    assert s["train"]["sentences"] == 3 and s["train"]["tokens"] == 9 and s["train"]["slot_types"] == 1
    assert s["test"]["intents"] == 1 and s["test"]["length_max"] == 3 and "unseen_word_rate" in s["test"]


def test_findings_are_warnings_for_a_usable_set():
    report = check(_splits(), "mine", rare=3)
    text = "\n".join(f.message for f in report.findings)
    assert not report.errors
    assert "1 slot type only in test (1 occurrence)" in text and "1 intent only in test" in text
    assert "seen fewer than 3 times in train" in text
    assert "1 of 1 valid sentences also occur in train" in text
    assert "1 sentence occurs more than once with different tags" in text
    assert "characters in test never occur in train" in text
    examples = [e for f in report.findings for e in f.examples]
    assert "valid:1 = train:1" in examples and "'ü' (1)" in examples
    assert "0 errors" in render(report)


def test_errors_for_a_set_training_cannot_use():
    splits = {"train": [_r("a b", "O O"), _r("c d", "O O", intent="", line=2)]}
    report = check(splits)
    messages = [f.message for f in report.errors]
    assert "train has no slots: every tag is O" in messages
    assert "1 of 2 train sentences has no intent while the others have one" in " ".join(messages)
    splits["test"] = [_r("e f", "O B-x", intent="", file="test")]  # a split with none: scored on slots
    assert [f.message[:30] for f in check(splits).errors if "no intent" in f.message] == [
        "1 of 2 train sentences has no "
    ]
    assert any("no test split" in f.message for f in report.warnings)


def test_report_as_json_data():
    d = check(_splits(), "mine").to_dict()
    assert d["name"] == "mine" and set(d["splits"]) == {"train", "valid", "test"}
    assert {f["level"] for f in d["findings"]} == {"warning"}


def test_intent_combinations_train_never_had_together_are_named():
    splits = _splits()
    splits["train"] += [_r("fares", "O", "fare", line=4), _r("fly and fares", "O O O", "fly#fare", line=5)]
    splits["valid"].append(_r("fares and flights", "O O O", "fare#fly", "valid", 2))  # the same set: seen
    splits["test"].append(_r("fly cheap fares", "O O O", "fly#fare#cheap", "test", 2))  # an atom train lacks
    splits["test"].append(_r("flights and fares", "O O O", "fly#fare", "test", 3))
    assert not [f for f in check(splits).findings if "intent set" in f.message]
    splits["valid"].append(_r("fly fares to boston", "O O O B-city", "fare#city", "valid", 3))
    splits["train"].append(_r("boston", "B-city", "city", line=6))
    (found,) = [f for f in check(splits).findings if "intent set" in f.message]
    assert found.message.startswith("1 intent set only in valid (1 sentence): train has their intents, but never")
    assert found.examples == ["fare#city (1)"]


def test_an_intent_train_has_only_inside_a_combination_is_named():
    """The intent head answers the sets seen in train: ``b`` alone, seen only in ``a#b``, cannot be answered."""
    splits = {
        "train": [_r("x to boston", "O O B-city", "a", line=1), _r("y to boston", "O O B-city", "a#b", line=2)],
        "valid": [_r("y to denver", "O O B-city", "b", "valid", 1)],
        "test": [_r("x to denver", "O O B-city", "a", "test", 1)],
    }
    (found,) = [f for f in check(splits).findings if "intent set" in f.message]
    assert found.message.startswith("1 intent set only in valid") and found.examples == ["b (1)"]


def test_a_tag_train_never_had_of_a_slot_type_it_has_is_named():
    """Train's ``city`` names are one word: an ``I-city`` in test is a tag the model cannot give."""
    splits = {
        "train": [_r("fly to boston", "O O B-city")],
        "valid": [_r("fly to denver", "O O B-city", file="valid")],
        "test": [_r("fly to new york", "O O B-city I-city", file="test"), _r("to la", "O I-city", file="test")],
    }
    (found,) = [f for f in check(splits).findings if "tag only" in f.message]
    assert found.message.startswith("1 tag only in test (1 occurrence), of slot types train has")
    assert found.examples == ["I-city (1)"]  # the I-city that starts a chunk is read as B-city
    assert not [f for f in check(_splits()).findings if "tag only" in f.message]  # an unseen type: named once


def test_tags_that_read_as_the_same_chunks_are_no_conflict():
    splits = {
        "train": [_r("fly to boston", "O O B-city"), _r("fly to boston", "O O I-city", line=2)],
        "valid": [_r("fly to denver", "O O B-city", file="valid")],
    }
    messages = [f.message for f in check(splits).findings]
    assert not [m for m in messages if "different tags" in m]
    assert "1 sentence has an I- tag that starts a chunk (read as B-, as conlleval does)" in messages


def test_a_split_without_intents_beside_splits_with_them_is_a_warning():
    """A forgotten valid/label file: checkpoints would be picked on slots alone, and no check said so."""
    splits = _splits()
    splits["valid"] = [_r("fly to boston", "O O B-city", "", "valid", 1)]
    report = check(splits)
    said = [f.message for f in report.warnings if "no intents" in f.message]
    assert not report.errors and len(said) == 1
    assert said[0].startswith("valid has no intents while train has them: its intents are not scored")
    assert "checkpoints are picked on slots alone" in said[0]
    splits = _splits()  # the reverse: no intent head learnt
    splits["train"] = [_r(f"fly to city{i}", "O O B-city", "", line=i) for i in range(3)]
    said = [f.message for f in check(splits).warnings if "no intents" in f.message]
    assert said and said[0].startswith("train has no intents while valid and test have them: no intent head")
    assert not [f for f in check(_splits()).findings if "no intents" in f.message]  # every split has them
