"""Sentences in (arguments, files, standard input) and text out (standard output or a file), checked.

Input is read lazily, a line at a time, and output is written as it comes, so ``slotfill predict``
streams: memory stays flat whatever the input size.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, TypeVar

from slotfill.core.files import umask
from slotfill.core.limits import MAX_LINE_BYTES, MAX_TEXT_CHARS
from slotfill.core.lines import SAVE_AS_UTF8, decode_line
from slotfill.core.sentence_files import CR_INSIDE, TOO_LONG, iter_parquet, jsonl_texts, kind_of
from slotfill.errors import DataError, SlotfillError

T = TypeVar("T")
NOTHING_TO_TAG = 'nothing to tag: give a sentence ("..." or text="..."), or input=FILE (input=- for stdin)'


def check_sources(texts: Iterable[str], text: str | None = None, source: str | None = None) -> None:
    """Refuse a command line that names nothing to tag (before any work)."""
    if not list(texts) and text is None and source is None:
        raise SlotfillError(NOTHING_TO_TAG)


PAUSE = None  # in :func:`iter_stdin`'s lines: nothing more has arrived yet (tag what is read so far)


def _checked(line: bytes, name: str, n: int, chars: bool = True) -> str:
    """A line decoded, within the byte limit and (``chars``: a sentence, not a JSON record whose
    escapes make it longer than its text) the character limit, and a sentence without a carriage
    return inside (as :func:`~slotfill.core.sentence_files.rows_of` reads it for ``engine=ray``)."""
    advice = "" if name == "<stdin>" else SAVE_AS_UTF8  # a file's bytes, which its user can save again
    text = decode_line(line, name, n, advice) if len(line) <= MAX_LINE_BYTES else None
    if text is None or chars and len(text) > MAX_TEXT_CHARS:
        raise DataError(name, n, TOO_LONG)
    if chars and "\r" in text:  # old Mac line ends: the file's lines would be tagged as one sentence
        raise DataError(name, n, CR_INSIDE)
    return text


def iter_lines(stream: BinaryIO, name: str, chars: bool = True) -> Iterator[str]:
    """Lines of a UTF-8 byte stream, decoded one at a time (a BOM at the start is dropped); a line
    over :data:`MAX_TEXT_CHARS` (``chars``) or :data:`MAX_LINE_BYTES` is an error as soon as that
    much of it is read, never held whole."""
    n = 0
    while raw := stream.readline(MAX_LINE_BYTES + 2):
        n += 1
        yield _checked(raw.rstrip(b"\n"), name, n, chars)


def iter_stdin(fd: int, name: str = "<stdin>") -> Iterator[str | None]:
    """Lines of a file descriptor as :func:`iter_lines` reads them, with :data:`PAUSE` whenever the
    lines read so far are all there is for now (a person typing, a slow producer): the caller can
    answer them at once instead of waiting for a whole chunk."""
    import select

    buffer, n = b"", 0
    while True:
        while (end := buffer.find(b"\n")) >= 0:
            n += 1
            yield _checked(buffer[:end], name, n)
            buffer = buffer[end + 1 :]
        if len(buffer) > MAX_LINE_BYTES:
            _checked(buffer, name, n + 1)  # raises: the line is over the limit
        if not select.select([fd], [], [], 0)[0]:
            yield PAUSE
        data = os.read(fd, 1 << 16)
        if not data:
            break
        buffer += data
    if buffer:
        yield _checked(buffer, name, n + 1)


def iter_sentences(texts: Iterable[str], text: str | None = None, source: str | None = None) -> Iterator[str | None]:
    """Sentences from the command line (bare or ``text=``), then ``input=FILE`` (read by its suffix as
    :mod:`slotfill.core.sentence_files` says; ``-``: standard input, one sentence a line, with a
    :data:`PAUSE` whenever nothing more has arrived yet)."""
    yield from texts
    if text is not None:
        yield str(text)
    if source is None:
        return
    if str(source) == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise SlotfillError("input=-: standard input is closed")
        try:
            yield from _stdin_lines()
        except (OSError, ValueError) as e:
            raise SlotfillError(f"input=-: cannot read standard input ({e})") from None
        return
    path = Path(source)
    kind = kind_of(path)
    if kind == "parquet":
        for batch in iter_parquet(path):
            yield from batch
        return
    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except OSError as e:
        raise DataError(path, None, f"cannot read file: {e.strerror}") from None
    with f:
        try:
            lines = iter_lines(f, str(path), chars=kind == "text")  # a jsonl record's text is checked
            yield from lines if kind == "text" else jsonl_texts(path, lines)
        except OSError as e:
            raise DataError(path, None, f"cannot read file: {e.strerror}") from None


def _stdin_lines() -> Iterator[str | None]:
    try:
        fd = sys.stdin.fileno()
    except (OSError, ValueError, AttributeError):  # replaced by an object without a descriptor (tests)
        yield from iter_lines(sys.stdin.buffer, "<stdin>")
        return
    yield from iter_stdin(fd)


def chunks(items: Iterable[str | None], size: int | None) -> Iterator[list[str]]:
    """Consecutive lists of ``size`` items (the last one shorter; ``None``: all in one); a
    :data:`PAUSE` in ``items`` ends a chunk early (with ``size`` set), so slow input is answered
    a line at a time. A pause right after a full chunk gives an empty one: nothing new, but
    what is read so far must be answered now (:func:`in_order` may still hold that full chunk)."""
    chunk: list[str] = []
    answered = True  # no full chunk given since the last pause
    for item in items:
        if item is PAUSE:
            if size is not None and (chunk or not answered):
                yield chunk
                chunk, answered = [], True
            continue
        chunk.append(item)
        if size is not None and len(chunk) >= size:
            yield chunk
            chunk, answered = [], False
    if chunk:
        yield chunk


def in_order(
    fn: Callable[[list[str]], T], parts: Iterable[list[str]], workers: int, size: int | None
) -> Iterator[tuple[list[str], T]]:
    """``(chunk, fn(chunk))`` for each chunk, in input order, with up to ``workers`` chunks in ``fn`` at
    once (threads: the network runs outside Python's lock, so one chunk's network overlaps another's
    reading, encoding and formatting). A chunk shorter than ``size`` (slow input paused, or the last;
    an empty one: paused after a full chunk) is answered, with every chunk before it, before more
    input is read. An error reading the input comes after the chunks read before it, as with one
    worker: the first bad line is the one reported, whatever ``workers`` is. One worker: no thread."""
    if workers <= 1:
        for chunk in parts:
            if chunk:
                yield chunk, fn(chunk)
        return
    pending: deque[tuple[list[str], Future]] = deque()
    unread: Exception | None = None  # what reading ahead raised, held until the chunks before it are answered
    with ThreadPoolExecutor(workers, thread_name_prefix="slotfill-tag") as pool:
        try:
            parts = iter(parts)
            while True:
                try:
                    chunk = next(parts)
                except StopIteration:
                    break
                except Exception as e:
                    unread = e
                    break
                if chunk:  # an empty chunk only says the input paused
                    pending.append((chunk, pool.submit(fn, chunk)))
                short = size is None or len(chunk) < size
                while pending and (short or len(pending) > workers):
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
            if unread is not None:
                raise unread
        finally:  # an error or an abandoned generator: chunks not yet started never start
            for _, future in pending:
                future.cancel()


class TextOutput:
    """Standard output, or a file written under a temporary name and renamed when complete.

    Opened before any work, so an unwritable path fails at once. Every :meth:`write` is
    flushed inside the ``try``: a full disk or a closed pipe is an error, never a short output.
    A file is only ever complete or absent: :meth:`close` renames it into place, :meth:`abort`
    removes it.
    """

    def __init__(self, output: str | None = None) -> None:
        self.output = str(output) if output and str(output) != "-" else None  # "-": standard output, as input=-
        self.name = self.output or "<stdout>"
        self._tmp: Path | None = None
        self._special = False
        if self.output is None:
            if sys.stdout is None or sys.stdout.closed:  # started with >&-: said before any work, not after it
                raise SlotfillError("standard output is closed: give output=FILE")
            self.stream = sys.stdout
            return
        path = Path(self.output)
        if path.is_dir():
            raise SlotfillError(f"output={self.output}: is a folder")
        if path.exists() and not path.is_file():  # a device or a pipe: written in place, never replaced
            try:
                self.stream = path.open("w", encoding="utf-8")
            except OSError as e:
                raise SlotfillError(f"output={self.output}: cannot write ({e.strerror})") from None
            self._special = True
            return
        if path.is_symlink():  # written through the link: the file it names is replaced, the link kept
            path = path.resolve()
        self._target = path
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as e:
            raise SlotfillError(f"output={self.output}: cannot write ({e.strerror})") from None
        self._tmp = Path(tmp)
        # mkstemp makes it private: an ordinary file's mode, or the one of the file it replaces (kept private)
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.is_file() else 0o666 & ~umask())
        self.stream = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError as e:
            if self.output is None:
                silence_stdout()
            self.abort()
            raise SlotfillError(f"{self.name}: write failed ({e.strerror or e}); the output is incomplete") from None

    def close(self) -> None:
        """Finish the output: flush standard output, or put the complete file in place."""
        if self._tmp is None:
            self.write("")
            if self._special:
                self._close_special()
            return
        try:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(self._tmp, self._target)
        except OSError as e:
            self.abort()
            raise SlotfillError(f"{self.name}: write failed ({e.strerror or e}); the output is incomplete") from None
        self._tmp = None

    def abort(self) -> None:
        """Drop what was written to a file (standard output keeps what it was given)."""
        if self._tmp is None:
            if self._special:
                self._close_special()
            return
        try:
            self.stream.close()
        except OSError:
            pass
        self._tmp.unlink(missing_ok=True)
        self._tmp = None

    def _close_special(self) -> None:
        self._special = False
        try:
            self.stream.close()
        except OSError:
            pass

    def __enter__(self) -> TextOutput:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def silence_stdout() -> None:
    """Point standard output at /dev/null: its unwritten buffer would fail again at exit, with a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def write_text(pieces: Iterable[str], output: str | None = None) -> None:
    """Write ``pieces`` to ``output`` (a file, whole or not at all) or standard output; failures are errors."""
    with TextOutput(output) as out:
        for piece in pieces:
            out.write(piece)
