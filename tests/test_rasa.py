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
    assert "regex 'zipcode'" in warnings[0] and "'responses:'" in warnings[0] and "metadata" in warnings[0]


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
