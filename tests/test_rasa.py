"""Rasa NLU data with its meaning: roles, groups, synonyms, lookup tables, and what slotfill leaves out."""

import logging
import random

import pytest

from slotfill.data import formats
from slotfill.data.convert import convert
from slotfill.data.formats import rasa
from slotfill.errors import DataError

ROLES = (
    'version: "3.1"\n'
    "nlu:\n"
    "- intent: book\n"
    "  examples: |\n"
    '    - from [NYC]{"entity": "city", "role": "departure", "value": "New York"} to '
    '[boston]{"entity": "city", "role": "arrival"}\n'
    '    - a [pizza]{"entity": "food", "group": 1} with [ham]{"entity": "topping", "group": 1}\n'
    "    - to [big apple](city:New York)\n"
    "- synonym: Boston\n"
    "  examples: |\n"
    "    - beantown\n"
    "- lookup: airline\n"
    "  examples: |\n"
    "    - united\n"
    "    - air new zealand\n"
    "- regex: zipcode\n"
    "  examples: |\n"
    "    - \\d{5}\n"
    "responses:\n"
    "  utter_greet: []\n"
)


def _write(tmp_path, text, name="train.yml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_roles_and_groups_become_slot_types(tmp_path):
    records, _ = formats.read_file(_write(tmp_path, ROLES))
    assert records[0].tags == ["O", "B-city@departure", "O", "B-city@arrival"]
    assert records[1].tags == ["O", "B-food#1", "O", "B-topping#1"]  # a group number is a name like any other
    assert records[2].tags == ["O", "B-city", "I-city"]


def test_synonyms_and_lookups_are_the_files_extras(tmp_path):
    _, extras = formats.read_file(_write(tmp_path, ROLES))
    # Rasa matches synonyms case-blind: the keys are lowercased texts
    assert extras.synonyms == {"nyc": "New York", "big apple": "New York", "beantown": "Boston"}
    assert extras.lookups == {"airline": ["united", "air new zealand"]}


def test_what_slotfill_does_not_use_is_named_in_one_warning(tmp_path, caplog):
    path = _write(tmp_path, ROLES.replace("- intent: book\n", "- intent: book\n  metadata: {sentiment: x}\n"))
    with caplog.at_level(logging.WARNING):
        _, extras = formats.read_file(path)
    assert extras.unused == ["'responses:' (line 19)", "intent key 'metadata' (line 3)", "regex 'zipcode' (line 16)"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{path}: not used by slotfill: ")
    assert warnings[0].endswith(  # in the file's order
        "intent key 'metadata' (line 3), regex 'zipcode' (line 16), 'responses:' (line 19)"
    )


def test_a_file_slotfill_uses_entirely_warns_nothing(tmp_path, caplog):
    path = _write(tmp_path, "nlu:\n- intent: a\n  examples: |\n    - to [boston](city)\n")
    with caplog.at_level(logging.WARNING):
        formats.read_file(path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("example", "problem"),
    [
        ('a [b]{"entity": "c@d"}', "the entity 'c@d' holds '@'"),
        ('a [b]{"entity": "c", "role": "x#y"}', "the role 'x#y' holds '#'"),
        ('a [b]{"entity": "c", "group": ["x"]}', "'group' must be a string"),
        ('a [b]{"entity": "c", "value": [1]}', "'value' must be a string"),
        ("a [b](c@d)", "entity name 'c@d' holds '@'"),
    ],
)
def test_names_that_would_not_read_back_are_refused(tmp_path, example, problem):
    path = _write(tmp_path, f"nlu:\n- intent: a\n  examples: |\n    - {example}\n")
    with pytest.raises(DataError, match=problem) as err:
        formats.read(path)
    assert str(err.value).startswith(f"{path}:4:")


def test_one_text_with_two_synonym_values_is_an_error(tmp_path):
    text = (
        "nlu:\n- intent: a\n  examples: |\n    - to [NYC](city:New York)\n- synonym: Newark\n  examples: |\n    - nyc\n"
    )
    with pytest.raises(DataError, match="synonym 'nyc' maps to 'Newark' here and to 'New York' on line 4") as err:
        formats.read(_write(tmp_path, text))
    assert ":7:" in str(err.value)


def test_a_lookup_entry_longer_than_a_lexicon_entry_is_refused(tmp_path):
    text = "nlu:\n- intent: a\n  examples: |\n    - x\n- lookup: t\n  examples: |\n    - " + "w " * 9 + "\n"
    with pytest.raises(DataError, match="lookup entry of 9 words"):
        formats.read(_write(tmp_path, text))


def test_markup_writes_roles_groups_and_values_as_json():
    assert rasa.markup("boston", "toloc.city_name") == "[boston](toloc.city_name)"
    assert rasa.markup("nyc", "city@departure") == '[nyc]{"entity": "city", "role": "departure"}'
    assert rasa.markup("ham", "topping#1") == '[ham]{"entity": "topping", "group": "1"}'
    assert rasa.markup("nyc", "city", "New York") == '[nyc]{"entity": "city", "value": "New York"}'


def test_roles_groups_synonyms_and_lookups_survive_rasa_to_rasa(tmp_path):
    src = _write(tmp_path, ROLES)
    convert(src, tmp_path / "out.yml", "rasa")
    before, extras = formats.read_file(src)
    after, back = formats.read_file(tmp_path / "out.yml")
    assert [(r.tokens, r.tags, r.intent) for r in after] == [(r.tokens, r.tags, r.intent) for r in before]
    assert (back.synonyms, back.lookups) == (extras.synonyms, extras.lookups)
    assert back.unused == []  # what slotfill did not use was not written either (and was warned about)


def test_converting_away_from_rasa_says_what_the_target_cannot_hold(tmp_path, caplog):
    src = _write(tmp_path, ROLES)
    with caplog.at_level(logging.WARNING):
        convert(src, tmp_path / "out.conll", "conll")
    lines = [r.getMessage() for r in caplog.records if "has no place" in r.getMessage()]
    assert lines == [
        f"{src}: conll has no place for this file's 3 synonyms and lookup tables airline: "
        f"not written to {tmp_path / 'out.conll'}"
    ]
    assert formats.read(tmp_path / "out.conll")[0].tags == ["O", "B-city@departure", "O", "B-city@arrival"]


def test_only_the_train_files_extras_are_used(tmp_path, caplog):
    from slotfill.data.load import load_data

    _write(tmp_path, ROLES, "train.yml")
    _write(tmp_path, ROLES.replace("beantown", "bean town"), "valid.yml")
    with caplog.at_level(logging.WARNING):
        loaded = load_data({"path": str(tmp_path)})
    assert loaded.extras.synonyms["beantown"] == "Boston" and "bean town" not in loaded.extras.synonyms
    assert any(
        "data.valid: the synonyms and lookup tables of a valid file are not used" in r.getMessage()
        for r in caplog.records
    )


def _booking_file(tmp_path, n: int = 80):
    rng = random.Random(0)
    cities = ["boston", "denver", "taipei", "paris", "oslo", "lima", "rome", "cairo"]
    lines = []
    for _ in range(n):
        a, b = rng.sample(cities, 2)
        lines.append(
            f'    - fly from [{a}]{{"entity": "city", "role": "departure"}} to '
            f'[{b}]{{"entity": "city", "role": "arrival"}}'
        )
    text = (
        "nlu:\n- intent: book\n  examples: |\n"
        + "\n".join(lines)
        + '\n    - fly from [beantown]{"entity": "city", "role": "departure", "value": "boston"} to '
        '[rome]{"entity": "city", "role": "arrival"}\n'
        "- intent: greet\n  examples: |\n    - hello\n    - hi there\n    - good morning\n"
        "- lookup: airline\n  examples: |\n    - united\n    - air new zealand\n"
    )
    return _write(tmp_path, text)


@pytest.mark.slow
def test_a_model_trained_on_rasa_data_keeps_synonyms_lookups_and_answers_roles(tmp_path):
    from slotfill.inference.tagger import SlotTagger
    from slotfill.serving.schemas import rasa_parse
    from tests.helpers import train_on_sample

    data = _booking_file(tmp_path)
    metrics = train_on_sample(tmp_path / "run", epochs=30, extra=[f"data.path={data}", "data.name=booking"])
    tagger = SlotTagger.load(metrics["model_file"])
    assert tagger.vocabs.synonyms == {"beantown": "boston"}
    assert "airline" in tagger.vocabs.lexicon.types  # the lookup table is a lexicon list of the model
    assert tagger.vocabs.lexicon.lists("airline", ["air", "new", "zealand"])
    (res,) = tagger.predict(["fly from beantown to oslo"])
    assert [(s["slot"], s["text"], s["value"], s["role"]) for s in res["spans"]] == [
        ("city@departure", "beantown", "boston", "departure"),
        ("city@arrival", "oslo", "oslo", "arrival"),
    ]
    entities = rasa_parse(res)["entities"]
    assert [(e["entity"], e["role"], e["value"]) for e in entities] == [
        ("city", "departure", "boston"),
        ("city", "arrival", "oslo"),
    ]
    assert "group" not in entities[0]  # Rasa's keys only where the model has them


def test_multi_intents_are_written_with_rasas_plus_and_read_back_as_one_label(tmp_path):
    records = [formats.Record(["to", "boston"], ["O", "B-city"], "flight#airfare", "x", 1)]
    text = rasa.dumps(records)
    assert '- intent: "flight+airfare"' in text
    (back,) = rasa.read(_write(tmp_path, text))
    assert back.intent == "flight#airfare"


def test_a_retrieval_intent_is_its_intent_and_its_response_key_is_named_unused(tmp_path):
    path = _write(tmp_path, "nlu:\n- intent: chitchat/ask_name\n  examples: |\n    - what is your name\n")
    (record,), extras = rasa.read_with_extras(path)
    assert record.intent == "chitchat"
    assert extras.unused == ["the response key of retrieval intent 'chitchat/ask_name' (line 2)"]


def test_a_synonym_that_only_changes_the_case_is_kept_as_rasa_keeps_it(tmp_path):
    text = (
        'nlu:\n- intent: a\n  examples: |\n    - to [boston]{"entity": "city", "value": "Boston"}\n'
        "    - to [Denver](city)\n- synonym: Denver\n  examples: |\n    - denver\n    - Denver\n"
    )
    _, extras = rasa.read_with_extras(_write(tmp_path, text))
    assert extras.synonyms == {"boston": "Boston", "denver": "Denver"}


def test_several_entities_on_one_text_are_an_error_not_text(tmp_path):
    text = 'nlu:\n- intent: a\n  examples: |\n    - fly to [boston][{"entity": "city"}, {"entity": "place"}]\n'
    with pytest.raises(DataError, match=r"train.yml:4: several entities on one text"):
        rasa.read(_write(tmp_path, text))


def test_examples_given_as_a_list_of_texts_with_metadata_are_read(tmp_path):
    text = (
        "nlu:\n- intent: greet\n  examples:\n  - text: |\n      hi [bob](name)\n    metadata:\n"
        "      sentiment: neutral\n  - text: hey there\n"
    )
    records, extras = rasa.read_with_extras(_write(tmp_path, text))
    assert [(r.tokens, r.tags, r.line) for r in records] == [
        (["hi", "bob"], ["O", "B-name"], 5),
        (["hey", "there"], ["O", "O"], 8),
    ]
    assert extras.unused == ["example key 'metadata' (line 4)"]
    with pytest.raises(DataError, match=r"train.yml:4: an item of an examples list needs 'text:'"):
        rasa.read(_write(tmp_path, "nlu:\n- intent: greet\n  examples:\n  - txt: hi\n"))
    with pytest.raises(DataError, match=r"train.yml:4: empty example"):
        rasa.read(_write(tmp_path, "nlu:\n- intent: greet\n  examples:\n  - text: null\n"))


def test_the_parse_answer_names_a_multi_intent_as_rasa_does():
    from slotfill.serving.schemas import rasa_parse

    ranking = [{"name": "atis_flight#atis_airfare", "confidence": 0.6}, {"name": "atis_flight", "confidence": 0.3}]
    result = {"text": "x", "tokens": ["x"], "tags": ["O"], "spans": [], "intent": "atis_flight#atis_airfare"}
    answer = rasa_parse({**result, "intent_confidence": 0.6, "intent_ranking": ranking})
    assert answer["intent"] == {"name": "atis_flight+atis_airfare", "confidence": 0.6}
    assert [r["name"] for r in answer["intent_ranking"]] == ["atis_flight+atis_airfare", "atis_flight"]
