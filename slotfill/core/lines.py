"""Reading UTF-8 text files as numbered lines: a bad byte is reported with its file and line."""

from __future__ import annotations

from pathlib import Path

from slotfill.errors import DataError

BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # Windows Notepad's "Unicode", PowerShell 5's `>`
UTF16 = "a UTF-16 file: save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 FILE > NEW)"
SAVE_AS_UTF8 = "save the file as UTF-8"


def utf16(raw: bytes) -> bool:
    """Whether bytes start with a UTF-16 byte-order mark (read as UTF-8, its first byte is the error)."""
    return raw.startswith(UTF16_BOMS)


def decode_line(line: bytes, name: str | Path, n: int, advice: str = "") -> str:
    """Line ``n`` (from 1, without its newline) as text; a UTF-8 BOM starting line 1 is dropped, a UTF-16
    one refused for the whole file. ``advice``: said after a byte that is not UTF-8."""
    if n == 1 and line.startswith(BOM):
        # editors on Windows start UTF-8 files with a BOM; kept, it would join the first word
        line = line[len(BOM) :]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        if n == 1 and utf16(line):
            raise DataError(name, None, UTF16) from None
        where = f"byte {line[e.start]:#04x} at column {e.start + 1}"
        raise DataError(name, n, f"not valid UTF-8 ({where})" + (f": {advice}" if advice else "")) from None
    return text.rstrip("\r")


def decode_lines(raw: bytes, name: str | Path, first: int = 1, advice: str = "") -> list[str]:
    """Split bytes into UTF-8 lines (a final newline ends the last line, it starts no new one);
    ``first``: the line number of the first, for errors (a part of a file read from its middle)."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [decode_line(line, name, n, advice) for n, line in enumerate(lines, first)]


def read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file (a leading BOM dropped; lines ended by CR alone, as old Mac files, read as
    lines); a bad byte is reported with its line number."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, None, "is a folder, expected a file") from None
    except OSError as e:
        raise DataError(path, None, f"cannot read file: {e.strerror}") from None
    if b"\n" not in raw and b"\r" in raw.rstrip(b"\r"):  # old Mac line ends: read as one line, it was many
        raw = raw.replace(b"\r", b"\n")
    return decode_lines(raw, path, advice=SAVE_AS_UTF8)
