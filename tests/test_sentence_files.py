"""Files of sentences by their suffix: text lines, jsonl's text field, parquet's text column (row ranges,
reading them back, the checks of the footer), read the same by plain predict and engine=ray."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slotfill.core import sentence_files
from slotfill.core.limits import PREDICT_CHUNK
from slotfill.core.sentence_files import ParquetRows, iter_parquet, jsonl_texts, kind_of, row_ranges, rows_of
from slotfill.errors import DataError
from tests.helpers import examples


def test_kind_by_suffix():
    assert [kind_of(p) for p in ("a.txt", "a.JSONL", "b.ndjson", "c.parquet", "d", "e.json")] == [
        "text",
        "jsonl",
        "jsonl",
        "parquet",
        "text",
        "text",
    ]
    assert kind_of("s3://bucket/logs/c.parquet?region=eu-west-1") == "parquet"  # a URL's path, not its query


def test_jsonl_texts_are_read_lazily_with_their_line_numbers():
    lines = iter(['{"text": "one", "id": 3}', '{"text": "two"}', "{oops"])
    texts = jsonl_texts("a.jsonl", lines, 5)
    assert next(texts) == "one" and next(texts) == "two"
    with pytest.raises(DataError, match=r"a.jsonl:7: not JSON"):
        next(texts)
    for bad in ('{"words": "one"}', '["one"]', '{"text": 3}'):
        with pytest.raises(DataError, match=r'a.jsonl:1: expected an object with a "text" string'):
            list(jsonl_texts("a.jsonl", [bad]))


def test_rows_of_text_jsonl_and_parquet_bytes(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert rows_of("a.txt", b"\xef\xbb\xbfone\r\n\ntwo\n") == ["one", "", "two"]
    assert rows_of("a.jsonl", b'{"text": "one", "id": 3}\n{"text": "two"}\n') == ["one", "two"]
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": ["one", None], "n": [1, 2]}), path)
    assert rows_of(str(path), path.read_bytes()) == ["one", ""]
    with pytest.raises(DataError, match=r"a.jsonl:2: not JSON"):
        rows_of("a.jsonl", b'{"text": "one"}\n{oops\n')
    with pytest.raises(DataError, match=r':1: expected an object with a "text" string'):
        rows_of("a.jsonl", b'{"words": "one"}\n')
    with pytest.raises(DataError, match=r":2: not valid UTF-8 \(byte 0xff at column 1\): save the file as UTF-8$"):
        rows_of("a.txt", b"ok\n\xff\n")
    with pytest.raises(DataError, match="a UTF-16 file: save it as UTF-8"):  # Notepad's "Unicode"
        rows_of("a.txt", "to boston\n".encode("utf-16"))


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "bb c", "ü x"])), max_size=30),
    group=st.integers(1, 7),
    size=st.integers(1, 6),
    span=st.tuples(st.integers(0, 30), st.integers(0, 30)),
)
def test_the_driver_cuts_a_parquet_file_by_rows(tmp_path, texts, group, size, span):
    """Row ranges of ``size`` rows each, found in the footer, read back as the file's rows (a null as
    an empty line), whatever its row groups of ``group`` rows; so does any span of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": list(range(len(texts))), "text": pa.array(texts, pa.string())}), path, group)
    ranges, count, found = row_ranges(str(path), size)
    got = []
    for first, start, end in ranges:
        assert first == start + 1 == len(got) + 1 and end - start == min(size, len(texts) - start)
        got += ParquetRows(str(path), found).read(start, end)
    assert got == [t or "" for t in texts] and count == len(texts)
    lo, hi = sorted(min(s, len(texts)) for s in span)
    assert ParquetRows(str(path)).read(lo, hi) == got[lo:hi]


