"""What a ``predict engine=ray`` run has finished, kept in its output folder so that ``ray.resume=true``
can finish an interrupted run instead of starting over.

Four files beside the shards: ``_slotfill_run.json`` (:func:`manifest`: the model file, every input
file's size and time, the settings that decide a record) written before any work;
``_slotfill_shared`` (:func:`mark`), a token each actor must read there too, written before any work;
``_done.jsonl``, a line per finished shard (its name and the chunks it holds) appended by the
driver as the actors report them; and ``_SUCCESS`` once every chunk is in a shard. The driver alone
reads the done-list and counts the shards, so the folder must be one every node shares: an actor
that does not see the driver's token refuses to write (:func:`check_mark`). A shard that
exists but is not on the list (finished while the driver was stopping) is deleted on resume and
its chunks tagged again, so no record is written twice. An input file that changed since is
tagged again in full if none of its chunks were done; one with chunks done ends the resume.
Names starting with ``_`` are skipped by Arrow's and Spark's dataset readers.
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from pathlib import Path

from slotfill.core.file_systems import RUN_MARK, stamp
from slotfill.core.limits import PREDICT_CHUNK
from slotfill.errors import ConfigError, DataError

MANIFEST = RUN_MARK  # "_slotfill_run.json": a folder input leaves a folder holding one out
DONE = "_done.jsonl"
SHARED = "_slotfill_shared"  # this run's token, written by the driver: an actor that cannot read it writes elsewhere
COMPLETE = "_SUCCESS"  # written last, as Spark and Hadoop jobs do: the folder holds every record
NEW = "name a new output folder"


def is_shard(name: str, fmt: str) -> bool:
    """A shard's name (:func:`slotfill.integrations.ray_engine.shard_name`), whole or ``.partial``."""
    return re.fullmatch(rf"part-\d{{5}}-\d{{10}}\.{fmt}(\.partial)?", name) is not None


def holds_a_run(folder: Path) -> bool:
    """Whether ``folder`` holds more than an empty run's two files (a run that failed before its
    first shard leaves its folder free for a plain rerun)."""
    for entry in folder.iterdir():
        if entry.name == DONE and entry.is_file() and entry.stat().st_size == 0:
            continue
        if entry.name not in (MANIFEST, SHARED):
            return True
    return False


def manifest(model_file: str, files: list[str], stamps: list, settings: dict) -> dict:
    """What decides a run's records: the model file the tagger loaded (path, size, time), each input
    file (its stamp when the driver read it, a local file's now if it did not; an ``http://`` URL's,
    read by a Ray task, cannot be checked), the chunk size and ``settings``."""
    model = str(Path(model_file).resolve())
    stamps = [found or (stamp(path) if "://" not in path else None) for path, found in zip(files, stamps)]
    record = {
        "model": [model, *stamp(model)],
        "files": [[path, *(list(found) if found else [None, None])] for path, found in zip(files, stamps)],
        "chunk": PREDICT_CHUNK,
        **settings,
    }
    return json.loads(json.dumps(record))  # as it reads back from the file (tuples as lists)


def finish(folder: Path) -> None:
    """Mark the run in ``folder`` finished: every chunk is in a shard on the done-list."""
    (folder / COMPLETE).touch()


def is_finished(folder: Path) -> bool:
    return (folder / COMPLETE).is_file()


