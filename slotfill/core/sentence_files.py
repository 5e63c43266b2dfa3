"""What a file of sentences holds, by its suffix: one sentence a line, each line's ``text`` field
(``.jsonl``, ``.ndjson``) or a parquet file's ``text`` column; read the same by plain ``predict``
and by ``predict engine=ray``, with the same line numbers (a parquet file's rows count from 1) and
the same errors (torch-free; pyarrow is imported only for a parquet file).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from slotfill.core.file_systems import is_url, open_binary, stamp
from slotfill.core.limits import MAX_TEXT_CHARS, PREDICT_CHUNK, unicode_problem
from slotfill.core.lines import SAVE_AS_UTF8, decode_lines
from slotfill.errors import DataError, SlotfillError, first_line

if TYPE_CHECKING:
    import pyarrow as pa

READ_BYTES = 2**20  # a parquet file is read this much at a time
TOO_LONG = f"over {MAX_TEXT_CHARS:,} characters: one sentence a line (a missing line break?)"
TOO_LONG_ROW = f"over {MAX_TEXT_CHARS:,} characters: one sentence a row (is this column sentences?)"
CHANGED = "changed while it was being tagged (its size or time): tag a copy that does not change"
CR_INSIDE = "a carriage return inside the line (old Mac line ends?): save it with LF line ends"


def kind_of(path: str | Path) -> str:
    """``parquet`` and ``jsonl`` (a ``text`` field) by their suffix (a URL's path's), ``text`` otherwise."""
    name = str(path).lower()
    if is_url(name):
        name = urllib.parse.urlsplit(name).path
    if name.endswith(".parquet"):
        return "parquet"
    return "jsonl" if name.endswith((".jsonl", ".ndjson")) else "text"


def jsonl_texts(path: str | Path, lines: Iterable[str], first: int = 1) -> Iterator[str]:
    """The ``text`` field of each line of a jsonl file, line ``first`` first."""
    for n, line in enumerate(lines, first):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, n, f"not JSON ({e.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise DataError(path, n, 'expected an object with a "text" string')
        if len(record["text"]) > MAX_TEXT_CHARS:  # the text's length, not its line's: "\\u0915" is one character
            raise DataError(path, n, TOO_LONG)
        # an escape may leave half a character ("\\ud800"): said here, with its line, not by the tagger
        problem = unicode_problem(record["text"])
        if problem:
            raise DataError(path, n, problem)
        yield record["text"]


def rows_of(path: str, raw: bytes, first: int = 1) -> list[str]:
    """The sentences of a whole file's bytes, or of its part from line ``first`` on, in order (line
    ``n`` is item ``n - first``)."""
    kind = kind_of(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(io.BytesIO(raw))
        except Exception as e:  # pyarrow's errors name no file
            raise DataError(path, None, f"not a readable parquet file ({first_line(e)})") from None
        check_text_column(path, table.schema)
        return column_texts(path, table.column("text"), first)
    lines = decode_lines(raw, path, first, SAVE_AS_UTF8)
    if kind != "text":
        return list(jsonl_texts(path, lines, first))
    for n, line in enumerate(lines, first):
        if len(line) > MAX_TEXT_CHARS:
            raise DataError(path, n, TOO_LONG)
        if "\r" in line:  # old Mac line ends: its lines would be tagged as one sentence
            raise DataError(path, n, CR_INSIDE)
    return lines


def check_text_column(path: str | Path, schema: pa.Schema) -> None:
    """A parquet file's sentences are its one ``text`` column of strings (nulls read as empty lines)."""
    import pyarrow as pa

    found = schema.get_all_field_indices("text")
    if not found:
        columns = ", ".join(schema.names) or "no columns"
        raise DataError(path, None, f"no text column (it has {columns})")
    if len(found) > 1:
        raise DataError(path, None, f"{len(found)} columns named text: which holds the sentences?")
    kind = schema.field(found[0]).type
    value = kind.value_type if pa.types.is_dictionary(kind) else kind
    if not (pa.types.is_string(value) or pa.types.is_large_string(value) or pa.types.is_null(value)):
        raise DataError(path, None, f"its text column holds {kind}, not strings")


def column_texts(path: str | Path, values: pa.Array | pa.ChunkedArray, first: int) -> list[str]:
    """A parquet text column's values as sentences (a null: an empty line), row ``first + i``
    numbered as a line; a text over the length limit or not UTF-8 is an error, as a line of a text file is."""
    try:
        texts = [v if v is not None else "" for v in values.to_pylist()]
    except UnicodeDecodeError:  # a writer left bytes that are not UTF-8 (pyarrow checks them only here): which row
        for n, value in enumerate(values, first):
            try:
                value.as_py()
            except UnicodeDecodeError as e:
                raise DataError(
                    path, n, f"not valid UTF-8 (byte {e.object[e.start]:#04x} at column {e.start + 1})"
                ) from None
        raise
    for n, text in enumerate(texts, first):
        if len(text) > MAX_TEXT_CHARS:
            raise DataError(path, n, TOO_LONG_ROW)
    return texts


