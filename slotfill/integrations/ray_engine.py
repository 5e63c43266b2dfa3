"""``slotfill predict engine=ray``: tag many files on Ray Data, one model per long-lived actor.

Ray tasks read the input files and cut them into chunks of consecutive lines where plain
``predict`` cuts them, so each chunk is tagged in the same batches and gets the same numbers;
actors (``concurrency`` of them, each loading the model once) tag whole chunks and write each
``shard_rows`` of them as one shard, named after its first record. Every record carries its
``source`` file and ``line`` (from 1): sorting on both (:func:`read_back`) gives the input order.
"""

from __future__ import annotations

import glob
import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from slotfill.core import collector
from slotfill.core.limits import MAX_TEXT_CHARS, PREDICT_CHUNK
from slotfill.core.lines import decode_lines
from slotfill.errors import ConfigError, DataError, MissingExtra, SlotfillError

OUTPUT_FORMATS = ("jsonl", "parquet")
GLOB_CHARS = set("*?[")
BLOCK_BYTES = 256 * 1024


@dataclass(frozen=True)
class RaySettings:
    """The ``ray.`` settings of ``slotfill predict engine=ray``."""

    address: str | None = None  # join this cluster; None starts a local Ray with the machine's CPUs
    concurrency: int = 2  # actors, one model each
    num_cpus: float = 1.0  # CPUs Ray reserves for each actor
    shard_rows: int = 20_000  # records per shard, one actor call (whole chunks: PREDICT_CHUNK's multiple)

    @property
    def chunks_per_shard(self) -> int:
        return -(-self.shard_rows // PREDICT_CHUNK)

    def __post_init__(self) -> None:
        for name in ("concurrency", "shard_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"ray.{name}={value!r}: a whole number, 1 or more")
        if not isinstance(self.num_cpus, int | float) or self.num_cpus <= 0:
            raise ConfigError(f"ray.num_cpus={self.num_cpus!r}: a number of CPUs over 0 (0.5 shares one)")


def kind_of(path: str) -> str:
    """How a file is read: ``parquet`` and ``jsonl`` (a ``text`` field) by their suffix, text otherwise."""
    name = path.lower()
    if name.endswith(".parquet"):
        return "parquet"
    return "jsonl" if name.endswith((".jsonl", ".ndjson")) else "text"


def input_files(source: str) -> list[str]:
    """The files ``input=`` names: a file, a folder (every file under it) or a glob; URLs are Ray's to read."""
    if "://" in source:
        return [source]
    if GLOB_CHARS & set(source):
        found = [Path(p) for p in sorted(glob.glob(source, recursive=True))]
    elif Path(source).is_dir():
        found = sorted(p for p in Path(source).rglob("*") if not any(part.startswith(".") for part in p.parts[-1:]))
    elif Path(source).exists():
        found = [Path(source)]
    else:
        raise ConfigError(f"input={source}: no such file or folder")
    files = [p for p in found if p.is_file()]
    if not files:
        raise ConfigError(f"input={source}: no files there to tag")
    for p in files:
        if not os.access(p, os.R_OK):
            raise DataError(p, None, "cannot read file: permission denied")
    return [str(p.resolve()) for p in files]


def rows_of(path: str, raw: bytes) -> list[str]:
    """The sentences of one file, in order (line ``n`` is item ``n - 1``)."""
    kind = kind_of(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(raw))
        if "text" not in table.column_names:
            raise DataError(path, None, f"no text column (it has {', '.join(table.column_names)})")
        return [t if t is not None else "" for t in table.column("text").to_pylist()]
    lines = decode_lines(raw, path)
    for n, line in enumerate(lines, 1):
        if len(line) > MAX_TEXT_CHARS:
            raise DataError(path, n, f"over {MAX_TEXT_CHARS:,} characters: one sentence a line (a missing line break?)")
    if kind == "text":
        return lines
    texts = []
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, n, f"not JSON ({e.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise DataError(path, n, 'expected an object with a "text" string')
        texts.append(record["text"])
    return texts


def split_files(batch: dict, numbers: dict[str, int]) -> dict:
    """Ray task: files (``path``, ``bytes``) into chunks of :data:`PREDICT_CHUNK` consecutive sentences,
    cut where plain ``predict`` cuts them (``file`` number, ``first`` line, ``texts`` as a JSON list)."""
    import numpy as np

    files, firsts, texts = [], [], []
    for path, raw in zip(batch["path"], batch["bytes"], strict=True):
        rows = rows_of(str(path), bytes(raw))
        for start in range(0, len(rows), PREDICT_CHUNK):
            files.append(numbers[str(path)])
            firsts.append(start + 1)
            texts.append(json.dumps(rows[start : start + PREDICT_CHUNK], ensure_ascii=False))
    return {
        "file": np.array(files, dtype=np.int64),
        "first": np.array(firsts, dtype=np.int64),
        "texts": np.array(texts, dtype=object),
    }


class Tagging:
    """Ray actor: loads the model once; each call tags whole chunks and writes them as one shard.

    What the actor holds is kept out of the garbage collector's full collections: Ray's modules,
    the model and whatever Ray keeps from call to call (~12,000 more objects each) are frozen after
    loading and after every call (:func:`slotfill.core.collector.settled`), else each full
    collection walked ~290,000 objects: 6.5 s of 150,000 sentences (bench/RESULTS.md, "Ray actors
    and the garbage collector").
    """

    def __init__(
        self,
        ckpt: str,
        backend: str,
        threads: int | None,
        precision: str,
        decisions: dict,
        batch_size: int,
        sources: list[str],
        folder: str,
        fmt: str,
    ) -> None:
        from slotfill.inference.loading import load_tagger

        self.tagger = load_tagger(ckpt, backend, threads, precision)
        collector.settled(collect=True)
        self.decisions, self.batch_size, self.sources = decisions, batch_size, sources
        self.folder, self.fmt = Path(folder), fmt

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        def records():
            for number, first, texts in zip(batch["file"], batch["first"], batch["texts"], strict=True):
                source = self.sources[int(number)]
                chunk = self.tagger.predict(json.loads(str(texts)), batch_size=self.batch_size, **self.decisions)
                for n, result in enumerate(chunk, int(first)):
                    yield source, n, json.dumps({"source": source, "line": n, **result}, ensure_ascii=False)

        name = shard_name(int(batch["file"][0]), int(batch["first"][0]), self.fmt)
        rows = write_shard(self.folder / name, self.fmt, records())
        collector.settled(collect=True)  # a collection of this call's leftovers only: milliseconds
        return {"rows": np.array([rows], dtype=np.int64)}


def shard_name(file: int, first: int, fmt: str) -> str:
    """A shard named after its first record (input file number and line): a call Ray retries
    rewrites the same shard instead of adding a second copy."""
    return f"part-{file:05d}-{first:010d}.{fmt}"


def write_shard(path: Path, fmt: str, records: Iterable[tuple[str, int, str]]) -> int:
    """Write ``(source, line, record)`` rows as a whole shard: under a temporary name, renamed once
    complete, so a shard is whole or absent. Returns the number of records."""
    partial = path.with_name(path.name + ".partial")
    rows = 0
    try:
        if fmt == "jsonl":
            with partial.open("w", encoding="utf-8") as f:
                for _, _, record in records:
                    f.write(record + "\n")
                    rows += 1
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            sources, lines, texts = [], [], []
            for source, line, record in records:
                sources.append(source)
                lines.append(line)
                texts.append(record)
            table = pa.table({"source": sources, "line": pa.array(lines, pa.int64()), "record": texts})
            pq.write_table(table, partial)
            rows = len(texts)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return rows


def output_folder(output: str | None, fmt: str) -> Path:
    """A new or empty folder for the shards: shards of an earlier run would mix with this one's."""
    if output is None:
        raise ConfigError("engine=ray writes shards into a folder: add output=FOLDER")
    if fmt not in OUTPUT_FORMATS:
        raise ConfigError(f"format={fmt}: engine=ray writes {' or '.join(OUTPUT_FORMATS)} shards")
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"output={output}: a file; engine=ray writes a folder of shards")
    if folder.is_dir() and any(folder.iterdir()):
        raise ConfigError(f"output={output}: the folder is not empty (shards of another run?): name a new one")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _ray():
    # the core worker's C++ log speaks to Ray's developers (object-store notes on every actor);
    # Python errors still come through as exceptions. RAY_BACKEND_LOG_LEVEL set by the user wins.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingExtra("ray", "ray", "slotfill predict engine=ray") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # slotfill prints its own progress line
    # a file's lines leave the reading task in blocks of at most this size, and an actor takes whole
    # blocks: small ones spread one big file over every actor (repartition() would need a CPU the
    # actors hold, and wait for it forever)
    context.target_max_block_size = BLOCK_BYTES
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray


def _cause(error: BaseException) -> SlotfillError | None:
    """The slotfill error a Ray worker raised, under Ray's wrappers."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, SlotfillError):
            return error
        error = getattr(error, "cause", None) or error.__cause__
    return None


def predict_on_ray(
    ckpt: str,
    source: str,
    output: str | None,
    settings: RaySettings,
    decisions: dict,
    backend: str = "auto",
    threads: int | None = 1,
    precision: str = "auto",
    fmt: str = "jsonl",
    progress: Callable[[str], None] | None = None,
    batch_size: int = 256,
) -> int:
    """Tag every line of ``source`` into shards under ``output``; returns the number of records.

    The inputs, the output folder and the model (loaded once here) are checked before Ray
    starts. A local Ray is started (and stopped) unless ``settings.address`` names a cluster.
    """
    files = input_files(str(source))
    from slotfill.inference.loading import load_tagger

    load_tagger(ckpt, backend, threads, precision)  # a model that does not load fails here, not on every actor
    ray = _ray()
    folder = output_folder(output, fmt)
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=settings.address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    done, start, last = 0, time.monotonic(), 0.0
    try:
        # reading takes no CPU of Ray's count: actors holding every CPU would otherwise starve it
        ds = ray.data.read_binary_files(files, include_paths=True, num_cpus=0)
        numbers = {path: i for i, path in enumerate(files)}
        ds = ds.map_batches(split_files, fn_kwargs={"numbers": numbers}, batch_size=1, batch_format="numpy", num_cpus=0)
        ds = ds.map_batches(
            Tagging,
            fn_constructor_kwargs={
                "ckpt": str(ckpt),
                "backend": backend,
                "threads": threads,
                "precision": precision,
                "decisions": decisions,
                "batch_size": batch_size,
                "sources": files,
                "folder": str(folder),
                "fmt": fmt,
            },
            # one shard at a time per actor: a second queued behind a busy actor would wait there
            # while another actor (still starting, or done) sits idle
            compute=ray.data.ActorPoolStrategy(size=settings.concurrency, max_tasks_in_flight_per_actor=1),
            batch_size=settings.chunks_per_shard,
            num_cpus=settings.num_cpus,
            batch_format="numpy",
        )
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            done += int(batch["rows"].sum())
            now = time.monotonic()
            if now - last >= 5:
                say(f"ray: {done:,} sentences tagged, {done / (now - start):,.0f}/s")
                last = now
    except Exception as e:  # Ray wraps what its workers raise
        cause = _cause(e)
        if cause is not None:
            raise cause from None
        raise
    finally:
        if started_here:
            ray.shutdown()
        for partial in folder.glob("*.partial"):  # of an actor stopped mid-shard
            partial.unlink(missing_ok=True)
    written = sorted(folder.glob(f"part-*.{fmt}"))
    if done == 0:
        raise SlotfillError(f"input={source}: no lines to tag")
    took = time.monotonic() - start
    say(f"ray: {done:,} sentences in {took:.1f} s ({done / took:,.0f}/s); wrote {len(written)} shards to {folder}")
    return done


def read_back(folder: str | Path) -> list[dict]:
    """Every record of a folder of jsonl shards, in input order (by source file, then line)."""
    records = []
    for shard in sorted(Path(folder).glob("part-*.jsonl")):
        with shard.open(encoding="utf-8") as f:
            records += [json.loads(line) for line in f]
    return sorted(records, key=lambda r: (r["source"], r["line"]))
