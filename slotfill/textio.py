"""Text in and out, checked: UTF-8 lines with their line numbers, sentences to tag, output that is whole."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from .errors import DataError, SlotfillError


def read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file; a bad byte is reported with its line number."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, None, "is a folder, expected a file") from None
    except OSError as e:
        raise DataError(path, None, f"cannot read file: {e.strerror}") from None
    return decode_lines(raw, path)


def decode_lines(raw: bytes, name: str | Path) -> list[str]:
    """Split bytes into UTF-8 lines (a final newline ends the last line, it starts no new one)."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for n, line in enumerate(lines, 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(name, n, f"not valid UTF-8 (byte {line[e.start]:#04x} at column {e.start + 1})") from None
        out.append(text.rstrip("\r"))
    return out


def read_sentences(texts: Iterable[str], text: str | None = None, source: str | None = None) -> list[str]:
    """Sentences from the command line (bare or ``text=``) and ``input=FILE`` (``-``: standard input)."""
    sentences = list(texts)
    if text is not None:
        sentences.append(str(text))
    if source is not None:
        if str(source) == "-":
            if sys.stdin is None or sys.stdin.closed:
                raise SlotfillError("input=-: standard input is closed")
            try:
                raw = sys.stdin.buffer.read()
            except (OSError, ValueError) as e:
                raise SlotfillError(f"input=-: cannot read standard input ({e})") from None
            sentences += decode_lines(raw, "<stdin>")
        else:
            sentences += read_lines(Path(source))
    if not sentences:
        raise SlotfillError('nothing to tag: give a sentence ("..." or text="..."), or input=FILE (input=- for stdin)')
    return sentences


def write_text(chunks: Iterable[str], output: str | None = None) -> None:
    """Write ``chunks`` to ``output`` (a file) or standard output; a short or failed write is an error.

    Written piece by piece with a flush inside the ``try``: one big ``write`` on a full disk can
    write part of the text and raise nothing.
    """
    name = output or "<stdout>"
    try:
        stream = open(output, "w", encoding="utf-8") if output else sys.stdout  # noqa: SIM115
    except OSError as e:
        raise SlotfillError(f"output={output}: cannot write ({e.strerror})") from None
    try:
        for chunk in chunks:
            stream.write(chunk)
        stream.flush()
    except OSError as e:
        raise SlotfillError(f"{name}: write failed ({e.strerror or e}); the output is incomplete") from None
    finally:
        if output:
            try:
                stream.close()
            except OSError:
                pass
