"""core/lines.py: UTF-8 lines with numbers; a UTF-16 file or a bad byte named with what to do."""

import pytest

from slotfill.core.lines import decode_line, decode_lines, read_lines
from slotfill.errors import DataError


def test_a_utf8_bom_is_dropped_and_a_utf16_one_named():
    assert decode_lines(b"\xef\xbb\xbfhi\r\nyou\n", "a.txt") == ["hi", "you"]
    for encoding in ("utf-16-le", "utf-16-be"):
        with pytest.raises(DataError, match=r"^a.txt: a UTF-16 file: save it as UTF-8 \(e.g. iconv -f UTF-16"):
            decode_lines("\ufeffhi\n".encode(encoding), "a.txt")


def test_a_byte_that_is_not_utf8_says_where_and_in_a_data_file_what_to_do(tmp_path):
    with pytest.raises(DataError, match=r"^<stdin>:2: not valid UTF-8 \(byte 0xe9 at column 3\)$"):
        decode_line(b"ca\xe9", "<stdin>", 2)
    path = tmp_path / "latin1.conll"
    path.write_bytes("fly O\ncafé O\n".encode("latin-1"))
    with pytest.raises(
        DataError, match=r"latin1.conll:2: not valid UTF-8 \(byte 0xe9 at column 4\): save the file as UTF-8"
    ):
        read_lines(path)
