"""``slotfill predict engine=ray``: tag many files on Ray Data, one model per long-lived actor.

Every file is cut into chunks of consecutive lines where plain ``predict`` cuts them, so each chunk
is tagged in the same batches and gets the same numbers. Local files, and URLs whose scheme pyarrow
reads (``s3://``, ``gs://``, ``hdfs://``, ``file://``), are cut by the driver: text and jsonl files
by their chunks' byte ranges, found in one pass over the newlines (:func:`chunk_ranges`), parquet
files by row numbers, from the footer alone (:func:`row_ranges`). The actors read their own chunks,
so no such file is ever held whole, however large. Other URLs (``http://``) are read whole by Ray
tasks and cut there (:func:`split_files`). Actors (``concurrency`` of
them, each loading the model once) tag whole chunks and write each ``shard_rows`` of them as one
shard, named after its first record. Every record carries its ``source`` file and ``line`` (from
1): sorting on both (:func:`read_back`) gives the input order.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from slotfill.core import collector, native_stderr
from slotfill.core.backends import choose
from slotfill.core.file_systems import RUN_MARK, filesystem, in_folder, is_url, open_binary, stamp, url_files
from slotfill.core.limits import MAX_LINE_BYTES, PREDICT_CHUNK
from slotfill.core.schema import model_path
from slotfill.core.sentence_files import CHANGED, TOO_LONG, ParquetRows, kind_of, row_ranges, rows_of
from slotfill.core.settings import true_or_false
from slotfill.core.threads import checked_elsewhere
from slotfill.core.wording import counted
from slotfill.errors import ConfigError, DataError, MissingExtra, SlotfillError, first_line
from slotfill.integrations import ray_record

OUTPUT_FORMATS = ("jsonl", "parquet")
GLOB_CHARS = set("*?[")
BLOCK_BYTES = 256 * 1024
PLAN_BYTES = 2**20  # the driver scans a file for its chunks' byte ranges this much at a time


@dataclass(frozen=True)
class RaySettings:
    """The ``ray.`` settings of ``slotfill predict engine=ray``."""

    address: str | None = None  # join this cluster; None starts a local Ray with the machine's CPUs
    concurrency: int = 2  # actors, one model each
    num_cpus: float = 1.0  # CPUs Ray reserves for each actor
    shard_rows: int = 20_000  # records per shard, one actor call (whole chunks: PREDICT_CHUNK's multiple)
    resume: bool = False  # finish the run whose shards are in the output folder (ray_record.py)

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
        true_or_false(self.resume, "ray.resume")


def input_files(source: str) -> list[str]:
    """The files ``input=`` names: a file, a folder (the files under it that :func:`in_folder` keeps) or a
    glob (but an earlier run's output); a URL of a file or a folder where pyarrow reads its scheme (any other
    URL is Ray Data's to read, as it is)."""
    if is_url(source):
        return url_files(source)
    earlier = "the output folder of an earlier run (its shards are results): name the files it tagged"
    if GLOB_CHARS & set(source) and not Path(source).exists():  # "q[1].txt" that exists is that file
        matched = [Path(p) for p in sorted(glob.glob(source, recursive=True))]
        found = _outside_runs(matched)
        if matched and not found:
            raise ConfigError(f"input={source}: every match is in {earlier}")
    elif Path(source).is_dir():
        root = Path(source).resolve()  # "." lists "a.txt": whole paths, so each is cut at the folder's end
        if (root / RUN_MARK).is_file():
            raise ConfigError(f"input={source}: {earlier}")
        found = [Path(p) for p in sorted(in_folder([p.as_posix() for p in root.rglob("*")], root.as_posix()))]
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
        try:
            str(p).encode("utf-8")  # its records name it: JSON and parquet hold UTF-8 only
        except UnicodeEncodeError:
            raise DataError(ascii(str(p)), None, "the file name is not UTF-8: rename the file") from None
    return list(dict.fromkeys(str(p.resolve()) for p in files))  # a file reached by two names (a link) once


def _outside_runs(paths: list[Path]) -> list[Path]:
    """``paths`` but those in the output folder of an earlier run (``output=`` under the glob's folder)."""
    runs: dict[Path, bool] = {}

    def is_run(folder: Path) -> bool:
        if folder not in runs:
            runs[folder] = (folder / RUN_MARK).is_file()
        return runs[folder]

    return [p for p in paths if not any(is_run(folder) for folder in p.parents)]


def is_planned(path: str) -> bool:
    """A file the driver cuts into chunks and the actors read: a local one or a URL pyarrow reads (any
    other URL is read whole by a Ray task)."""
    return not is_url(path) or filesystem(path) is not None


def chunk_ranges(path: str, lines: int = PREDICT_CHUNK, block: int = PLAN_BYTES) -> tuple[list[tuple], int, tuple]:
    """``(first line, start byte, end byte)`` of each run of ``lines`` consecutive lines of a file (local,
    or a URL pyarrow reads; the chunks plain ``predict`` reads), the file's number of lines, and its
    :func:`stamp`: one pass over its newlines, ``block`` bytes at a time, so the file is never held whole."""
    import numpy as np

    ranges = []
    first, start = 1, 0  # the next chunk's first line and byte
    since = 0  # newlines read since the last chunk's end: each ``lines``-th closes a chunk
    offset, newlines = 0, 0  # bytes and newlines read so far
    previous = -1  # where the last newline read is
    last = b"\n"  # the last byte read
    try:
        with open_binary(path) as f:
            before = stamp(path)
            while data := f.read(block):
                ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
                # a line far over the limit (a file without line breaks) is an error before Ray starts,
                # not a whole file in an actor's memory
                over = np.diff(ends, prepend=previous - offset) - 1 > MAX_LINE_BYTES
                if over.any():
                    raise DataError(path, newlines + int(over.argmax()) + 1, TOO_LONG)
                previous = offset + int(ends[-1]) if len(ends) else previous
                if offset + len(data) - previous - 1 > MAX_LINE_BYTES:  # the line still open
                    raise DataError(path, newlines + len(ends) + 1, TOO_LONG)
                for i in range(lines - since - 1, len(ends), lines):
                    end = offset + int(ends[i]) + 1
                    ranges.append((first, start, end))
                    first, start = first + lines, end
                since = (since + len(ends)) % lines
                offset, newlines, last = offset + len(data), newlines + len(ends), data[-1:]
        changed = stamp(path) != before
    except OSError as e:
        raise DataError(path, None, f"cannot read file: {e.strerror or first_line(e)}") from None
    if changed:
        raise DataError(path, None, CHANGED)
    if offset > start:  # the last lines, fewer than a chunk
        ranges.append((first, start, offset))
    return ranges, newlines + (last != b"\n"), before  # a last line without its newline is a line too


def read_range(path: str, start: int, end: int, found: tuple[int, int] | None = None) -> bytes:
    """Bytes ``start`` to ``end`` of a file, as :func:`chunk_ranges` found them (``found``: the
    file's :func:`stamp` then; a file changed since is an error, not lines cut in the wrong places)."""
    try:
        if found is not None and stamp(path) != tuple(found):
            raise DataError(path, None, CHANGED)
        with open_binary(path) as f:
            f.seek(start)
            raw = f.read(end - start)
    except OSError as e:
        raise DataError(path, None, f"cannot read file: {e.strerror or first_line(e)}") from None
    if len(raw) != end - start:
        raise DataError(path, None, CHANGED)
    return raw


def split_files(batch: dict, numbers: dict[str, int], skip: list | None = None) -> dict:
    """Ray task: files (``path``, ``bytes``) into chunks of :data:`PREDICT_CHUNK` consecutive sentences,
    cut where plain ``predict`` cuts them (``file`` number, ``first`` line, ``texts`` as a JSON list;
    ``start`` and ``end`` -1: the rows of :func:`planned_chunks` have byte ranges instead of texts);
    ``skip``: the ``[file, first]`` chunks an earlier run of a resumed one finished."""
    import numpy as np

    done = {tuple(pair) for pair in skip or []}
    files, firsts, texts = [], [], []
    for path, raw in zip(batch["path"], batch["bytes"], strict=True):
        rows = rows_of(str(path), bytes(raw))
        for start in range(0, len(rows), PREDICT_CHUNK):
            if (numbers[str(path)], start + 1) in done:
                continue
            files.append(numbers[str(path)])
            firsts.append(start + 1)
            texts.append(json.dumps(rows[start : start + PREDICT_CHUNK], ensure_ascii=False))
    none = np.full(len(files), -1, dtype=np.int64)
    return {
        "file": np.array(files, dtype=np.int64),
        "first": np.array(firsts, dtype=np.int64),
        "start": none,
        "end": none,
        "texts": np.array(texts, dtype=object),
    }


def planned_chunks(files: list[str]) -> tuple[list[dict], int, list[tuple | None]]:
    """The chunks of the files the driver plans among ``files`` (numbered by their place in it), as rows of
    :func:`split_files`'s columns with byte ranges (parquet: row ranges) for texts; their number of
    lines; and each file's :func:`stamp` when its chunks were found (None: a file read by a Ray task)."""
    rows, lines, stamps = [], 0, []
    for number, path in enumerate(files):
        found = None
        if is_planned(path):
            ranges, count, found = row_ranges(path) if kind_of(path) == "parquet" else chunk_ranges(path)
            rows += [{"file": number, "first": a, "start": b, "end": e, "texts": ""} for a, b, e in ranges]
            lines += count
        stamps.append(found)
    return rows, lines, stamps


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
        stamps: list[tuple | None] | None = None,
        mark: str | None = None,
    ) -> None:
        from slotfill.inference.loading import load_tagger

        # the driver's token (ray_record.mark): this node writes where the driver reads. Refused at the
        # first call, not here: a constructor's error reaches the driver as Ray's ActorDiedError, whose
        # text is a traceback, and the actor is started again and again
        self.unshared: ray_record.Unshared | None = None
        if mark is not None:
            try:
                ray_record.check_mark(Path(folder), mark)
            except ray_record.Unshared as e:
                self.unshared = e
                return  # no model loaded for nothing
        # the driver refused a count over its own bound, once: refused here, on a node of fewer CPUs,
        # it would be Ray's ActorDiedError and an actor started again and again
        with checked_elsewhere():
            self.tagger = load_tagger(ckpt, backend, threads, precision)
        collector.settled(collect=True)
        self.decisions, self.batch_size, self.sources = decisions, batch_size, sources
        self.folder, self.fmt = Path(folder), fmt
        self.stamps = stamps or [None] * len(sources)  # each file as the driver found it
        self.readers: dict[int, ParquetRows] = {}  # by file number: the parquet files being read

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        if self.unshared is not None:
            raise self.unshared
        parquet_rows = self._parquet_rows(batch)

        def records():
            columns = (batch[k] for k in ("file", "first", "start", "end", "texts"))
            for number, first, start, end, texts in zip(*columns, strict=True):
                source, first = self.sources[int(number)], int(first)
                if start < 0:  # cut by a reading task
                    texts = json.loads(str(texts))
                elif (int(number), int(start)) in parquet_rows:  # a parquet file's rows, read with their neighbours
                    texts = parquet_rows[int(number), int(start)]
                else:  # planned by the driver: read here
                    raw = read_range(source, int(start), int(end), self.stamps[int(number)])
                    texts = rows_of(source, raw, first)
                chunk = self.tagger.predict(texts, batch_size=self.batch_size, **self.decisions)
                for n, result in enumerate(chunk, first):
                    yield source, n, json.dumps({"source": source, "line": n, **result}, ensure_ascii=False)

        name = shard_name(int(batch["file"][0]), int(batch["first"][0]), self.fmt)
        rows = write_shard(self.folder / name, self.fmt, records())
        collector.settled(collect=True)  # a collection of this call's leftovers only: milliseconds
        chunks = json.dumps([[int(f), int(first)] for f, first in zip(batch["file"], batch["first"])])
        return {
            "rows": np.array([rows], dtype=np.int64),
            "shard": np.array([name], dtype=object),
            "chunks": np.array([chunks], dtype=object),  # what the driver adds to the done-list
        }

    def _parquet_rows(self, batch: dict) -> dict[tuple[int, int], list[str]]:
        """The rows of this call's chunks of parquet files, by ``(file, start row)``, each run of
        consecutive chunks read at once, by a reader kept from call to call (:class:`ParquetRows`: a
        row group is decoded from its start, so a large one would otherwise be decoded again for every
        call)."""
        chunks = sorted(
            (int(number), int(start), int(end))
            for number, start, end in zip(batch["file"], batch["start"], batch["end"], strict=True)
            if start >= 0 and kind_of(self.sources[int(number)]) == "parquet"
        )
        runs: list[list[tuple[int, int, int]]] = []
        for chunk in chunks:
            if runs and runs[-1][-1][0] == chunk[0] and runs[-1][-1][2] == chunk[1]:
                runs[-1].append(chunk)
            else:
                runs.append([chunk])
        texts = {}
        for run in runs:
            number, lo = run[0][:2]
            # the two files used last (each holds a batch of rows), the one in use moved to the end
            reader = self.readers.pop(number, None) or ParquetRows(self.sources[number], self.stamps[number])
            self.readers[number] = reader
            if len(self.readers) > 2:
                del self.readers[next(iter(self.readers))]
            rows = reader.read(lo, run[-1][2])
            texts.update({(number, start): rows[start - lo : end - lo] for _, start, end in run})
        return texts


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
        with partial.open("rb") as f:
            os.fsync(f.fileno())  # on disk before it is named (and then recorded as done)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return rows


