"""Files written atomically (a temporary name in the same folder, then a rename): a killed process
never leaves half a file under the final name."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from slotfill.errors import SlotfillError


def umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(folder: str | Path) -> Path:
    """``folder`` (created if need be), refused in one line unless a file can be written in it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise SlotfillError(f"{folder}: cannot write there ({e.strerror})") from None
    return folder


def file_state(path: str | Path) -> tuple[int, int, int] | None:
    """What changes when a file is rewritten or replaced (inode, size, modification time in ns);
    None for no file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def temporary_beside(path: str | Path) -> Path:
    """A new empty file ``.NAME.XXXXXXXX.tmp`` in ``path``'s folder, for a writer to fill and rename over
    ``path``: its own name, so two writers of one file never write into each other's."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise SlotfillError(f"{path}: cannot write ({e.strerror})") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes the file private; the final file is an ordinary one
    return Path(tmp)


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half a file)."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise SlotfillError(f"{path}: cannot write ({e.strerror})") from None
    try:
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes the file private; the final file is an ordinary one
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise SlotfillError(f"{path}: cannot write ({e.strerror})") from None
    except BaseException:  # Ctrl-C mid-write: no temporary file left beside the real one
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, obj: dict) -> Path:
    return write_atomic(path, json.dumps(obj, indent=2) + "\n")
