"""convert.py: a file, a split folder or a folder of splits, into any format, and back."""

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