def output_folder(output: str | None, fmt: str, create: bool = True, resume: bool = False) -> Path:
    """A new or empty folder for the shards: shards of an earlier run would mix with this one's
    (``create=False``: only checked, made later; ``resume``: the folder of the run to finish)."""
    if output is None:
        raise ConfigError("engine=ray writes shards into a folder: add output=FOLDER")
    if fmt not in OUTPUT_FORMATS:
        raise ConfigError(f"format={fmt}: engine=ray writes {' or '.join(OUTPUT_FORMATS)} shards")
    if is_url(output):  # Path("s3://b/x") is the local folder "s3:/b/x"
        raise ConfigError(
            f"output={output}: engine=ray writes its shards into a folder on disk, local or on a file system "
            "every node shares, not to a URL: give a path (copy the shards up afterwards)"
        )
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"output={output}: a file; engine=ray writes a folder of shards")
    if folder.is_dir() and ray_record.holds_a_run(folder) and not resume:
        raise ConfigError(
            f"output={output}: the folder is not empty (shards of another run?): name a new one, "
            "or add ray.resume=true to finish the run it holds"
        )
    if create:
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
    # what an actor raises (a bad line: its file and line) reaches the driver as itself, not wrapped in
    # Ray's UserCodeException, whose pickled copy loses the cause
    context.raise_original_map_exception = True
    # a file's lines leave the reading task in blocks of at most this size, and an actor takes whole
    # blocks: small ones spread one big file over every actor (repartition() would need a CPU the
    # actors hold, and wait for it forever)
    context.target_max_block_size = BLOCK_BYTES
    # its errors are raised as exceptions too: a bad line of an input is one line of slotfill's, not Ray's log
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    return ray


