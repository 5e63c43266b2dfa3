"""convert.py: a file, a split folder or a folder of splits, into any format, and back."""

import json
import re

import pytest

from slotfill.data.convert import convert, summary
from slotfill.data.load import formats, read_split
from slotfill.errors import DataError
from tests.conftest import write_split


def test_a_folder_of_splits_becomes_a_folder_of_split_files(tmp_path, sample_dir):
    written = convert(sample_dir, tmp_path / "iob", "atis_iob")
    assert sorted(w.path.name for w in written) == ["test.iob", "train.iob", "valid.iob"]
    assert (tmp_path / "iob" / "train.iob").read_text().startswith("BOS i want to leave new york EOS\tO O O O O B-")
    back = convert(tmp_path / "iob", tmp_path / "back", "folder")
    assert {w.path.name for w in back} == {"train", "valid", "test"}
    for split in ("train", "valid", "test"):
        assert read_split(tmp_path / "back" / split) == read_split(sample_dir / split)


def test_one_file_with_a_scheme_and_a_note_for_text_formats(tmp_path):
    split = write_split(tmp_path, "train", "call: new york\n", "O B-city I-city\n", "x\n")
    (w,) = convert(split, tmp_path / "a.conll", "conll", scheme="bioes")
    assert w.sentences == 1 and "york\tE-city" in (tmp_path / "a.conll").read_text()
    (w,) = convert(tmp_path / "a.conll", tmp_path / "a.yml", "rasa")
    assert len(w.retokenized) == 1 and "splits further" in summary([w])
    assert formats.read(tmp_path / "a.yml")[0].tokens == ["call", ":", "new", "york"]


def test_bad_requests(tmp_path, sample_dir):
    with pytest.raises(DataError, match="unknown format 'xml'"):
        convert(sample_dir, tmp_path / "x", "xml")
    with pytest.raises(DataError, match="not found"):
        convert(tmp_path / "nowhere", tmp_path / "x", "conll")


def _jsonl(tmp_path, tokens, tags, intent="flight"):
    path = tmp_path / "in.jsonl"
    rows = [{"tokens": ["fly", "home"], "tags": ["O", "O"], "intent": "flight"}]
    rows.append({"tokens": tokens, "tags": tags, "intent": intent})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    "tokens, to, problem",
    [
        (["-DOCSTART-", "to", "boston"], "conll", "-DOCSTART- cannot be written as conll"),
        (["fly", "[to](x)", "boston"], "rasa", "'[to](x)' would be read back as Rasa entity markup"),
    ],
)
def test_convert_refuses_a_token_its_target_would_misread(tmp_path, tokens, to, problem):
    src = _jsonl(tmp_path, tokens, ["O", "O", "B-toloc"])
    out = tmp_path / "out"
    with pytest.raises(DataError, match=rf"in.jsonl:2: .*{re.escape(problem)}") as e:
        convert(src, out, to)
    assert "\n" not in str(e.value) and not out.exists()


def test_a_token_that_starts_with_a_hash_survives_conll(tmp_path):
    src = _jsonl(tmp_path, ["#5", "to", "boston"], ["O", "O", "B-toloc"])
    convert(src, tmp_path / "out.conll", "conll")
    convert(tmp_path / "out.conll", tmp_path / "back.jsonl", "jsonl")
    assert (tmp_path / "back.jsonl").read_text().splitlines() == src.read_text().splitlines()


def test_a_folder_that_could_not_hold_the_intents_is_not_written(tmp_path):
    """Some sentences with an intent and some without: the label file would have empty lines."""
    src = _jsonl(tmp_path, ["to", "boston"], ["O", "B-toloc"], intent=None)
    src.write_text(src.read_text() + json.dumps({"tokens": ["x"], "tags": ["O"], "intent": "a"}) + "\n")
    with pytest.raises(DataError, match="in.jsonl:2: no intent, but other sentences have one"):
        convert(src, tmp_path / "split", "folder")
    assert not (tmp_path / "split").exists() and not list(tmp_path.glob(".split*"))


@pytest.mark.parametrize("where", ["read", "written"])
def test_a_refused_split_leaves_no_other_split_behind(tmp_path, where):
    """A data set is converted whole or not at all, whichever split is refused and however it is found."""
    src = tmp_path / "data"
    for split in ("train", "valid", "test"):
        write_split(src, split, "to boston\nto denver\n", "O B-toloc\nO B-toloc\n", None)
    if where == "read":  # found while reading: a tag too few
        write_split(src, "train", "to boston\nto denver\n", "O B-toloc\nO\n", None)
        problem = r"train/seq.out:2: 1 tags for 2 tokens"
    else:  # found while writing the last split: a token conll would misread
        write_split(src, "valid", "-DOCSTART- boston\n", "O B-toloc\n", None)
        problem = "-DOCSTART- cannot be written as conll"
    out = tmp_path / "out"
    out.mkdir()
    (out / "train.conll").write_text("an earlier conversion\n")  # the user's: kept when this one is refused
    with pytest.raises(DataError, match=problem):
        convert(src, out, "conll")
    assert sorted(p.name for p in out.iterdir()) == ["train.conll"] and not list(tmp_path.glob(".out*"))
    assert (out / "train.conll").read_text() == "an earlier conversion\n"


