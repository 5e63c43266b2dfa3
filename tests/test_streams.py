"""streams.py: sentences in from arguments, files and stdin; text out, with failed writes reported."""

import io
import os
import sys

import pytest

from slotfill.cli.streams import TextOutput, check_sources, chunks, in_order, iter_sentences, write_text
from slotfill.errors import DataError, SlotfillError


def test_sentences_from_every_source(tmp_path, monkeypatch):
    f = tmp_path / "in.txt"
    f.write_text("from a file\n\n")
    assert list(iter_sentences(["bare"], "typed", str(f))) == ["bare", "typed", "from a file", ""]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"one\ntwo\n")))
    assert list(iter_sentences([], None, "-")) == ["one", "two"]
    with pytest.raises(SlotfillError, match="nothing to tag"):
        check_sources([], None, None)
    with pytest.raises(DataError, match="file not found"):
        list(iter_sentences([], None, str(tmp_path / "missing.txt")))


def test_closed_stdin_is_an_error(monkeypatch):
    closed = io.TextIOWrapper(io.BytesIO(b""))
    closed.close()
    monkeypatch.setattr(sys, "stdin", closed)
    with pytest.raises(SlotfillError, match="standard input is closed"):
        list(iter_sentences([], None, "-"))


def test_closed_stdout_is_an_error_before_any_work(monkeypatch):
    monkeypatch.setattr(sys, "stdout", None)  # started with >&-
    with pytest.raises(SlotfillError, match="standard output is closed: give output=FILE"):
        TextOutput(None)