def test_a_parquet_file_is_checked_from_its_footer(tmp_path, monkeypatch):
    """Before Ray starts: not parquet, no text column, a text column of numbers; on the actor: a text over
    the length limit (with its line), a file changed since it was planned."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    path.write_bytes(b"text\nnot parquet at all\n")
    with pytest.raises(DataError, match=r"in.parquet: not a readable parquet file \("):
        row_ranges(str(path))
    pq.write_table(pa.table({"query": ["a"]}), path)
    with pytest.raises(DataError, match="in.parquet: no text column \\(it has query\\)"):
        row_ranges(str(path))
    pq.write_table(pa.table({"text": [1, 2]}), path)
    with pytest.raises(DataError, match="in.parquet: its text column holds int64, not strings"):
        row_ranges(str(path))
    pq.write_table(pa.table({"text": pa.array(["a", "b", "a"]).dictionary_encode()}), path)
    assert ParquetRows(str(path)).read(*row_ranges(str(path))[0][0][1:]) == ["a", "b", "a"]  # categorical text
    pq.write_table(pa.table({"text": pa.array([None, None], pa.null())}), path)
    assert ParquetRows(str(path)).read(0, 2) == ["", ""]
    monkeypatch.setattr("slotfill.core.sentence_files.MAX_TEXT_CHARS", 3)
    pq.write_table(pa.table({"text": ["abc", "ok", "abcd"]}), path, 2)
    with pytest.raises(DataError, match=r"in.parquet:3: over 100,000 characters: one sentence a row"):
        ParquetRows(str(path)).read(1, 3)
    ranges, _, found = row_ranges(str(path), 2)
    pq.write_table(pa.table({"text": ["abc"]}), path)
    os.utime(path, ns=(found[1] + 10**9, found[1] + 10**9))
    for check in (found, None):  # shorter: caught without the stamp too
        with pytest.raises(DataError, match="in.parquet: changed while it was being tagged"):
            ParquetRows(str(path), check).read(ranges[1][1], ranges[1][2])


def test_a_whole_parquet_file_streams_in_batches_of_a_chunk(tmp_path):
    """Plain predict's reading: every row once, in order, in batches of at most a chunk, over row groups
    of another size; a missing file or a folder is one line."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [f"to boston {i}" for i in range(2 * PREDICT_CHUNK + 5)]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": texts}), path, row_group_size=1500)
    batches = list(iter_parquet(path))
    assert [t for b in batches for t in b] == texts and max(map(len, batches)) <= PREDICT_CHUNK
    with pytest.raises(DataError, match="no.parquet: cannot read file: No such file or directory"):
        list(iter_parquet(tmp_path / "no.parquet"))
    with pytest.raises(DataError, match="is a folder, expected a file"):
        list(iter_parquet(tmp_path))


def test_ranges_asked_in_order_continue_the_decoding_of_a_large_row_group(tmp_path, monkeypatch):
    """One row group of three chunks' rows: ranges that move forward are read from where the last one
    stopped (the group decoded once); a range behind starts again at its group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [f"to boston {i}" for i in range(3 * PREDICT_CHUNK + 10)]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": texts}), path)
    starts, batches = [], sentence_files._batches
    monkeypatch.setattr(sentence_files, "_batches", lambda p, start: starts.append(start) or batches(p, start))
    reader = ParquetRows(str(path), row_ranges(str(path))[2])
    for lo, hi in ((0, 100), (100, 100), (2500, 2600), (2600, 2700), (5000, len(texts))):
        assert reader.read(lo, hi) == texts[lo:hi]
    assert starts == [0]
    assert reader.read(50, 60) == texts[50:60] and starts == [0, 50]


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    groups=st.lists(st.integers(0, 7), min_size=1, max_size=6),
    reads=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=8),
)
def test_one_reader_gives_every_range_its_rows_in_any_order(tmp_path, monkeypatch, groups, reads):
    """Runs of ranges through one :class:`ParquetRows` (forward, backward, empty, to the end) over row
    groups of 0-7 rows read in batches of 3: each range gets its own rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setattr(sentence_files, "PREDICT_CHUNK", 3)
    path = tmp_path / "in.parquet"
    texts = [f"row {i}" for i in range(sum(groups))]
    with pq.ParquetWriter(path, pa.schema([("text", pa.string())])) as writer:
        at = 0
        for size in groups:
            writer.write_table(pa.table({"text": texts[at : at + size]}, schema=writer.schema))
            at += size
    reader = ParquetRows(str(path), row_ranges(str(path))[2])
    for a, b in reads:
        lo, hi = sorted(min(x, len(texts)) for x in (a, b))
        assert reader.read(lo, hi) == texts[lo:hi]