def test_an_output_folder_of_other_files_is_refused_and_kept(tmp_path, sample_dir):
    """OUT is never wiped: a folder holding anything a conversion did not write there is refused, untouched."""
    mine = tmp_path / "mydata"
    mine.mkdir()
    convert(sample_dir / "train", mine / "train.conll", "conll")
    (mine / "other.csv").write_text("keep me\n")
    with pytest.raises(DataError, match="mydata: is, holds or lies in the input .*train.conll"):
        convert(mine / "train.conll", mine, "jsonl")  # one split into the folder that holds it
    with pytest.raises(DataError, match="is a folder: name a file"):
        convert(sample_dir / "train", mine, "jsonl")
    with pytest.raises(DataError, match="holds files a split folder does not .*other.csv"):
        convert(sample_dir / "train", mine, "folder")
    (mine / "train").mkdir()
    (mine / "train" / "notes.txt").write_text("mine\n")
    with pytest.raises(DataError, match="notes.txt"):
        convert(sample_dir, mine, "folder")
    assert sorted(p.name for p in mine.rglob("*")) == ["notes.txt", "other.csv", "train", "train.conll"]
    # an earlier conversion's split folder is replaced whole, its stale label file with it
    convert(sample_dir / "train", tmp_path / "split", "folder")
    assert (tmp_path / "split" / "label").exists()
    convert(write_split(tmp_path, "nolabel", "fly home\n", "O O\n", None), tmp_path / "split", "folder")
    assert sorted(p.name for p in (tmp_path / "split").iterdir()) == ["seq.in", "seq.out"]


def test_a_folder_of_splits_into_a_file_is_refused_in_one_line(tmp_path, sample_dir):
    (tmp_path / "afile").write_text("x\n")
    with pytest.raises(DataError, match="is a file: a folder of splits is written to a folder"):
        convert(sample_dir, tmp_path / "afile", "conll")


def test_spans_are_only_for_jsonl_and_written_as_a_text_format(tmp_path, sample_dir):
    with pytest.raises(DataError, match="only jsonl has a spans form, not conll"):
        convert(sample_dir, tmp_path / "x", "conll", spans=True)
    src = _jsonl(tmp_path, ["call:", "bob"], ["O", "B-name"])
    (w,) = convert(src, tmp_path / "spans.jsonl", "jsonl", spans=True)
    assert len(w.retokenized) == 1  # a note, as for rasa or doccano, not a refusal
    assert json.loads((tmp_path / "spans.jsonl").read_text().splitlines()[1])["text"] == "call: bob"


def test_a_file_named_as_a_split_folder_is_refused_and_kept(tmp_path, sample_dir):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    with pytest.raises(DataError, match="notes.txt: is a file: name a folder to write a split folder to"):
        convert(sample_dir / "train", notes, "folder")
    assert notes.read_text() == "mine\n"
    src = _jsonl(tmp_path, ["to", "boston"], ["O", "B-toloc"])
    with pytest.raises(DataError, match="in.jsonl: is, holds or lies in the input"):
        convert(src, src, "jsonl")


def test_a_refusal_names_the_output_not_a_staging_place(tmp_path):
    src = _jsonl(tmp_path, ["to", "boston"], ["O", "B-toloc"], intent="")  # atis_iob needs every intent
    with pytest.raises(DataError) as e:
        convert(src, tmp_path / "out.iob", "atis_iob")
    assert ".converting" not in str(e.value)


@pytest.mark.parametrize("to", ["doccano", "labelstudio", "rasa"])
def test_text_formats_refuse_a_tagged_token_that_would_vanish(tmp_path, to):
    """An invisible token (a zero-width joiner) is dropped by the tokenizer: its tag would be lost."""
    src = _jsonl(tmp_path, ["a", "\u200d", "b"], ["B-x", "I-x", "I-x"])
    with pytest.raises(DataError, match=r"in.jsonl:2: a token of only invisible characters \(U\+200D\)"):
        convert(src, tmp_path / f"out.{to}", to)


def test_stray_inside_tags_convert_to_other_schemes_as_chunk_starts(tmp_path):
    src = _jsonl(tmp_path, ["to", "new", "york"], ["O", "I-city", "I-city"])
    convert(src, tmp_path / "out.conll", "conll", scheme="bioes")
    assert "new\tB-city\nyork\tE-city" in (tmp_path / "out.conll").read_text()


def test_an_output_inside_the_input_folder_or_around_it_is_refused(tmp_path, sample_dir):
    import shutil

    split = tmp_path / "sp"
    shutil.copytree(sample_dir / "train", split)
    before = (split / "seq.in").read_bytes()
    with pytest.raises(DataError, match="is, holds or lies in the input"):
        convert(split, split / "seq.in", "conll")
    with pytest.raises(DataError, match="is, holds or lies in the input"):
        convert(split, tmp_path, "folder")  # the folder replaced would take the input with it
    assert (split / "seq.in").read_bytes() == before


def test_a_folder_with_two_files_for_one_split_is_named_in_convert_words(tmp_path, sample_dir):
    src = tmp_path / "ds"
    src.mkdir()
    for name in ("train.conll", "dev.conll", "valid.conll"):
        convert(sample_dir / "valid", src / name, "conll")
    with pytest.raises(DataError, match=r"both look like the valid split; convert those files one at a time$"):
        convert(src, tmp_path / "out", "jsonl")


def test_half_a_character_in_a_rasa_synonym_is_one_line_not_a_traceback(tmp_path):
    src = tmp_path / "s.yml"
    src.write_text(
        'version: "3.1"\nnlu:\n- intent: fly\n  examples: |\n'
        '    - to [NYC]{"entity": "city", "value": "new york\\ud83d"}\n'
    )
    with pytest.raises(DataError, match=r"out.yml: cannot be written: the output holds a lone surrogate \(U\+D83D"):
        convert(src, tmp_path / "out.yml", "rasa")
    assert not (tmp_path / "out.yml").exists()