@contextlib.contextmanager
def parquet_errors(path: str | Path) -> Iterator[None]:
    """pyarrow's and the file system's errors as one line naming the file once."""
    try:
        yield
    except SlotfillError:
        raise
    except OSError as e:
        if not is_url(path) and os.path.isdir(path):
            raise DataError(path, None, "is a folder, expected a file") from None
        if e.errno:  # the file system's (pyarrow's messages repeat the path)
            raise DataError(path, None, f"cannot read file: {os.strerror(e.errno)}") from None
        raise DataError(path, None, f"not a readable parquet file ({first_line(e)})") from None  # pyarrow's IOError
    except Exception as e:  # pyarrow's ArrowInvalid and kin name no file
        raise DataError(path, None, f"not a readable parquet file ({first_line(e)})") from None


def row_ranges(path: str, rows: int = PREDICT_CHUNK) -> tuple[list[tuple], int, tuple]:
    """``(first line, first row, end row)`` of each run of ``rows`` rows of a parquet file (local, or a
    URL pyarrow reads; its rows numbered from 0, its lines from 1), its number of rows, and its size
    and time: read from the file's footer alone, its ``text`` column checked there, before any work."""
    import pyarrow.parquet as pq

    with parquet_errors(path):
        before = stamp(path)
        with open_binary(path) as f:
            meta = pq.read_metadata(f)
        schema = meta.schema.to_arrow_schema()
        if stamp(path) != before:
            raise DataError(path, None, CHANGED)
        check_text_column(path, schema)
    count = meta.num_rows
    return [(start + 1, start, min(start + rows, count)) for start in range(0, count, rows)], count, before


def _batches(path: str | Path, start: int) -> Iterator[tuple[int, object, int]]:
    """``(first row, text array, end row of its row group)`` of each batch of at most
    :data:`PREDICT_CHUNK` rows of a parquet file, from the row group holding row ``start`` on
    (the groups before it are never read)."""
    import pyarrow.parquet as pq

    with parquet_errors(path), contextlib.ExitStack() as opened:
        source = opened.enter_context(open_binary(path)) if is_url(path) else path
        # read a column chunk a megabyte at a time: by default pyarrow holds a row group's whole
        # chunk, and a file written as one row group would be held whole (bench/RESULTS.md)
        reader = pq.ParquetFile(source, buffer_size=READ_BYTES, pre_buffer=False)
        check_text_column(path, reader.schema_arrow)
        meta, row = reader.metadata, 0
        for group in range(meta.num_row_groups):
            size = meta.row_group(group).num_rows
            if row + size > start:
                end = row + size
                for batch in reader.iter_batches(PREDICT_CHUNK, row_groups=[group], columns=["text"]):
                    yield row, batch.column(0), end
                    row += batch.num_rows
            else:
                row += size


def iter_parquet(path: str | Path) -> Iterator[list[str]]:
    """Every row of a parquet file's text column, a batch of at most :data:`PREDICT_CHUNK` at a
    time: the file is never held whole."""
    for first, texts, _ in _batches(path, 0):
        yield column_texts(path, texts, first + 1)


class ParquetRows:
    """Row ranges of one parquet file's text column, as :func:`row_ranges` found them (``found``:
    the file's :func:`stamp` then: a file changed since is an error).

    Only the row groups holding a range are read, a batch of rows at a time, never the file. A range
    that starts further on in the row group being read continues its decoding where the last range
    stopped; any other range starts at its own group (a row group is decoded from its start). So an
    actor given every other shard of a file written as one large row group decodes it about once,
    not once a shard, and one of a file of many groups reads only its shards' groups.
    """

    def __init__(self, path: str, found: tuple[int, int] | None = None) -> None:
        self.path, self.found = path, found
        self._batches: Iterator[tuple[int, object, int]] | None = None
        self._batch = None  # the batch at hand (None: take the next)
        self._at, self._group_end = 0, 0  # the first row of the batch at hand (or of the next); its group's end

    def read(self, start: int, end: int) -> list[str]:
        """Rows ``start`` to ``end`` (from 0; their lines are ``start + 1`` on)."""
        with parquet_errors(self.path):
            if self.found is not None and stamp(self.path) != tuple(self.found):
                raise DataError(self.path, None, CHANGED)
        if start >= end:
            return []
        try:
            texts = self._read(start, end)
        except BaseException:
            self._batches = None  # the next range starts afresh
            raise
        if len(texts) != end - start:
            self._batches = None
            raise DataError(self.path, None, CHANGED)
        return texts

    def _read(self, start: int, end: int) -> list[str]:
        if self._batches is None or not self._at <= start < self._group_end:
            self._batches, self._batch = _batches(self.path, start), None
        texts: list[str] = []
        while True:
            if self._batch is None:
                nxt = next(self._batches, None)
                if nxt is None:
                    self._batches = None
                    return texts
                self._at, self._batch, self._group_end = nxt
            lo, hi = max(start - self._at, 0), min(end - self._at, len(self._batch))
            if hi > lo:
                texts += column_texts(self.path, self._batch.slice(lo, hi - lo), self._at + lo + 1)
            if self._at + len(self._batch) > end:  # rows past ``end``: kept for the next range
                return texts
            self._at, self._batch = self._at + len(self._batch), None
            if self._at == end:  # done: the next batch is not read until a range needs it
                return texts
