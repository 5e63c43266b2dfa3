"""What native code (C++ libraries: torch's exporter, Ray's core worker) writes straight to file
descriptor 2, filtered: Python's ``sys.stderr`` never sees those lines, so a logging filter cannot."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def filtered(drop: re.Pattern[bytes], quiet_on_error: bool = False) -> Iterator[None]:
    """Hold what is written to descriptor 2 in the block; pass it on after the block but the lines
    ``drop`` finds (``quiet_on_error``: nothing when the block raises, whose error says what failed)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            if quiet_on_error:
                held.truncate(0)
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held:
                if not drop.search(line):
                    os.write(2, line)  # the descriptor: sys.stderr may be a notebook's stream