def start(folder: Path, expected: dict, resume: bool, fmt: str) -> tuple[set[tuple[int, int]], int]:
    """Ready ``folder`` for a run: the chunks ``(file number, first line)`` already done and their
    number of records (none for a new run). On resume, the folder's manifest must be ``expected``,
    and shards not on the done-list are deleted."""
    path = folder / MANIFEST
    if not holds_a_run(folder):  # new, empty, or a run that ended before its first shard
        path.write_text(json.dumps(expected, indent=1), encoding="utf-8")
        _replace(folder / DONE, "")
        return set(), 0
    if not resume:
        raise ConfigError(f"output={folder}: the folder holds another run's shards: {NEW}, or add ray.resume=true")
    if not path.is_file() or not (folder / DONE).is_file():
        raise ConfigError(f"ray.resume=true: {folder} holds no slotfill run to finish (no {MANIFEST} or {DONE}): {NEW}")
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(path, None, f"not a readable run manifest ({e}): {NEW}") from None
    if not isinstance(found, dict):
        raise DataError(path, None, f"not a run manifest: {NEW}")
    differ = [key for key in sorted(set(found) | set(expected)) if found.get(key) != expected.get(key)]
    same_files = [f[0] for f in found.get("files") or [] if isinstance(f, list) and f] == [
        f[0] for f in expected["files"]
    ]
    if same_files and differ == ["files"]:  # the same inputs, some changed: decided once the done-list is read
        differ = []
    if differ:
        raise ConfigError(
            f"ray.resume=true: the shards in {folder} were tagged with another {', '.join(differ)} "
            f"(a changed model or input file, or other settings): {NEW}"
        )
    done, rows, shards, kept = set(), 0, set(), []
    lines = (folder / DONE).read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except ValueError:
            if n == len(lines):  # cut off by a stop mid-write: that shard is tagged again
                break
            raise DataError(folder / DONE, n, f"not JSON: the done-list is damaged: {NEW}") from None
        try:
            shard, chunks = str(entry["shard"]), [(int(f), int(first)) for f, first in entry["chunks"]]
            count = int(entry["rows"])
        except (KeyError, TypeError, ValueError):
            raise DataError(folder / DONE, n, f"not a done-list entry: {NEW}") from None
        if not (folder / shard).is_file():  # deleted since: its chunks are tagged again
            continue
        shards.add(shard)
        done.update(chunks)
        rows += count
        kept.append(line)
    changed = {i for i, (was, now) in enumerate(zip(found["files"], expected["files"])) if was != now}
    touched = sorted({f for f, _ in done} & changed)
    if touched:  # a changed file none of whose chunks were done is simply tagged (again) in full
        raise ConfigError(
            f"ray.resume=true: {expected['files'][touched[0]][0]} changed since its first chunks were tagged "
            f"into {folder}: {NEW}"
        )
    (folder / COMPLETE).unlink(missing_ok=True)  # finished again at the end, when it is
    if changed:
        path.write_text(json.dumps(expected, indent=1), encoding="utf-8")
    _replace(folder / DONE, "".join(line + "\n" for line in kept))
    for entry in folder.iterdir():
        if is_shard(entry.name, fmt) and entry.name not in shards:  # finished but never recorded, or partial
            entry.unlink()
    return done, rows


def _replace(path: Path, text: str) -> None:
    """Write ``path`` whole: a stop mid-write leaves the old file, never half of the new one."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


class Unshared(ConfigError):
    """An output folder an actor does not see as the driver wrote it."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def __reduce__(self):  # rebuilt from its own words: Ray's retry note, added to its args in the actor, stays there
        return type(self), (self.message,), self.__dict__


def mark(folder: Path) -> str:
    """Write a new token into ``folder`` (the driver, before any work) and return it for the actors to check."""
    token = uuid.uuid4().hex
    _replace(folder / SHARED, token)
    return token


def check_mark(folder: Path, token: str) -> None:
    """Refuse to write into ``folder`` (an actor, before any work) unless it holds the driver's ``token``:
    a folder on a disk of its own would take shards the driver never counts, and a resume would tag
    their chunks again."""
    try:
        found = (folder / SHARED).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        found = None
    if found != token:
        raise Unshared(
            f"output={folder}: node {socket.gethostname()} does not see the folder the driver writes "
            f"(no {SHARED} of this run): output= must be on a file system every node shares"
        )


def record(folder: Path, shard: str, chunks: list, rows: int) -> None:
    """Add a finished shard to the done-list (one line, written and flushed at once)."""
    with (folder / DONE).open("a", encoding="utf-8") as f:
        f.write(json.dumps({"shard": shard, "chunks": chunks, "rows": rows}) + "\n")
        f.flush()
        os.fsync(f.fileno())  # on disk before the next shard: a power cut loses at most what is redone