def test_a_reader_reads_only_the_row_groups_of_its_ranges(tmp_path, monkeypatch):
    """Ten row groups of one batch each: a range five groups on skips the groups between; a range ending
    on a batch's end reads no batch after it (a broken group there is never touched)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setattr(sentence_files, "PREDICT_CHUNK", 3)
    texts = [f"row {i}" for i in range(30)]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": texts}), path, row_group_size=3)
    decoded, batches = [], sentence_files._batches

    def counted(p, start):
        for item in batches(p, start):
            decoded.append(item[0])
            yield item

    monkeypatch.setattr(sentence_files, "_batches", counted)
    reader = ParquetRows(str(path))
    assert reader.read(0, 3) == texts[:3] and decoded == [0]
    assert reader.read(15, 18) == texts[15:18] and decoded == [0, 15]
    assert reader.read(18, 21) == texts[18:21] and decoded == [0, 15, 18]


def test_a_reader_recovers_after_an_error_and_after_the_files_end(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setattr(sentence_files, "MAX_TEXT_CHARS", 3)
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "long", "c"]}), path)
    reader = ParquetRows(str(path))
    with pytest.raises(DataError, match=r"in.parquet:3: over 100,000 characters"):
        reader.read(0, 4)
    assert reader.read(0, 2) == ["a", "b"] and reader.read(3, 4) == ["c"]
    assert reader.read(4, 4) == [] and reader.read(0, 1) == ["a"]  # after the last row, from the start again


def test_parquet_errors_are_one_line_naming_the_file_once(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])], names=["text", "text"]), path)
    with pytest.raises(DataError, match="in.parquet: 2 columns named text"):
        row_ranges(str(path))
    pq.write_table(pa.table({}), path)
    with pytest.raises(DataError, match=r"in.parquet: no text column \(it has no columns\)"):
        row_ranges(str(path))
    with pytest.raises(DataError) as missing:
        row_ranges(str(tmp_path / "gone.parquet"))
    assert str(missing.value) == f"{tmp_path / 'gone.parquet'}: cannot read file: No such file or directory"


def test_a_file_of_old_mac_line_ends_is_named_not_tagged_as_one_sentence():
    with pytest.raises(DataError, match=r"mac.txt:1: a carriage return inside the line \(old Mac line ends\?\)"):
        rows_of("mac.txt", b"to boston\rto denver\r")
    assert rows_of("dos.txt", b"to boston\r\nto denver\r\n") == ["to boston", "to denver"]


def test_a_lone_surrogate_in_a_jsonl_text_is_named_by_its_file_and_line():
    """Found where the line is read, by plain predict and by engine=ray alike, not by the tagger (which
    named a place in its chunk: ``text 5``)."""
    raw = b'{"text": "to boston"}\n{"text": "bad \\ud800 x"}\n'
    said = r"^a.jsonl:2: holds a lone surrogate \(U\+D800 at character 5\): not valid Unicode text$"
    with pytest.raises(DataError, match=said):
        rows_of("a.jsonl", raw, 1)
    with pytest.raises(DataError, match=said.replace(":2:", ":2005:")):
        rows_of("a.jsonl", raw, 2004)  # a chunk read from the file's middle
    with pytest.raises(DataError, match=said):
        list(jsonl_texts("a.jsonl", raw.decode().splitlines()))
    pair = b'{"text": "\\ud83d\\ude00 \\u00e9"}\n'  # two escapes of one character: whole
    assert rows_of("a.jsonl", pair) == ["\U0001f600 \u00e9"]


def test_a_parquet_string_that_is_not_utf8_is_named_by_its_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    binary = pa.array([b"to boston", b"x \xed\xa0\x80 y", None], pa.binary())
    unchecked = pa.Array.from_buffers(pa.string(), len(binary), binary.buffers())  # as some writers leave them
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": unchecked}), path)
    said = r"in.parquet:2: not valid UTF-8 \(byte 0xed at column 3\)"
    with pytest.raises(DataError, match=said):
        list(iter_parquet(path))  # plain predict
    with pytest.raises(DataError, match=said):
        rows_of(str(path), path.read_bytes())
    with pytest.raises(DataError, match=said):
        ParquetRows(str(path)).read(0, 3)  # engine=ray's actors
    assert ParquetRows(str(path)).read(2, 3) == [""]
