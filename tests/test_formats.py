"""formats/: every reader on a small file of its own, malformed files with file:line, detection, round trips."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.data.formats import Record
from slotfill.data.load import formats
from slotfill.errors import DataError
from tests.conftest import write_split
from tests.helpers import examples

FLY = (["fly", "to", "boston"], ["O", "O", "B-toloc.city_name"], "atis_flight")
NY = (["from", "new", "york"], ["O", "B-fromloc.city_name", "I-fromloc.city_name"], "atis_airfare")

GOOD = {
    "conll": (
        "f.conll",
        "-DOCSTART- O\n\n# intent = atis_flight\nfly O\nto\tO\nboston S-toloc.city_name\n\n"
        "# text = from new york\n# intent = atis_airfare\nfrom\tX\tO\nnew\tX\tB-fromloc.city_name\n"
        "york\tX\tE-fromloc.city_name\n",
    ),
    "atis_iob": (
        "f.iob",
        "BOS fly to boston EOS\tO O O B-toloc.city_name atis_flight\n"
        "BOS from new york EOS\tO O B-fromloc.city_name I-fromloc.city_name atis_airfare\n",
    ),
    "jsonl": (
        "f.jsonl",
        '{"tokens": ["fly", "to", "boston"], "tags": ["O", "O", "B-toloc.city_name"], "intent": "atis_flight"}\n\n'
        '{"text": "from new york", "spans": [{"start": 5, "end": 13, "label": "fromloc.city_name"}],'
        ' "intent": ["atis_airfare"]}\n',
    ),
    "rasa": (
        "f.yml",
        'version: "3.1"\nnlu:\n- intent: atis_flight\n  examples: |\n    - fly to [boston](toloc.city_name)\n'
        '- intent: atis_airfare\n  examples: |\n    - from [new york]{"entity": "fromloc.city_name"}\n'
        "- synonym: nyc\n  examples: |\n    - big apple\n",
    ),
    "doccano": (
        "f.jsonl",
        '{"text": "fly to boston", "label": [[7, 13, "toloc.city_name"]], "intent": "atis_flight"}\n'
        '{"text": "from new york ", "label": [[4, 14, "fromloc.city_name"]], "cats": ["atis_airfare"]}\n',
    ),
    "labelstudio": (
        "f.json",
        json.dumps(
            [
                {
                    "data": {"text": "fly to boston"},
                    "annotations": [
                        {
                            "result": [
                                {"value": {"start": 7, "end": 13, "labels": ["toloc.city_name"]}},
                                {"value": {"choices": ["atis_flight"]}},
                            ]
                        }
                    ],
                },
                {
                    "data": {"text": "from new york"},
                    "annotations": [
                        {
                            "result": [
                                {"value": {"start": 5, "end": 13, "labels": ["fromloc.city_name"]}},
                                {"value": {"choices": ["atis_airfare"]}},
                            ]
                        }
                    ],
                },
            ],
            indent=1,
        ),
    ),
    "hub": (
        "f.csv",
        "id,intent,text,slots\n0,atis_flight,fly to boston,O O B-toloc.city_name\n"
        '1,atis_airfare,"from new york","O B-fromloc.city_name I-fromloc.city_name"\n',
    ),
}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_each_format_reads_its_file_and_is_detected(tmp_path, fmt):
    name, text = GOOD[fmt]
    path = _write(tmp_path, name, text)
    assert formats.detect(path) == fmt
    records = formats.read(path)
    assert [(r.tokens, r.tags, r.intent) for r in records] == [FLY, NY]
    assert all(r.line is not None and r.file == str(path) for r in records)


def test_conll_hash_token_is_not_a_comment(tmp_path):
    path = _write(tmp_path, "h.conll", "# sent_id = 1\n#\tO\nfive\tB-n\n")
    assert [r.tokens for r in formats.read(path)] == [["#", "five"]]


def test_folder_format_and_its_variant(tmp_path):
    d = write_split(tmp_path, "train", "fly to boston\n", "O O B-x\n", "a\n")
    assert formats.detect(d) == "folder" and formats.read(d)[0].tags == ["O", "O", "B-x"]
    v = tmp_path / "valid"
    v.mkdir()
    (v / "valid.seq.in").write_text("a b\n")
    (v / "valid.seq.out").write_text("O U-x\n")
    assert formats.read(v)[0].tags == ["O", "B-x"] and formats.read(v)[0].intent == ""


BAD = [
    ("conll", "f.conll", "fly O\nto\n", 2, "expected a token and a tag"),
    ("conll", "f.conll", "# intent = x\n\nfly O\n", 1, "not followed by a sentence"),
    ("conll", "f.conll", "fly O\nto Q-x\n", 2, "not in BIO form"),  # the tag's own line, not its sentence's
    ("conll", "f.conll", "a O\n\nfly O\nto E-x\n", 4, "does not continue a chunk of type 'x' (BIOES)"),
    ("atis_iob", "f.iob", "BOS a EOS\tO O i\nBOS a b EOS\tO O i\n", 2, "expected 'O', 2 tags and the intent"),
    ("atis_iob", "f.iob", "BOS a EOS\tO O i\n\n", 2, "empty line"),
    ("atis_iob", "f.iob", "BOS a EOS\tO O i\nBOS a EOS O O i\n", 2, "no tab"),
    ("jsonl", "f.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["a"], "tags": ["O"]\n', 2, "not valid JSON"),
    ("jsonl", "f.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["a", "b"], "tags": ["O"]}\n', 2, "1 tags"),
    (
        "jsonl",
        "f.jsonl",
        '{"tokens": ["a"], "tags": ["O"]}\n{"text": "to boston", "spans": [{"start": 4, "end": 7, "label": "c"}]}\n',
        2,
        "does not fall on token boundaries",
    ),
    ("jsonl", "f.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{"words": ["a"]}\n', 2, "expected 'tokens'"),
    ("doccano", "f.jsonl", '{"text": "a b", "label": []}\n{"text": "a b", "label": [[0, 9, "x"]]}\n', 2, "outside"),
    (
        "doccano",
        "f.jsonl",
        '{"text": "a b", "label": []}\n{"text": "a b", "label": [[0, 3, "x"], [2, 3, "y"]]}\n',
        2,
        "overlaps",
    ),
    ("rasa", "f.yml", "nlu:\n- intent: a\n  examples: |\n    - fine\n    no dash\n", 5, "must start with '- '"),
    ("rasa", "f.yml", "nlu:\n- intent: a\n  examples: |\n    - fine\n    - [bos](x)ton\n", 5, "token boundaries"),
    ("rasa", "f.yml", "nlu:\n- intent: a\n  examples: |\n    - fine\n    - [bos]ton](x)\n", 5, "markup"),
    ("rasa", "f.yml", 'nlu:\n- intent: a\n  examples: |\n    - a [b]{"role": 1}\n', 4, "no 'entity' name"),
    ("hub", "f.csv", "id,intent,text,slots\n0,a,x y,O O\n1,a,x y z,O O\n", 3, "2 tags for 3 tokens"),
    ("hub", "f.csv", "id,intent,text,slots\n0,a,x y,O O\n1,a,x y,O O,extra\n", 3, "5 fields, but the header has 4"),
    ("hub", "f.csv", "id,intent,text,slots\n0,a,x y,O O\n1,a,x y\n", 3, "3 fields, but the header has 4"),
    (
        "rasa",
        "f.yml",
        "nlu:\n- intent: a\n  examples: |\n    - x\n- intent: book flight\n  examples: |\n    - y\n",
        5,
        "contains whitespace",
    ),
    ("rasa", "f.yml", "nlu:\n- intent: {a: b}\n  examples: |\n    - x\n", 2, "'intent' must be a name"),
    ("doccano", "f.jsonl", '{"text": "a b", "label": [[0.0, 1, "x"]]}\n', 1, "offsets must be whole numbers"),
    ("doccano", "f.jsonl", '{"text": "a b", "label": [[0, 1' + "0" * 5000 + ', "x"]]}\n', 1, "not usable JSON"),
    (
        "doccano",
        "f.jsonl",
        '{"text": "a", "label": []}\n' + "[" * 100_000 + "]" * 100_000 + "\n",
        2,
        "nested too deeply",
    ),
    ("jsonl", "f.jsonl", '{"text": "a b", "spans": [{"start": 0, "end": 1.5, "label": "x"}]}\n', 1, "whole numbers"),
    (
        "conll",
        "f.txt",
        "fly O\nto O\nboston B-city\nfrom O\nnew B-c\nyork I-c\nand O\nthen O\nto O\nx O\nbad\n",
        11,
        "expected a token and a tag",
    ),
]


@pytest.mark.parametrize("fmt, name, text, line, problem", BAD)
def test_malformed_files_name_file_and_line(tmp_path, fmt, name, text, line, problem):
    path = _write(tmp_path, name, text)
    with pytest.raises(DataError) as err:
        formats.read(path, fmt)
    assert f"{path}:{line}: " in str(err.value) and problem in str(err.value), str(err.value)


def test_labelstudio_malformed_task_names_its_line(tmp_path):
    tasks = [{"data": {"text": "a"}, "annotations": [{"result": []}]}, {"data": {"body": "a"}, "annotations": []}]
    path = _write(tmp_path, "f.json", "[\n" + ",\n".join(json.dumps(t) for t in tasks) + "\n]\n")
    with pytest.raises(DataError, match=r"f.json:3: expected data.text"):
        formats.read(path)
    path = _write(tmp_path, "g.json", '[{"data": {"text": "a"}, "annotations": [{"result": []}, {"result": []}]}]')
    with pytest.raises(DataError, match=r"g.json:1: expected one annotation for the task, found 2"):
        formats.read(path)


def test_detection_refuses_what_it_cannot_tell(tmp_path):
    with pytest.raises(DataError, match="cannot tell the format.*data.format="):
        formats.detect(_write(tmp_path, "f.txt", "just some words\n"))
    with pytest.raises(DataError, match="empty file"):
        formats.detect(_write(tmp_path, "e.txt", "\n\n"))
    with pytest.raises(DataError, match="unknown format 'xml'"):
        formats.read(_write(tmp_path, "x.txt", "a O\n"), "xml")


def test_a_long_hub_csv_is_not_taken_for_conll_with_one_bad_line(tmp_path):
    rows = "".join(f"{i},atis_flight,fly to boston,O O B-toloc.city_name\n" for i in range(12))
    assert formats.detect(_write(tmp_path, "f.csv", "id,intent,text,slots\n" + rows)) == "hub"
    conll = "".join("fly O\nboston B-x\n\n" for _ in range(6)) + "a line without a tag here\n"
    path = _write(tmp_path, "f.conll", conll)
    assert formats.detect(path) == "conll"
    with pytest.raises(DataError, match=r"f.conll:19:"):
        formats.read(path)


def test_conll_comments_are_hash_and_space_only(tmp_path):
    path = _write(tmp_path, "f.conll", "# sent_id = 1\n#5\tO\nflights O\n\n#\tO\nx B-y\n")
    assert [r.tokens for r in formats.read(path)] == [["#5", "flights"], ["#", "x"]]


def test_conll_with_more_columns_keeps_a_hash_token_and_refuses_a_token_with_a_space(tmp_path):
    path = _write(tmp_path, "m.conll", "# text = go to O\n#\tSYM\tO\nfive\tCD\tB-n\n")
    assert [r.tokens for r in formats.read(path)] == [["#", "five"]]
    path = _write(tmp_path, "s.conll", "fly\tO\nnew york\tB-city\n")
    with pytest.raises(DataError, match=r"s.conll:2: the token 'new york' holds a space"):
        formats.read(path)


def test_conll_two_intents_for_one_sentence_are_refused(tmp_path):
    path = _write(tmp_path, "i.conll", "# intent = a\n# intent = b\nx\tO\n")
    with pytest.raises(DataError, match=r"i.conll:2: a second '# intent =' for one sentence \(the first: line 1\)"):
        formats.read(path)


def test_writers_refuse_what_their_format_cannot_hold(tmp_path):
    no_intent = [Record(["a"], ["O"], "", "src.conll", 4)]
    for fmt in ("atis_iob", "rasa"):
        with pytest.raises(DataError, match=r"src.conll:4: no intent"):
            formats.dumps(no_intent, fmt)


# ------------------------------------------------------------------------------ round trips
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
LABEL = st.sampled_from(["city", "toloc.city_name", "b_c"])
INTENT = st.sampled_from(["flight", "atis_airfare", "a#b"])


@st.composite
def sentences(draw):
    """A BIO sentence built from chunks, so every tag sequence is well-formed."""
    tokens, tags = [], []
    for _ in range(draw(st.integers(1, 4))):
        words = draw(st.lists(WORD, min_size=1, max_size=3))
        label = draw(st.one_of(st.none(), LABEL))
        tokens += words
        tags += ["O"] * len(words) if label is None else [f"B-{label}"] + [f"I-{label}"] * (len(words) - 1)
    return Record(tokens, tags, draw(INTENT))


def _same(written, read, ordered=True):
    a = [(r.tokens, r.tags, r.intent) for r in written]
    b = [(r.tokens, r.tags, r.intent) for r in read]
    assert a == b if ordered else sorted(a) == sorted(b)


CASES = [
    ("conll", "bio", {}),
    ("conll", "bioes", {}),
    ("conll", "iob1", {}),
    ("atis_iob", "bilou", {}),
    ("jsonl", "bio", {}),
    ("jsonl", "bio", {"spans": True}),
    ("rasa", "bio", {}),
    ("doccano", "bio", {}),
    ("labelstudio", "bio", {}),
    ("hub", "bioes", {}),
    ("folder", "bioes", {}),
]


# tokens that a reader could take for its own syntax: comments, document breaks, markup, BOS/EOS, tags
HAZARD = st.sampled_from(
    ["#5", "#", "# ", "-DOCSTART-", "[to](x)", '[a]{"entity":"b"}', "](", "BOS", "EOS", "O", "B-x", "a,b", '"q', "#x"]
)


@st.composite
def hazardous(draw):
    r = draw(sentences())
    for _ in range(draw(st.integers(1, 2))):
        r.tokens.insert(draw(st.integers(0, len(r.tokens))), draw(HAZARD).strip() or "#")
        r.tags.insert(0, "O")  # an O in front keeps the chunks well-formed; positions are shifted, as tags go
    return r


@pytest.mark.parametrize("fmt, scheme, options", CASES)
@settings(max_examples=examples(30), deadline=None)
@given(records=st.lists(hazardous(), min_size=1, max_size=4))
def test_writers_refuse_or_keep_tokens_their_readers_could_misread(tmp_path_factory, fmt, scheme, options, records):
    """Lossless convert: what is written reads back the same, or the sentence is refused with its file:line."""
    from slotfill.data.formats.base import retokenizes

    for n, r in enumerate(records, 1):
        r.file, r.line = "src.jsonl", n
    path = tmp_path_factory.mktemp("hz") / ("split" if fmt == "folder" else f"data{formats.suffix(fmt)}")
    try:
        formats.write(records, path, fmt, scheme, **options)
    except DataError as e:
        assert str(e).startswith(("src.jsonl:", str(path))) and "\n" not in str(e), str(e)
        assert not path.exists()
        return
    back = formats.read(path, fmt, "iob1" if scheme == "iob1" else "auto")
    if fmt in formats.TEXT_FORMATS or options.get("spans"):  # tokens come from the tokenizer: compare those it keeps
        kept = [r for r in records if retokenizes(r.tokens)]
        back = [b for b in back if any(b.tokens == r.tokens for r in kept)]
        _same(kept, back, ordered=False)
    else:
        _same(records, back)


@pytest.mark.parametrize("fmt, scheme, options", CASES)
@settings(max_examples=examples(25), deadline=None)
@given(records=st.lists(sentences(), min_size=1, max_size=6))
def test_round_trip(tmp_path_factory, fmt, scheme, options, records):
    path = tmp_path_factory.mktemp("rt") / ("split" if fmt == "folder" else f"data{formats.suffix(fmt)}")
    formats.write(records, path, fmt, scheme, **options)
    # iob1 cannot be told from BIO by looking when no chunk follows one of its type: say what was written
    back = formats.read(path, fmt, "iob1" if scheme == "iob1" else "auto")
    _same(records, back, ordered=fmt != "rasa")  # rasa groups examples by intent


@pytest.mark.parametrize(
    "comment, problem",
    [
        ("# intent = book flight", "write an intent as '# intent = NAME' (one word)"),
        ("# intent: book_flight", "write an intent as '# intent = NAME' (one word)"),
    ],
)
def test_a_conll_intent_comment_slotfill_cannot_read_is_named(tmp_path, comment, problem):
    path = _write(tmp_path, "a.conll", f"{comment}\nto\tO\nboston\tB-city\n")
    with pytest.raises(DataError, match=rf"a.conll:1: .*{re.escape(problem)}"):
        formats.read(path)


def test_rasa_intents_with_a_slash_are_refused_and_others_written_as_they_are(tmp_path):
    faq = [Record(["hi"], ["O"], "faq/ask", "src.jsonl", 1)]
    with pytest.raises(DataError, match="src.jsonl:1: intent 'faq/ask': Rasa reads a '/' as a retrieval intent"):
        formats.write(faq, tmp_path / "a.yml", "rasa")
    greet = [Record(["hi"], ["O"], "greet😀", "src.jsonl", 1)]
    formats.write(greet, tmp_path / "b.yml", "rasa")
    assert formats.read(tmp_path / "b.yml")[0].intent == "greet😀" and "greet😀" in (tmp_path / "b.yml").read_text()


def test_half_a_character_from_a_json_escape_is_named_with_its_line(tmp_path):
    path = _write(tmp_path, "a.jsonl", '{"tokens": ["hi\\ud83d"], "tags": ["O"]}\n')
    with pytest.raises(DataError, match=r"a.jsonl:1: holds a lone surrogate \(U\+D83D\)"):
        formats.read(path)


def test_a_jsonl_token_with_whitespace_at_an_end_is_refused(tmp_path):
    path = _write(tmp_path, "a.jsonl", '{"tokens": [" to", "boston"], "tags": ["O", "B-city"]}\n')
    with pytest.raises(DataError, match="a.jsonl:1: 'tokens' has an item ' to' that is empty or contains whitespace"):
        formats.read(path)


def test_hub_intents_are_checked_as_every_reader_checks_them(tmp_path):
    path = _write(tmp_path, "a.csv", "id,intent,text,slots\n1,book flight,to boston,O B-city\n")
    with pytest.raises(DataError, match="a.csv:2: intent 'book flight' contains whitespace"):
        formats.read(path, "hub")


def test_an_atis_iob_file_with_one_bad_line_is_read_as_atis_iob_and_the_line_named(tmp_path):
    lines = ["BOS to boston EOS\tO O B-city atis_flight"] * 29
    lines.insert(10, "BOS to boston\tO O B-city atis_flight")
    path = _write(tmp_path, "a.iob", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match="a.iob:11: the words must be 'BOS w1 ... wn EOS'"):
        formats.read(path)


def test_old_mac_line_ends_read_as_lines(tmp_path):
    split = tmp_path / "train"
    split.mkdir()
    (split / "seq.in").write_bytes(b"to boston\rto denver\r")
    (split / "seq.out").write_bytes(b"O B-city\rO B-city\r")
    assert [r.tokens for r in formats.read(split)] == [["to", "boston"], ["to", "denver"]]


def test_intents_written_alike_are_one_intent_and_a_label_of_no_name_is_refused(tmp_path):
    split = write_split(tmp_path, "train", "a\nb\nc\n", "O\nO\nO\n", "greet\n\ufeffgreet\ngreet\u200b\n")
    assert {r.intent for r in formats.read(split)} == {"greet"}
    split = write_split(tmp_path, "valid", "a\n", "O\n", "#\n")
    with pytest.raises(DataError, match=r"label:1: intent '#' names no intent"):
        formats.read(split)


def test_a_span_edged_with_invisible_marks_falls_on_its_tokens(tmp_path):
    text = "fly to \u200fboston\u200f"
    row = {"text": text, "label": [[7, len(text), "city"]]}
    path = _write(tmp_path, "a.jsonl", json.dumps(row) + "\n")
    (r,) = formats.read(path, "doccano")
    assert r.tags == ["O", "O", "B-city"]


def test_an_intent_field_naming_no_intent_is_refused_in_every_reader(tmp_path):
    path = _write(tmp_path, "a.jsonl", '{"tokens": ["hi"], "tags": ["O"], "intent": "#"}\n')
    with pytest.raises(DataError, match="a.jsonl:1: intent '#' names no intent"):
        formats.read(path)
    path = _write(tmp_path, "b.conll", "# intents = flight\nto\tO\n")
    with pytest.raises(DataError, match="b.conll:1: .*write an intent as '# intent = NAME'"):
        formats.read(path)


def test_hub_rows_of_token_lists_are_checked_and_intent_class_zero_kept():
    from slotfill.data.formats.hub import rows_to_records

    rows = [{"text": ["to", "boston"], "slots": ["O", "B-city"], "intent": 0}]
    (r,) = rows_to_records(rows, ["text", "slots", "intent"], "hub")
    assert r.intent == "0"
    rows[0]["text"] = ["new york", "to"]
    with pytest.raises(DataError, match="hub:2: item 'new york' is empty or contains whitespace"):
        rows_to_records(rows, ["text", "slots", "intent"], "hub")


def test_a_conll_comment_inside_a_sentence_is_named_at_its_line(tmp_path):
    path = _write(tmp_path, "nb.conll", "# intent = a\nfly O\nto O\n# intent = b\nboston B-city\n")
    with pytest.raises(DataError, match=r"nb.conll:4: '# intent = b': a comment inside a sentence: a blank line"):
        formats.read(path)
    path = _write(tmp_path, "ok.conll", "fly O\n# O\n#\tSYM\tB-x\n")  # the token '#' with its tag, anywhere
    assert formats.read(path)[0].tokens == ["fly", "#", "#"]


def test_a_conll_hash_token_among_space_separated_columns_is_a_token(tmp_path):
    text = "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n# # I-NP O\nGerman JJ B-NP B-MISC\n\n"
    (rec,) = formats.read(_write(tmp_path, "c4.conll", text))
    assert rec.tokens == ["EU", "rejects", "#", "German"] and rec.tags == ["B-ORG", "O", "O", "B-MISC"]
    path = _write(tmp_path, "c2.conll", "fly x y O\n# text = fly\n")  # as many columns, no tag last
    with pytest.raises(DataError, match=r"c2.conll:2: '# text = fly': a comment inside a sentence"):
        formats.read(path)
    path = _write(tmp_path, "c3.conll", "fly x O\n# intent = b\nboston x B-city\n")  # not as many columns
    with pytest.raises(DataError, match=r"c3.conll:2: '# intent = b': a comment inside a sentence"):
        formats.read(path)


@pytest.mark.parametrize(
    "extra",
    [
        {"entities": []},
        {"label": "greet"},
        {"words": [{"w": "hello", "start": 0.0, "end": 0.4}, {"w": "there", "start": 0.4, "end": 0.8}]},
        {"meta": [{"start": 0, "end": 5}]},  # offsets without a label
        {"labels": ["greet", "smalltalk"]},
        {"slots": [{"entity": "c", "startPos": 6, "endPos": 10}]},  # not span-like, and not under a span key
    ],
)
def test_a_slot_free_jsonl_record_with_other_keys_is_read(tmp_path, extra):
    path = _write(tmp_path, "o.jsonl", json.dumps({"text": "hello there", **extra}) + "\n")
    assert formats.read(path, "jsonl")[0].tags == ["O", "O"]
    if not {"label", "labels", "entities"} & set(extra):
        assert formats.read(path, "doccano")[0].tags == ["O", "O"]


@pytest.mark.parametrize(
    "spans",
    [
        [{"entity": "toloc.city_name", "startPos": 11, "endPos": 16}],  # LUIS: inclusive ends
        [{"start_char": 11, "end_char": 17, "label": "city"}],  # spaCy
        [{"begin": 11, "end": 17, "type": "city"}],
        [{"start": "11", "end": "17", "label": "city"}],  # offsets as strings
        [[11, 17, 3]],  # a label id
    ],
)
@pytest.mark.parametrize("key", ["entities", "labels", "label"])
def test_spans_of_any_shape_under_a_span_key_are_refused(tmp_path, key, spans):
    row = {"text": "flights to boston", "intent": "atis_flight", key: spans}
    path = _write(tmp_path, "j.jsonl", json.dumps(row) + "\n")
    with pytest.raises(DataError, match=rf"j.jsonl:1: jsonl reads slots from 'spans', this record has '{key}'"):
        formats.read(path, "jsonl")
    with pytest.raises(DataError, match=r"d.jsonl:1: (each item of|slot label 3 )"):  # doccano reads the filled key
        formats.read(_write(tmp_path, "d.jsonl", json.dumps({**row, "label": [], key: spans}) + "\n"), "doccano")


@pytest.mark.parametrize(
    "spans",
    [
        [[3, 9, "c"]],
        [{"start": 3, "end": 9, "entity": "c"}],
        [{"start_offset": 3, "end_offset": 9, "labels": ["c"]}],
        [{"start": 3, "end": 9, "type": "c"}],
    ],
)
def test_spans_under_another_jsonl_key_are_refused(tmp_path, spans):
    path = _write(tmp_path, "j.jsonl", json.dumps({"text": "to boston", "slots": spans}) + "\n")
    with pytest.raises(DataError, match=r"j.jsonl:1: jsonl reads slots from 'spans', this record has 'slots'"):
        formats.read(path, "jsonl")
    with pytest.raises(DataError, match=r"j.jsonl:1: no spans under 'label', 'labels' or 'entities'"):
        formats.read(path, "doccano")


def test_a_tokens_and_tags_record_with_text_and_entities_is_jsonl(tmp_path):
    row = {"tokens": ["to", "boston"], "tags": ["O", "B-c"], "text": "to boston", "entities": [[3, 9, "c"]]}
    path = _write(tmp_path, "t.jsonl", json.dumps(row) + "\n")
    assert formats.detect(path) == "jsonl"
    assert formats.read(path)[0].tags == ["O", "B-c"]


def test_a_doccano_record_with_tokens_but_no_tags_is_doccano(tmp_path):
    row = {"text": "fly to boston", "tokens": ["fly", "to", "boston"], "label": [[7, 13, "city"]]}
    path = _write(tmp_path, "d.jsonl", json.dumps(row) + "\n")
    assert formats.detect(path) == "doccano"
    assert formats.read(path)[0].tags == ["O", "O", "B-city"]
    path = _write(tmp_path, "t.jsonl", '{"tokens": ["fly"]}\n')  # no doccano key: jsonl's, which says what is missing
    with pytest.raises(DataError, match=r"t.jsonl:1: 'tokens' without 'tags'"):
        formats.read(path)


def test_rasa_duplicate_keys_are_refused_at_the_second(tmp_path):
    one = "nlu:\n- intent: a\n  examples: |\n    - hi\n"
    path = _write(tmp_path, "cat.yml", one + one.replace("- hi", "- to [boston](city)"))  # cat a.yml b.yml
    with pytest.raises(DataError, match=r"cat.yml:5: duplicate key 'nlu' \(the first: line 1\)"):
        formats.read(path)
    path = _write(tmp_path, "ex.yml", one + "  examples: |\n    - to [boston](city)\n")
    with pytest.raises(DataError, match=r"ex.yml:5: duplicate key 'examples'"):
        formats.read(path)


@pytest.mark.parametrize("examples", ["  examples: |\n", "  examples:\n", ""])
def test_a_rasa_intent_without_examples_is_refused(tmp_path, examples):
    text = (
        f"nlu:\n- intent: a\n  examples: |\n    - hi\n- intent: greet\n{examples}- intent: c\n  examples: |\n    - x\n"
    )
    with pytest.raises(DataError, match=r"r.yml:5: intent 'greet' has no examples"):
        formats.read(_write(tmp_path, "r.yml", text))


def test_rasa_json_is_named_and_the_conversion_said(tmp_path):
    data = {"rasa_nlu_data": {"common_examples": [{"text": "hi", "intent": "greet", "entities": []}]}}
    path = _write(tmp_path, "nlu.json", json.dumps(data, indent=2))
    for fmt in ("auto", "rasa"):
        with pytest.raises(DataError, match=r"nlu.json: Rasa's JSON format: .*rasa data convert nlu -f yaml"):
            formats.read(path, fmt)


def test_doccano_spans_under_labels_or_entities_are_read(tmp_path):
    rows = [
        {"text": "fly to boston", "entities": [{"id": 1, "start_offset": 7, "end_offset": 13, "label": "city"}]},
        {"text": "fly to boston", "entities": [[7, 13, "city"]], "relations": [], "cats": ["flight"]},
        {"text": "fly to boston", "labels": [[7, 13, "city"]], "intent": "flight"},
    ]
    path = _write(tmp_path, "d.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    assert formats.detect(path) == "doccano"
    assert [r.tags for r in formats.read(path)] == [["O", "O", "B-city"]] * 3


def test_spans_under_a_key_the_reader_does_not_read_are_refused(tmp_path):
    path = _write(
        tmp_path, "d.jsonl", '{"text": "to boston", "label": []}\n{"text": "to boston", "slots": [[3, 9, "c"]]}\n'
    )
    with pytest.raises(DataError, match=r"d.jsonl:2: no spans under 'label', 'labels' or 'entities'.*'text', 'slots'"):
        formats.read(path, "doccano")
    path = _write(tmp_path, "j.jsonl", '{"text": "to boston", "entities": [{"start": 3, "end": 9, "label": "c"}]}\n')
    with pytest.raises(DataError, match=r"j.jsonl:1: jsonl reads slots from 'spans', this record has 'entities'"):
        formats.read(path, "jsonl")
    # a sentence without slots, with nothing that looks like spans, is read as one
    path = _write(tmp_path, "o.jsonl", '{"text": "hello there", "intent": "greet"}\n')
    assert formats.read(path, "jsonl")[0].tags == ["O", "O"]
    assert formats.read(path, "doccano")[0].tags == ["O", "O"]


def _tasks(tmp_path, tasks):
    return _write(tmp_path, "ls.json", "[\n" + ",\n".join(json.dumps(t) for t in tasks) + "\n]\n")


def test_labelstudio_predictions_and_skipped_annotations_are_not_gold(tmp_path):
    good = {"data": {"text": "a"}, "annotations": [{"result": []}]}
    result = [{"value": {"start": 0, "end": 1, "labels": ["x"]}}]
    predicted = {"data": {"text": "a"}, "predictions": [{"result": result}]}
    with pytest.raises(DataError, match=r"ls.json:3: task has no annotation \(only predictions\): annotate it or"):
        formats.read(_tasks(tmp_path, [good, predicted]))
    skipped = {"data": {"text": "a"}, "annotations": [{"result": result, "was_cancelled": True}]}
    with pytest.raises(DataError, match=r"ls.json:2: the task's annotation was skipped: annotate it or leave it out"):
        formats.read(_tasks(tmp_path, [skipped, good]))


def test_labelstudio_tasks_are_found_in_linear_time(tmp_path, monkeypatch):
    """Each task's line is counted on from the last task's, not from the start of the file (20,000 tasks: 67 s)."""
    from slotfill.data.formats import labelstudio

    class Scanned(str):
        chars = 0

        def count(self, sub, start=0, end=None):
            Scanned.chars += (len(self) if end is None else end) - start
            return super().count(sub, start, end)

    path = _tasks(tmp_path, [{"data": {"text": "a"}, "annotations": [{"result": []}]}] * 2_000)
    monkeypatch.setattr(labelstudio, "read_text", lambda p: Scanned(path.read_text()))
    found = labelstudio.tasks(path)
    assert [n for n, _ in found[:3]] == [2, 3, 4] and found[-1][0] == 2_001
    assert Scanned.chars <= len(path.read_text())


def test_a_utf16_file_is_named_as_one(tmp_path):
    path = tmp_path / "u16.conll"
    for encoding in ("utf-16-le", "utf-16-be"):  # Notepad's "Unicode", PowerShell 5's `>`; and big-endian
        path.write_bytes("\ufefffly O\n".encode(encoding))
        for fmt in ("auto", "conll"):
            with pytest.raises(DataError, match=r"u16.conll: a UTF-16 file: save it as UTF-8 \(e.g. iconv"):
                formats.read(path, fmt)
