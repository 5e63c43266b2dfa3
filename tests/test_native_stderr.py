"""core/native_stderr.py: what native code writes to descriptor 2, passed on but for the lines dropped."""

import os
import re

import pytest

from slotfill.core.native_stderr import filtered

NOISE = re.compile(rb"noise")


def test_the_dropped_lines_go_and_the_rest_comes_after_the_block_in_order(capfd):
    with filtered(NOISE):
        os.write(2, b"first\nsome noise here\n")
        os.write(2, b"last, no newline")
        assert capfd.readouterr().err == ""  # held until the block ends
    assert capfd.readouterr().err == "first\nlast, no newline"


@pytest.mark.parametrize("quiet", [False, True])
def test_when_the_block_raises(capfd, quiet):
    with pytest.raises(ConnectionError), filtered(NOISE, quiet_on_error=quiet):
        os.write(2, b"GCS: cannot connect\n")
        raise ConnectionError("cannot connect")
    assert capfd.readouterr().err == ("" if quiet else "GCS: cannot connect\n")  # quiet: the error says it


def test_a_replaced_sys_stderr_does_not_matter(capfd, monkeypatch):
    import io

    monkeypatch.setattr("sys.stderr", io.StringIO())  # a notebook's stream has no .buffer either
    with filtered(NOISE):
        os.write(2, b"said\n")
    assert capfd.readouterr().err == "said\n"
