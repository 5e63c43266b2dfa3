"""``slotfill predict engine=ray``: tag many files on Ray Data, one model per long-lived actor.

Ray tasks read the input files and split them into numbered lines; actors (``concurrency``
of them, each loading the model once) tag batches; the driver writes the records into
shards of ``shard_rows`` records each. Every record carries its ``source`` file and ``line``
(from 1), so sorting on both puts the output back in input order.
"""

from __future__ import annotations

import glob
import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from slotfill.core.limits import MAX_TEXT_CHARS
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
    batch_size: int = 512  # sentences an actor tags at a time
    num_cpus: float = 1.0  # CPUs Ray reserves for each actor
    shard_rows: int = 100_000  # records per output shard

    def __post_init__(self) -> None:
        for name in ("concurrency", "batch_size", "shard_rows"):
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


def split_files(batch: dict) -> dict:
    """Ray task: files (``path``, ``bytes``) into numbered sentences (``source``, ``line``, ``text``)."""
    import numpy as np

    sources, numbers, texts = [], [], []
    for path, raw in zip(batch["path"], batch["bytes"], strict=True):
        rows = rows_of(str(path), bytes(raw))
        sources += [str(path)] * len(rows)
        numbers += range(1, len(rows) + 1)
        texts += rows
    return {
        "source": np.array(sources, dtype=object),
        "line": np.array(numbers, dtype=np.int64),
        "text": np.array(texts, dtype=object),
    }


class Tagging:
    """Ray actor: loads the model once, then turns batches of sentences into JSON records."""

    def __init__(self, ckpt: str, backend: str, threads: int | None, precision: str, decisions: dict) -> None:
        from slotfill.inference.loading import load_tagger

        self.tagger = load_tagger(ckpt, backend, threads, precision)
        self.decisions = decisions

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        texts = [str(t) for t in batch["text"]]
        results = self.tagger.predict(texts, batch_size=len(texts) or 1, **self.decisions)
        records = [
            json.dumps({"source": str(s), "line": int(n), **r}, ensure_ascii=False)
            for s, n, r in zip(batch["source"], batch["line"], results, strict=True)
        ]
        return {"source": batch["source"], "line": batch["line"], "record": np.array(records, dtype=object)}


class Shards:
    """The output folder: shards are written under a temporary name and renamed once complete."""

    def __init__(self, folder: Path, fmt: str, rows: int) -> None:
        self.folder, self.fmt, self.rows = folder, fmt, rows
        self.buffer: list[tuple[str, int, str]] = []
        self.written: list[Path] = []

    def add(self, sources, lines, records) -> None:
        self.buffer += zip((str(s) for s in sources), (int(n) for n in lines), (str(r) for r in records), strict=True)
        while len(self.buffer) >= self.rows:
            self._flush(self.buffer[: self.rows])
            self.buffer = self.buffer[self.rows :]

    def close(self) -> list[Path]:
        if self.buffer:
            self._flush(self.buffer)
            self.buffer = []
        return self.written

    def _flush(self, rows: list[tuple[str, int, str]]) -> None:
        final = self.folder / f"part-{len(self.written):05d}.{self.fmt}"
        partial = final.with_name(final.name + ".partial")
        try:
            if self.fmt == "jsonl":
                with partial.open("w", encoding="utf-8") as f:
                    f.writelines(r + "\n" for _, _, r in rows)
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                sources, lines, records = zip(*rows, strict=True)
                table = pa.table(
                    {"source": list(sources), "line": pa.array(lines, pa.int64()), "record": list(records)}
                )
                pq.write_table(table, partial)
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self.written.append(final)


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
    precision: str = "fp32",
    fmt: str = "jsonl",
    progress: Callable[[str], None] | None = None,
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
    shards = Shards(folder, fmt, settings.shard_rows)
    done, start, last = 0, time.monotonic(), 0.0
    try:
        # reading takes no CPU of Ray's count: actors holding every CPU would otherwise starve it
        ds = ray.data.read_binary_files(files, include_paths=True, num_cpus=0)
        ds = ds.map_batches(split_files, batch_size=1, batch_format="numpy", num_cpus=0)
        ds = ds.map_batches(
            Tagging,
            fn_constructor_kwargs={
                "ckpt": str(ckpt),
                "backend": backend,
                "threads": threads,
                "precision": precision,
                "decisions": decisions,
            },
            compute=ray.data.ActorPoolStrategy(size=settings.concurrency),
            batch_size=settings.batch_size,
            num_cpus=settings.num_cpus,
            batch_format="numpy",
        )
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            shards.add(batch["source"], batch["line"], batch["record"])
            done += len(batch["record"])
            now = time.monotonic()
            if now - last >= 5:
                say(f"ray: {done:,} sentences tagged, {done / (now - start):,.0f}/s")
                last = now
        written = shards.close()
    except Exception as e:  # Ray wraps what its workers raise
        cause = _cause(e)
        if cause is not None:
            raise cause from None
        raise
    finally:
        if started_here:
            ray.shutdown()
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
