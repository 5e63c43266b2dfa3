"""data.py: benchmark readers with file:line errors, the data root, one split for evaluation."""

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.data import data_dir, load_folder, load_hub, load_split, read_split, resolve_path
from slotfill.errors import DataError
from tests.conftest import SHARED, write_split


def _good(root, split="train"):
    return write_split(
        root,
        split,
        "i want to leave taipei\nflights to boston \n",
        "O O O O B-fromloc.city_name\nO O B-toloc.city_name\n",
        "atis_flight\natis_flight#atis_airfare\n",
    )


def test_reads_good_split(tmp_path):
    cols = read_split(_good(tmp_path))
    assert cols["tokens"] == [["i", "want", "to", "leave", "taipei"], ["flights", "to", "boston"]]
    assert cols["tags"][1] == ["O", "O", "B-toloc.city_name"]
    assert cols["intent"] == ["atis_flight", "atis_flight#atis_airfare"]


def test_a_utf8_bom_starting_a_file_is_dropped(tmp_path):
    bom = b"\xef\xbb\xbf"
    d = write_split(tmp_path, "train", bom + b"i want taipei\n", bom + b"O O B-to\n", bom + b"atis_flight\n")
    cols = read_split(d)
    assert cols["tokens"] == [["i", "want", "taipei"]] and cols["tags"] == [["O", "O", "B-to"]]
    assert cols["intent"] == ["atis_flight"]
    d = write_split(tmp_path, "valid", "a " + bom.decode() + "b\n", "O O\n", None)
    assert read_split(d)["tokens"] == [["a", "\ufeffb"]]  # only the file's first bytes are a BOM


def test_folder_is_datasetdict_with_typed_features(tmp_path):
    for split in ("train", "valid", "test"):
        _good(tmp_path, split)
    dd = load_folder(tmp_path)
    assert set(dd) == {"train", "valid", "test"}
    feats = dd["train"].features
    assert feats["tokens"].feature.dtype == "string"
    assert feats["tags"].feature.dtype == "string"
    assert feats["intent"].dtype == "string"
    assert dd["train"][0]["tokens"][-1] == "taipei"


@pytest.mark.parametrize(
    "seq_in, seq_out, label, where, problem",
    [
        ("a b c\n", "O O\n", "x\n", "seq.out:1", "2 tags for 3 tokens"),
        ("a b\nc\n", "O O\n", "x\nx\n", "seq.out", "1 lines"),
        ("a b\nc\n", "O O\nO\n", "x\n", "label", "1 lines"),
        ("a b\n\n", "O O\n\n", "x\ny\n", "seq.in:2", "empty sentence"),
        ("a b\n   \n", "O O\n \n", "x\ny\n", "seq.in:2", "empty sentence"),
        ("a b\n", "O city\n", "x\n", "seq.out:1", "'city' is not in BIO form"),
        ("a b\n", "O E-city\n", "x\n", "seq.out:1", "not in BIO form"),
        ("a\nb \xff\n", "O\nO O\n", "x\nx\n", "seq.in:2", "not valid UTF-8"),
        ("a\n", "O\n", "\n", "label:1", "empty intent"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, seq_in, seq_out, label, where, problem):
    to_bytes = (lambda s: s.encode("latin-1")) if "\xff" in seq_in else (lambda s: s)
    d = write_split(tmp_path, "train", to_bytes(seq_in), seq_out, label)
    with pytest.raises(DataError) as err:
        read_split(d)
    msg = str(err.value)
    assert where in msg and str(d) in msg
    assert problem in msg


def test_missing_folder_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match="data.path"):
        load_folder(tmp_path / "nowhere")


def test_missing_split(tmp_path):
    _good(tmp_path, "train")
    with pytest.raises(DataError, match="valid"):
        load_folder(tmp_path)


def test_label_file_optional(tmp_path):
    d = write_split(tmp_path, "train", "a b\n", "O B-x\n", None)
    assert read_split(d)["intent"] == [""]


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzé'-.", min_size=1, max_size=8)
tags = st.sampled_from(["O", "B-a", "I-a", "B-b.c", "I-b.c"])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.tuples(words, tags), min_size=1, max_size=6), min_size=1, max_size=5))
def test_round_trip(tmp_path_factory, sentences):
    root = tmp_path_factory.mktemp("rt")
    seq_in = "".join(" ".join(w for w, _ in s) + "\n" for s in sentences)
    seq_out = "".join(" ".join(t for _, t in s) + "\n" for s in sentences)
    cols = read_split(write_split(root, "train", seq_in, seq_out, "x\n" * len(sentences)))
    assert cols["tokens"] == [[w for w, _ in s] for s in sentences]
    assert cols["tags"] == [[t for _, t in s] for s in sentences]


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "intent", "text", "slots"])
        w.writerows(rows)


def test_hub_format_from_local_csv(tmp_path):
    rows = [
        (
            i,
            "flight+airfare" if i % 5 == 0 else "flight",
            f"from city{i} to boston",
            "O B-fromloc.city_name O B-toloc.city_name",
        )
        for i in range(30)
    ]
    _write_csv(tmp_path / "train.csv", rows)
    _write_csv(tmp_path / "test.csv", rows[:4])
    dd = load_hub(data_files={"train": str(tmp_path / "train.csv"), "test": str(tmp_path / "test.csv")}, valid_size=6)
    assert len(dd["train"]) == 24 and len(dd["valid"]) == 6 and len(dd["test"]) == 4
    assert dd["test"][0]["intent"] == "flight#airfare"
    assert dd["test"][1]["tokens"] == ["from", "city1", "to", "boston"]


def test_hub_csv_bad_row_names_line(tmp_path):
    _write_csv(tmp_path / "train.csv", [(0, "flight", "a b", "O O"), (1, "flight", "a b c", "O O")])
    with pytest.raises(DataError, match=r"train.csv:3: 2 tags for 3 tokens"):
        load_hub(data_files={"train": str(tmp_path / "train.csv")}, valid_size=1)


def test_hub_unreachable_is_a_clear_error():
    with pytest.raises(DataError, match="hub"):
        load_hub(name="nobody/no-such-dataset-slotfill")


@pytest.mark.skipif(not (SHARED / "atis").is_dir(), reason="benchmark copy not present")
def test_reads_atis_benchmark():
    dd = load_folder(SHARED / "atis")
    assert {k: len(v) for k, v in dd.items()} == {"train": 4478, "valid": 500, "test": 893}


def test_data_root_is_resolved_in_one_place(monkeypatch, tmp_path):
    monkeypatch.setenv("SLOTFILL_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    assert resolve_path("snips", "folder", None) == tmp_path / "snips"
    assert resolve_path("snips", "folder", "/my/set") == Path("/my/set")
    assert resolve_path("atis_hub", "hub", None) is None
    monkeypatch.delenv("SLOTFILL_DATA_DIR")
    assert data_dir() == Path("../shared/data")


def test_load_split_from_a_data_config_or_a_folder(tmp_path):
    _good(tmp_path, "test")
    cols, name = load_split({"name": "mine", "source": "folder", "path": str(tmp_path)}, "test")
    assert name == "mine/test" and cols["tokens"][0][-1] == "taipei"
    cols, name = load_split({}, "test", split_dir=tmp_path / "test")
    assert name == str(tmp_path / "test") and len(cols["tokens"]) == 2
    with pytest.raises(DataError, match="data.path"):
        load_split({"name": "mine", "source": "folder", "path": str(tmp_path / "nowhere")}, "test")
