"""``predict engine=ray`` against one ``predict`` process, on generated ATIS-style lines.

    python bench/ray_predict.py --ckpt bench/runs/accuracy/atis-default-seed1/model.pt --lines 1000000

For each backend (``model.pt`` and the ``model.onnx`` beside it), in turn: one plain
``predict.py format=jsonl threads=1 workers=1`` process, then ``engine=ray`` with 1 and 2 actors of one
thread each; wall time from start to exit (Ray's start included), sentences per second, the
peak resident memory of each actor (sampled every 0.2 s), and whether the records equal the
plain process's. With ``--corun``, a row of two plain processes started together, each on half
the lines: what two processes of this tagger get out of this machine's cores with no engine at
all, the yardstick for any two-worker engine here. Every row also says where the CPU went: the
seconds of processor time of the actors, of the ``predict`` process (Ray's driver) and of Ray's
own processes (raylet, GCS, agents, Ray Data's helper actors and reading tasks), each process
sampled every 0.3 s until it ends (``--by-process``: the busiest processes one by one), and the
largest peak resident memory among Ray's own processes (a task that reads a file whole shows
there). ``--parquet``: the Ray rows read the same lines from a parquet file (a ``text`` column, in
pyarrow's default row groups of up to a million rows), the plain rows from the text file.
``--reference C``: each Ray row again with commit C's code (a worktree under
``bench/runs/ref-C``), right after this checkout's. ``--rounds N`` repeats the
plain row and the Ray rows N times, alternated, and
gives each round's ratio to the plain run beside it: this VM's speed drifts by a quarter over
minutes, so a ratio of runs minutes apart measures the drift too. The lines come from
``bench/stream.py``'s generator (the sample's templates), never from a benchmark split. Not a
test: run it by hand.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from common import ENV, ROOT, checkout_env, worktree
from stream import generate


def is_actor(cmd: str) -> bool:
    return "MapWorker" in cmd and "Tagging" in cmd


class Watch:
    """Samples every process started after it (actors, driver, Ray's own) until stopped: the peak RSS
    of each process in MB, and each process's CPU seconds (its last sample, 0.3 s before it ends at worst)."""

    def __init__(self) -> None:
        self.start = time.time() - 1
        self.peaks: dict[int, float] = {}  # actors
        self.others: dict[int, float] = {}  # Ray's own processes
        self.cpu: dict[tuple[int, float], tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            for p in psutil.process_iter(["pid", "cmdline", "memory_info", "cpu_times", "create_time"]):
                info = p.info
                if info["pid"] == me or not info["create_time"] or info["create_time"] < self.start:
                    continue
                key = (info["pid"], info["create_time"])
                cmd = " ".join(info["cmdline"] or []) or self.cpu.get(key, ("", 0.0))[0]
                if info["cpu_times"]:
                    self.cpu[key] = (cmd, info["cpu_times"].user + info["cpu_times"].system)
                if info["memory_info"] and "predict.py" not in cmd:
                    peaks = self.peaks if is_actor(cmd) else self.others
                    peaks[info["pid"]] = max(peaks.get(info["pid"], 0.0), info["memory_info"].rss / 2**20)
            self._stop.wait(0.3)

    def stop(self) -> str:
        """CPU seconds as ``actors / driver / Ray's own`` (plain runs: the predict processes)."""
        self._stop.set()
        self._thread.join()
        actors = driver = ray = 0.0
        for cmd, seconds in self.cpu.values():
            if is_actor(cmd):
                actors += seconds
            elif "predict.py" in cmd:
                driver += seconds
            else:
                ray += seconds
        return f"{actors:.0f} / {driver:.0f} / {ray:.0f}" if actors else f"— / {driver:.0f} / —"

    def busiest(self, label: str, top: int = 16) -> str:
        """The ``top`` processes by CPU seconds, a line each under the row's ``label``."""
        ranked = sorted(self.cpu.values(), key=lambda v: -v[1])[:top]
        return "\n".join(f"<!-- {label.strip('| ')}: {seconds:7.1f} s  {cmd[:140]} -->" for cmd, seconds in ranked)


def compare(folder: Path, plain_file: Path) -> bool:
    """Whether the shards' records, in input order, are the plain run's (one record in memory at a
    time, besides the raw lines); says how many differ and shows the first."""
    keyed = []
    for shard in folder.glob("part-*.jsonl"):
        with shard.open(encoding="utf-8") as f:
            for raw in f:
                r = json.loads(raw)
                keyed.append((r["source"], r["line"], raw))
    keyed.sort(key=lambda k: (k[0], k[1]))
    differ, first, n = 0, None, 0
    with plain_file.open(encoding="utf-8") as f:
        for n, (ours, theirs) in enumerate(itertools.zip_longest(keyed, f), 1):
            record = (
                None if ours is None else {k: v for k, v in json.loads(ours[2]).items() if k not in ("source", "line")}
            )
            if theirs is None or record != json.loads(theirs):
                differ += 1
                first = first or (n, record, theirs)
    if differ:
        print(f"  {differ:,} of {n:,} records differ; the first, line {first[0]}:", flush=True)
        print(f"    ray:   {json.dumps(first[1])}\n    plain: {first[2]}", flush=True)
    return differ == 0


def timed(*cmds: list[str], env: dict[str, str] = ENV) -> float:
    """Wall seconds from starting the commands (together) until the last one ends."""
    start = time.monotonic()
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for cmd in cmds
    ]
    for cmd, proc in zip(cmds, procs):
        if proc.wait() != 0:
            raise SystemExit(f"{' '.join(cmd[1:])} failed")
    return time.monotonic() - start


def halves(source: Path) -> tuple[Path, Path]:
    """The first and the second half of a file's lines, as two files beside it."""
    lines = source.read_text().splitlines(keepends=True)
    first, second = source.with_name("first-half.txt"), source.with_name("second-half.txt")
    first.write_text("".join(lines[: len(lines) // 2]))
    second.write_text("".join(lines[len(lines) // 2 :]))
    return first, second


def row(
    lines: int,
    label: str,
    engine: str,
    cmds: list[list[str]],
    plain_rate: float | None = None,
    shards: tuple[Path, Path] | None = None,
    by_process: bool = False,
    env: dict[str, str] = ENV,
) -> float:
    """Run ``cmds`` together, watched; print one table row; return sentences per second.
    ``shards``: the Ray run's folder and the plain run's file, to compare their records."""
    watch = Watch()
    wall = timed(*cmds, env=env)
    cpu = watch.stop()
    rate = lines / wall
    ratio = rate / plain_rate if plain_rate else 1.0
    rss = ", ".join(f"{v:.0f}" for v in sorted(watch.peaks.values())) or "—"
    own = f"{max(watch.others.values()):.0f}" if watch.peaks and watch.others else "—"
    same = "—" if shards is None else "yes" if compare(*shards) else "NO"
    print(f"{label} {engine} | {wall:.1f} | {rate:,.0f} | {ratio:.2f} | {cpu} | {rss} | {own} | {same} |", flush=True)
    if by_process:
        print(watch.busiest(f"{label} {engine}"), flush=True)
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--backends", nargs="+", default=["pt", "onnx"])
    ap.add_argument("--corun", action="store_true", help="also two plain processes at once, half the lines each")
    ap.add_argument("--rounds", type=int, default=1, help="plain and Ray rows this many times, alternated")
    ap.add_argument("--by-process", action="store_true", help="list each row's busiest processes and their CPU s")
    ap.add_argument("--reference", help="also each Ray row with this commit's code, right after this checkout's")
    ap.add_argument("--parquet", action="store_true", help="Ray reads the lines from a parquet file")
    args = ap.parse_args()
    ref = worktree(args.reference) if args.reference else None
    args.ckpt = args.ckpt.resolve()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ray_predict.") as tmp:
        tmp = Path(tmp)
        source = tmp / "lines.txt"
        generate(source, args.lines)
        ray_source = source
        if args.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            ray_source = tmp / "lines.parquet"
            pq.write_table(pa.table({"text": source.read_text(encoding="utf-8").splitlines()}), ray_source)
        read = " (Ray: from a parquet file)" if args.parquet else ""
        print(f"{args.lines:,} lines{read}; load before: {load:.2f}; {os.cpu_count()} CPUs", flush=True)
        print(
            "| model | round | engine | wall s | sentences/s | ratio to plain | CPU s: actors / predict / Ray's own "
            "| peak RSS per actor MB | largest peak RSS of Ray's own MB | same records |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for backend, round_ in itertools.product(args.backends, range(1, args.rounds + 1)):
            ckpt = args.ckpt if backend == "pt" else args.ckpt.with_suffix(".onnx")
            plain_out = tmp / f"plain-{backend}.jsonl"
            base = [
                sys.executable,
                str(ROOT / "predict.py"),
                f"ckpt={ckpt}",
                f"input={source}",
                "threads=1",
                "workers=1",  # one chunk at a time: the one-thread process the issue compares with
                "batch_size=512",
            ]

            label = f"| {backend} | {round_} |"
            plain = [[*base, "format=jsonl", f"output={plain_out}"]]
            plain_rate = row(args.lines, label, "plain, 1 thread", plain, by_process=args.by_process)
            if args.corun:
                parts = [
                    [*base[:3], f"input={half}", *base[4:], "format=jsonl", f"output={half}.out"]
                    for half in halves(source)
                ]
                row(args.lines, label, "2 plain processes at once, half each", parts, plain_rate, None, args.by_process)
            for n, tree in itertools.product(args.actors, [ROOT, ref] if ref else [ROOT]):
                out = tmp / f"ray-{backend}-{n}-{round_}-{tree.name}"
                code = f" ({tree.name})" if tree != ROOT else ""
                cmd = [
                    base[0],
                    str(tree / "predict.py"),
                    base[2],
                    f"input={ray_source}",
                    *base[4:],
                    "engine=ray",
                    f"output={out}",
                    f"ray.concurrency={n}",
                ]
                row(
                    args.lines,
                    label,
                    f"ray, {n} actor{'s' if n > 1 else ''} × 1 thread{code}",
                    [cmd],
                    plain_rate,
                    (out, plain_out),
                    args.by_process,
                    checkout_env(tree) if tree != ROOT else ENV,
                )
        print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
