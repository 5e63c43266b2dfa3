"""textio.py: sentences in from arguments, files and stdin; text out, with failed writes reported."""

import io
import sys

import pytest

from slotfill.errors import DataError, SlotfillError
from slotfill.textio import read_sentences, write_text


def test_sentences_from_every_source(tmp_path, monkeypatch):
    f = tmp_path / "in.txt"
    f.write_text("from a file\n\n")
    assert read_sentences(["bare"], "typed", str(f)) == ["bare", "typed", "from a file", ""]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"one\ntwo\n")))
    assert read_sentences([], None, "-") == ["one", "two"]
    with pytest.raises(SlotfillError, match="nothing to tag"):
        read_sentences([], None, None)
    with pytest.raises(DataError, match="file not found"):
        read_sentences([], None, str(tmp_path / "missing.txt"))


def test_closed_stdin_is_an_error(monkeypatch):
    closed = io.TextIOWrapper(io.BytesIO(b""))
    closed.close()
    monkeypatch.setattr(sys, "stdin", closed)
    with pytest.raises(SlotfillError, match="standard input is closed"):
        read_sentences([], None, "-")


def test_write_text_to_a_file_and_its_failures(tmp_path):
    out = tmp_path / "out.txt"
    write_text(["a\n", "b\n"], str(out))
    assert out.read_text() == "a\nb\n"
    with pytest.raises(SlotfillError, match="output=.*cannot write"):
        write_text(["a"], str(tmp_path / "missing" / "out.txt"))


def test_a_full_disk_is_an_error_not_a_short_file():
    with pytest.raises(SlotfillError, match="write failed"):
        write_text(["x" * 100_000] * 3, "/dev/full")