# the core worker's first line, whatever RAY_BACKEND_LOG_LEVEL says: "... logging.cc:303: Set ray log level
# from environment variable RAY_BACKEND_LOG_LEVEL to 3", on the driver's stderr at every start
_LOG_LEVEL_LINE = re.compile(rb"^\[[^\]]*\] logging\.cc:\d+: Set ray log level from environment variable")


def check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """A cluster address that nothing answers at is one line here: ``ray.init`` waits for it
    silently, minutes for a host name that does not resolve, deaf to Ctrl-C."""
    if address in (None, "auto", "local"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"ray.address={address}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        reason = e.strerror or str(e) or type(e).__name__
        raise ConfigError(
            f"ray.address={address}: cannot join that Ray cluster (nothing answers there: {reason})"
        ) from None


def start_ray(ray, address: str | None) -> None:
    """Join the cluster at ``address``, or start a local Ray (None); a one-line error when neither can be done."""
    import warnings

    try:
        # Ray's client warns on stderr before it raises; its core worker says its log level on every start
        with warnings.catch_warnings(), native_stderr.filtered(_LOG_LEVEL_LINE, quiet_on_error=True):
            warnings.simplefilter("ignore")
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    except (OSError, RuntimeError) as e:  # ConnectionError, TimeoutError...: the cluster's, not a file's
        with contextlib.suppress(Exception):
            ray.shutdown()  # whatever half started
        if address:
            raise ConfigError(f"ray.address={address}: cannot join that Ray cluster ({first_line(e)})") from None
        raise SlotfillError(f"a local Ray did not start ({first_line(e)}): join a cluster with ray.address=") from None


def check_actor_fits(ray, num_cpus: float, address: str | None) -> None:
    """Refuse ``ray.num_cpus`` over this machine's CPUs when the Ray is the local one started here: no
    node could hold an actor, and Ray would wait for one forever, silently. A cluster joined is only
    warned: an autoscaler adds nodes (a head of 0 CPUs and no workers yet is how many clusters start)."""
    largest = max(
        (float(node.get("Resources", {}).get("CPU", 0)) for node in ray.nodes() if node.get("Alive", True)), default=0.0
    )
    if num_cpus <= largest:
        return
    if address is None:
        raise ConfigError(
            f"ray.num_cpus={num_cpus:g}: each actor needs more CPUs than this machine has ({largest:g}), "
            "so none would ever start: give at most that"
        )
    logging.getLogger(__name__).warning(
        "ray.num_cpus=%g: no node of the cluster has that many CPUs now (the largest: %g); the actors wait "
        "for an autoscaler to add one",
        num_cpus,
        largest,
    )


def _ray_wrapper(error: BaseException) -> bool:
    """Whether ``error`` is one of Ray's exceptions (which may also be, by class, the error it wraps)."""
    return any(c.__module__.split(".")[0] == "ray" for c in type(error).__mro__)


def _cause(error: BaseException) -> SlotfillError | None:
    """The slotfill error a Ray worker raised, under Ray's wrappers."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        # Ray's RayTaskError(DataError) is a DataError too, but says Ray's words: the one it wraps says ours
        if isinstance(error, SlotfillError) and not _ray_wrapper(error):
            return error
        error = getattr(error, "cause", None) or error.__cause__
    return None


def progress_line(done: int, total: int | None, before: int, elapsed: float) -> str:
    """Sentences tagged so far, of ``total`` and the time left where it is known (None: URLs read by Ray
    tasks are among the inputs), at this run's rate (``before``: tagged by an earlier run, resumed)."""
    rate = (done - before) / elapsed if elapsed > 0 else 0.0
    share = f" of {total:,} ({100 * done / total:.0f}%)" if total else ""
    line = f"ray: {done:,}{share} sentences tagged, {rate:,.0f}/s"
    if total and rate > 0 and done < total:
        left = round((total - done) / rate)
        line += f", about {left // 60} min {left % 60:02d} s left"
    return line


def actor_count(concurrency: int, shards: int, known: bool = True) -> int:
    """Actors to start: ``ray.concurrency``, but no more than the shards to write when they are all
    ``known`` (each actor loads the model; URLs read by Ray tasks make shards not counted before)."""
    return min(concurrency, max(shards, 1)) if known else concurrency


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
    starts, and that a node can hold an actor once it has (:func:`check_actor_fits`). A local Ray
    is started (and stopped) unless ``settings.address`` names a cluster.
    """
    files = input_files(str(source))
    output_folder(output, fmt, create=False, resume=settings.resume)  # before planning: seconds for a 10-GB log
    check_reachable(settings.address)  # before anything is written
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    began = time.monotonic()
    planned, lines, stamps = planned_chunks(files)  # read by the actors
    found_in = time.monotonic() - began
    others = [path for path, found in zip(files, stamps) if found is None]  # not planned: read by Ray tasks
    if not planned and not others:
        raise SlotfillError(f"input={source}: no lines to tag")
    from slotfill.inference.loading import load_tagger

    tagger = load_tagger(ckpt, backend, threads, precision)  # a model that does not load fails here, not on every actor
    ray = _ray()
    folder = output_folder(output, fmt, resume=settings.resume)
    # the file the tagger loaded (model.onnx for backend=onnx, the int8 graph for precision=int8), and
    # what it runs on here: a resume where "auto" resolves otherwise is another run
    engine = choose(backend, ckpt)
    model_file = tagger.source if engine == "onnx" else str(model_path(ckpt))
    how = {"backend": engine, "precision": tagger.precision}
    settings_of_records = {"format": fmt, "batch_size": batch_size, "decisions": decisions, **how}
    expected = ray_record.manifest(model_file, files, stamps, settings_of_records)
    finished, done = ray_record.start(folder, expected, settings.resume, fmt)
    if finished:
        planned = [row for row in planned if (row["file"], row["first"]) not in finished]
        say(f"ray: resuming: {counted(done, 'sentence')} in {counted(len(finished), 'chunk')} were tagged before")
        if not planned and not others:
            ray_record.finish(folder)
            say(f"ray: nothing left to tag; {counted(done, 'sentence')} in {folder}")
            return done
    # about a shard's chunks a block (from_items splits evenly): the last calls stay small
    blocks = -(-len(planned) // settings.chunks_per_shard)
    actors = actor_count(settings.concurrency, blocks, known=not others)
    if planned:
        read_here = len(files) - len(others)
        tasks = f"; {len(others):,} more (URLs) read by Ray tasks" if others else ""
        fewer = f"; {counted(actors, 'actor')}, one a shard" if actors < settings.concurrency else ""
        say(
            f"ray: {counted(lines, 'line')} in {counted(read_here, 'file')}, {counted(len(planned), 'chunk')} to tag "
            f"(found in {found_in:.1f} s){tasks}{fewer}"
        )
    started_here = not ray.is_initialized()
    if started_here:
        start_ray(ray, settings.address)
    before, start, last = done, time.monotonic(), 0.0
    try:
        check_actor_fits(ray, settings.num_cpus, settings.address)
        mark = ray_record.mark(folder)  # each actor checks it sees it: the folder is one every node shares
        parts = []
        if planned:
            parts.append(ray.data.from_items(planned, override_num_blocks=blocks))
        if others:
            # reading takes no CPU of Ray's count: actors holding every CPU would otherwise starve it
            read = ray.data.read_binary_files(others, include_paths=True, num_cpus=0)
            numbers = {path: i for i, path in enumerate(files)}
            kwargs = {"numbers": numbers, "skip": sorted(finished)}
            parts.append(
                read.map_batches(split_files, fn_kwargs=kwargs, batch_size=1, batch_format="numpy", num_cpus=0)
            )
        ds = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
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
                "stamps": stamps,
                "folder": str(folder),
                "fmt": fmt,
                "mark": mark,
            },
            # one shard at a time per actor: a second queued behind a busy actor would wait there
            # while another actor (still starting, or done) sits idle
            compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1),
            batch_size=settings.chunks_per_shard,
            num_cpus=settings.num_cpus,
            batch_format="numpy",
        )
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for rows, shard, chunks in zip(batch["rows"], batch["shard"], batch["chunks"], strict=True):
                ray_record.record(folder, str(shard), json.loads(str(chunks)), int(rows))
                done += int(rows)
            now = time.monotonic()
            if now - last >= 5:
                say(progress_line(done, None if others else lines, before, now - start))
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
    ray_record.finish(folder)
    took = time.monotonic() - start
    rate = (done - before) / took
    earlier = f", {before:,} of them tagged before" if before else ""
    shards = counted(len(written), "shard")
    say(f"ray: {counted(done, 'sentence')}{earlier}; {took:.1f} s ({rate:,.0f}/s); {shards} in {folder}")
    return done


def read_back(folder: str | Path) -> list[dict]:
    """Every record of a finished run's folder of jsonl shards, in input order (by source file, then line)."""
    folder = Path(folder)
    if not ray_record.is_finished(folder):
        raise SlotfillError(
            f"{folder}: not a finished engine=ray run (no {ray_record.COMPLETE}): finish it with ray.resume=true"
        )
    if any(folder.glob("part-*.parquet")):
        raise SlotfillError(f"{folder}: parquet shards: read them with pyarrow.dataset or pandas.read_parquet")
    records = []
    for shard in sorted(folder.glob("part-*.jsonl")):
        with shard.open(encoding="utf-8") as f:
            records += [json.loads(line) for line in f]
    return sorted(records, key=lambda r: (r["source"], r["line"]))
