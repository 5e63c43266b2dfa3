"""What a ``predict engine=ray`` run has finished, kept in its output folder so that ``ray.resume=true``
can finish an interrupted run instead of starting over.

Two files beside the shards: ``_slotfill_run.json`` (:func:`manifest`: the model file, every input
file's size and time, the settings that decide a record) written before any work, and
``_done.jsonl``, a line per finished shard (its name and the chunks it holds) appended by the
driver as the actors report them. A shard that exists but is not on the list (finished while the
driver was stopping) is deleted on resume and its chunks tagged again, so no record is written
twice. Names starting with ``_`` are skipped by Arrow's and Spark's dataset readers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from slotfill.core.limits import PREDICT_CHUNK
from slotfill.errors import ConfigError, DataError

MANIFEST = "_slotfill_run.json"
DONE = "_done.jsonl"


def _stamp(path: str) -> list:
    info = os.stat(path)
    return [info.st_size, info.st_mtime_ns]


def manifest(ckpt: str, files: list[str], stamps: list, settings: dict) -> dict:
    """What decides a run's records: the model file (path, size, time), each input file (its stamp
    where the driver read it; a URL's cannot be checked), the chunk size and ``settings``."""
    model = str(Path(ckpt).resolve())
    record = {
        "model": [model, *_stamp(model)],
        "files": [[path, *(list(found) if found else [None, None])] for path, found in zip(files, stamps)],
        "chunk": PREDICT_CHUNK,
        **settings,
    }
    return json.loads(json.dumps(record))  # as it reads back from the file (tuples as lists)


def start(folder: Path, expected: dict, resume: bool, fmt: str) -> tuple[set[tuple[int, int]], int]:
    """Ready ``folder`` for a run: the chunks ``(file number, first line)`` already done and their
    number of records (none for a new run). On resume, the folder's manifest must be ``expected``,
    and shards not on the done-list are deleted."""
    path = folder / MANIFEST
    if not resume or not path.exists():
        path.write_text(json.dumps(expected, indent=1), encoding="utf-8")
        (folder / DONE).write_text("", encoding="utf-8")
        return set(), 0
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(path, None, f"not a readable run manifest ({e})") from None
    differ = [key for key in sorted(set(found) | set(expected)) if found.get(key) != expected.get(key)]
    if differ:
        raise ConfigError(
            f"ray.resume=true: the shards in {folder} were tagged with another {', '.join(differ)} "
            "(a changed model or input file, or other settings): name a new output folder"
        )
    done, rows, shards, kept = set(), 0, set(), []
    lines = (folder / DONE).read_text(encoding="utf-8").splitlines() if (folder / DONE).exists() else []
    for n, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except ValueError:
            if n == len(lines):  # cut off by a stop mid-write: that shard is tagged again
                break
            raise DataError(folder / DONE, n, "not JSON: the done-list is damaged, name a new output folder") from None
        if not (folder / entry["shard"]).is_file():  # deleted since: its chunks are tagged again
            continue
        shards.add(entry["shard"])
        done.update((int(f), int(first)) for f, first in entry["chunks"])
        rows += int(entry["rows"])
        kept.append(line)
    (folder / DONE).write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    for shard in folder.glob(f"part-*.{fmt}*"):
        if shard.name not in shards:  # finished after the last record of the done-list, or partial
            shard.unlink()
    return done, rows


def record(folder: Path, shard: str, chunks: list, rows: int) -> None:
    """Add a finished shard to the done-list (one line, written and flushed at once)."""
    with (folder / DONE).open("a", encoding="utf-8") as f:
        f.write(json.dumps({"shard": shard, "chunks": chunks, "rows": rows}) + "\n")