def test_a_jsonl_sentence_is_limited_by_its_text_not_by_its_escaped_line(tmp_path):
    import json

    from slotfill.core.limits import MAX_TEXT_CHARS
    from slotfill.core.sentence_files import rows_of

    text = "\u0915" * (MAX_TEXT_CHARS // 5)  # six characters a letter once escaped: a line over the limit
    line = json.dumps({"text": text})
    assert len(line) > MAX_TEXT_CHARS
    (tmp_path / "in.jsonl").write_text(line + "\n")
    assert list(iter_sentences([], None, str(tmp_path / "in.jsonl"))) == [text]
    assert rows_of(str(tmp_path / "in.jsonl"), (line + "\n").encode()) == [text]  # engine=ray's reader
    over = json.dumps({"text": "a" * (MAX_TEXT_CHARS + 1)}) + "\n"
    (tmp_path / "over.jsonl").write_text(over)
    with pytest.raises(DataError, match="over.jsonl:1: over 100,000 characters"):
        list(iter_sentences([], None, str(tmp_path / "over.jsonl")))
    with pytest.raises(DataError, match="over.jsonl:1: over 100,000 characters"):
        rows_of(str(tmp_path / "over.jsonl"), over.encode())


def test_write_text_to_a_file_and_its_failures(tmp_path):
    out = tmp_path / "out.txt"
    write_text(["a\n", "b\n"], str(out))
    assert out.read_text() == "a\nb\n"
    with pytest.raises(SlotfillError, match="output=.*cannot write"):
        write_text(["a"], str(tmp_path / "missing" / "out.txt"))


def test_a_full_disk_is_an_error_not_a_short_file():
    with pytest.raises(SlotfillError, match="write failed"):
        write_text(["x" * 100_000] * 3, "/dev/full")


def test_input_is_read_lazily_and_a_bom_is_dropped(tmp_path):
    f = tmp_path / "in.txt"
    f.write_bytes(b"\xef\xbb\xbfi want to leave boston\r\nsecond\n")
    sentences = iter_sentences(["bare"], None, str(f))
    assert next(sentences) == "bare"  # the file is not opened before its first line is needed
    assert list(sentences) == ["i want to leave boston", "second"]
    assert [len(c) for c in chunks(map(str, range(5)), 2)] == [2, 2, 1]


def test_a_file_output_is_complete_or_absent(tmp_path):
    out = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with TextOutput(str(out)) as stream:
            stream.write("half")
            raise RuntimeError("tagging failed")
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary file
    with TextOutput(str(out)) as stream:
        stream.write("whole\n")
        assert not out.exists()  # renamed into place only when complete
    assert out.read_text() == "whole\n" and oct(out.stat().st_mode & 0o777) != "0o600"


def test_unwritable_output_fails_before_any_work(tmp_path):
    with pytest.raises(SlotfillError, match="is a folder"):
        TextOutput(str(tmp_path))
    with pytest.raises(SlotfillError, match="cannot write"):
        TextOutput(str(tmp_path / "missing" / "out.txt"))


def test_a_line_over_the_limit_is_refused_without_holding_it(tmp_path, monkeypatch):
    import slotfill.cli.streams as streams

    monkeypatch.setattr(streams, "MAX_TEXT_CHARS", 10)
    path = tmp_path / "in.txt"
    path.write_text("short\n" + "x" * 1000 + "\nafter\n")
    lines = iter_sentences([], None, str(path))
    assert next(lines) == "short"
    with pytest.raises(DataError, match=r"in.txt:2: over 100,000 characters: one sentence a line"):
        next(lines)
    path.write_text("é" * 10 + "\n")  # 20 bytes, 10 characters: within the limit
    assert list(iter_sentences([], None, str(path))) == ["é" * 10]


def test_stdin_lines_pause_when_nothing_more_has_arrived():
    from slotfill.cli.streams import PAUSE, iter_stdin

    read, write = os.pipe()
    lines = iter_stdin(read)
    os.write(write, b"to boston\nfrom den")
    assert next(lines) == "to boston"
    assert next(lines) is PAUSE  # half a line waits, the whole one can be answered now
    os.write(write, b"ver\n")
    assert next(lines) == "from denver"
    os.write(write, b"last")
    os.close(write)
    assert [x for x in lines if x is not PAUSE] == ["last"]
    os.close(read)


def test_a_pause_ends_a_chunk_early_but_never_an_unchunked_stream():
    from slotfill.cli.streams import PAUSE, chunks

    # a pause right after a full chunk: an empty chunk, once, so the full one is answered now
    assert list(chunks(["a", PAUSE, "b", "c", PAUSE, PAUSE, "d"], 2)) == [["a"], ["b", "c"], [], ["d"]]
    assert list(chunks(["a", PAUSE, "b"], None)) == [["a", "b"]]


def test_an_over_long_stdin_line_is_refused_before_it_is_whole():
    import threading

    from slotfill.cli.streams import iter_stdin

    read, write = os.pipe()

    def writer():  # more than the limit, no line break, then the pipe stays open
        try:
            os.write(write, b"x" * 500_000)
        except OSError:
            pass  # the reader gave up first

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    with pytest.raises(DataError, match=r"<stdin>:1: over 100,000 characters"):
        list(iter_stdin(read))
    os.close(read)
    thread.join(timeout=10)
    os.close(write)


def test_in_order_keeps_input_order_whatever_finishes_first():
    import random
    import threading
    import time

    rng = random.Random(0)
    seen = set()

    def slow(chunk):
        time.sleep(rng.random() / 100)
        seen.add(threading.current_thread().name)
        return [x * 2 for x in chunk]

    parts = [[i, i + 1] for i in range(0, 40, 2)]
    assert list(in_order(slow, iter(parts), 3, 2)) == [(c, [x * 2 for x in c]) for c in parts]
    assert all(name.startswith("slotfill-tag") for name in seen)
    seen.clear()
    assert list(in_order(slow, iter(parts), 1, 2))[-1] == ([38, 39], [76, 78])
    assert seen == {threading.current_thread().name}  # one worker: no thread at all


def test_in_order_answers_a_short_chunk_before_reading_on():
    """Slow input (a PAUSE cuts a chunk short): what was read is answered before waiting for more."""
    answered = []

    def source():
        yield ["a", "b"]
        yield ["c"]  # short: the input paused here
        assert answered == [["a", "b"], ["c"]], "read on before answering what was read"
        yield ["d", "e"]

    for chunk, _ in in_order(lambda c: c, source(), 2, 2):
        answered.append(chunk)
    assert answered == [["a", "b"], ["c"], ["d", "e"]]

    def paused_after_a_full_chunk():
        yield ["a", "b"]
        yield []  # chunks() after a full chunk, when the input pauses
        assert answered == [["a", "b"]], "a full chunk was held while the input paused"
        yield ["c", "d"]

    answered.clear()
    for workers in (1, 2):
        answered.clear()
        for chunk, _ in in_order(lambda c: c, paused_after_a_full_chunk(), workers, 2):
            answered.append(chunk)
        assert answered == [["a", "b"], ["c", "d"]]


def test_in_order_raises_a_workers_error_and_starts_nothing_after_it():
    started = []

    def fn(chunk):
        started.append(chunk[0])
        if chunk[0] == 2:
            raise DataError("in.txt", 2, "bad line")
        return chunk

    parts = ([i] * 2 for i in range(100))
    with pytest.raises(DataError, match="bad line"):
        list(in_order(fn, parts, 2, 2))
    assert len(started) < 10  # at most a few chunks beyond the failing one were ever started


def test_an_output_through_a_link_replaces_the_file_it_names_and_keeps_an_existing_files_mode(tmp_path):
    (tmp_path / "real.txt").write_text("old\n")
    (tmp_path / "link.txt").symlink_to("real.txt")
    write_text(["new\n"], str(tmp_path / "link.txt"))
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_text() == "new\n"
    private = tmp_path / "private.txt"
    private.write_text("old\n")
    private.chmod(0o600)
    write_text(["new\n"], str(private))
    assert private.stat().st_mode & 0o777 == 0o600 and private.read_text() == "new\n"


def test_a_carriage_return_inside_a_line_is_refused_in_a_file_and_on_stdin_as_engine_ray_refuses_it(tmp_path):
    from slotfill.cli.streams import iter_stdin
    from slotfill.core.sentence_files import rows_of

    mac = b"to boston\rfrom denver\rnext\r"  # old Mac line ends: read as one line, it was three
    path = tmp_path / "mac.txt"
    path.write_bytes(mac)
    said = r"mac.txt:1: a carriage return inside the line \(old Mac line ends\?\)"
    with pytest.raises(DataError, match=said):
        list(iter_sentences([], None, str(path)))
    with pytest.raises(DataError, match=said):
        rows_of(str(path), mac)  # engine=ray's reader: the same error
    read, write = os.pipe()
    os.write(write, b"to boston\n" + mac)
    os.close(write)
    with pytest.raises(DataError, match=r"<stdin>:2: a carriage return inside the line"):
        list(iter_stdin(read))
    os.close(read)
    path.write_bytes(b"to boston\r\nfrom denver\r\n")  # Windows line ends are line ends
    assert list(iter_sentences([], None, str(path))) == ["to boston", "from denver"]
    path.with_suffix(".jsonl").write_bytes(b'{"text": "a\\rb"}\r\n')  # an escaped one is the record's text
    assert list(iter_sentences([], None, str(path.with_suffix(".jsonl")))) == ["a\rb"]


def test_a_read_error_comes_after_the_errors_of_the_chunks_read_before_it():
    """The first bad line is reported, whatever ``workers`` is: a chunk read before a bad line may hold
    an earlier one, found only once the chunk is tagged."""

    def fn(chunk):
        if chunk[0] == "earlier":
            raise DataError("in.txt", 3, "found by the tagger")
        return chunk

    def parts(first):
        yield [first, "b"]
        raise DataError("in.txt", 2500, "found by the reader")

    for workers in (1, 2):
        with pytest.raises(DataError, match="in.txt:3: found by the tagger"):
            for _ in in_order(fn, parts("earlier"), workers, 2):
                pass
        answered = []
        with pytest.raises(DataError, match="in.txt:2500: found by the reader"):
            for chunk, _ in in_order(fn, parts("fine"), workers, 2):
                answered.append(chunk)
        assert answered == [["fine", "b"]]  # what was read before the bad line is answered first, as with one worker


def test_a_file_that_is_not_utf8_says_to_save_it_so_and_stdin_says_where(tmp_path, monkeypatch):
    path = tmp_path / "in.txt"
    path.write_bytes(b"to boston\nto caf\xe9\n")
    with pytest.raises(DataError, match=r"in.txt:2: not valid UTF-8 \(byte 0xe9 at column 7\): save the file as UTF-8"):
        list(iter_sentences([], None, str(path)))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"to caf\xe9\n")))
    with pytest.raises(DataError, match=r"<stdin>:1: not valid UTF-8 \(byte 0xe9 at column 7\)$"):
        list(iter_sentences([], None, "-"))
