"""``predict engine=ray`` against one ``predict`` process, on generated ATIS-style lines.

    python bench/ray_predict.py --ckpt bench/runs/accuracy/atis-default-seed1/model.pt --lines 1000000

For each backend (``model.pt`` and the ``model.onnx`` beside it), in turn: one plain
``predict.py format=jsonl threads=1`` process, then ``engine=ray`` with 1 and 2 actors of one
thread each; wall time from start to exit (Ray's start included), sentences per second, the
peak resident memory of each actor (sampled every 0.2 s), and whether the records equal the
plain process's. With ``--corun``, a row of two plain processes started together, each on half
the lines: what two processes of this tagger get out of this machine's cores with no engine at
all, the yardstick for any two-worker engine here. The lines come from ``bench/stream.py``'s
generator (the sample's templates), never from a benchmark split. Not a test: run it by hand.
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
from common import ENV, ROOT
from stream import generate


def peak_actor_rss(stop: threading.Event, peaks: dict) -> None:
    """Highest RSS seen per Ray actor process (``ray::MapWorker...``), in MB."""
    while not stop.is_set():
        for p in psutil.process_iter(["pid", "cmdline", "memory_info"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if "MapWorker" in cmd and "Tagging" in cmd and p.info["memory_info"]:
                mb = p.info["memory_info"].rss / 2**20
                peaks[p.info["pid"]] = max(peaks.get(p.info["pid"], 0.0), mb)
        stop.wait(0.2)


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


def timed(*cmds: list[str]) -> float:
    """Wall seconds from starting the commands (together) until the last one ends."""
    start = time.monotonic()
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for cmd in cmds
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--backends", nargs="+", default=["pt", "onnx"])
    ap.add_argument("--corun", action="store_true", help="also two plain processes at once, half the lines each")
    args = ap.parse_args()
    args.ckpt = args.ckpt.resolve()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ray_predict.") as tmp:
        tmp = Path(tmp)
        source = tmp / "lines.txt"
        generate(source, args.lines)
        print(f"{args.lines:,} lines; load before: {load:.2f}; {os.cpu_count()} CPUs", flush=True)
        print("| model | engine | wall s | sentences/s | ratio to plain | peak RSS per actor MB | same records |")
        print("|---|---|---|---|---|---|---|")
        for backend in args.backends:
            ckpt = args.ckpt if backend == "pt" else args.ckpt.with_suffix(".onnx")
            plain_out = tmp / f"plain-{backend}.jsonl"
            base = [
                sys.executable,
                str(ROOT / "predict.py"),
                f"ckpt={ckpt}",
                f"input={source}",
                "threads=1",
                "batch_size=512",
            ]
            wall = timed([*base, "format=jsonl", f"output={plain_out}"])
            plain_rate = args.lines / wall
            print(f"| {backend} | plain, 1 thread | {wall:.1f} | {plain_rate:,.0f} | 1.00 | — | — |", flush=True)
            if args.corun:
                parts = [
                    [*base[:3], f"input={half}", *base[4:], "format=jsonl", f"output={half}.out"]
                    for half in halves(source)
                ]
                wall = timed(*parts)
                rate = args.lines / wall
                print(
                    f"| {backend} | 2 plain processes at once, half each | {wall:.1f} | {rate:,.0f} | "
                    f"{rate / plain_rate:.2f} | — | — |",
                    flush=True,
                )
            for n in args.actors:
                out = tmp / f"ray-{backend}-{n}"
                peaks: dict = {}
                stop = threading.Event()
                watcher = threading.Thread(target=peak_actor_rss, args=(stop, peaks), daemon=True)
                watcher.start()
                wall = timed([*base, "engine=ray", f"output={out}", f"ray.concurrency={n}"])
                stop.set()
                watcher.join()
                same = compare(out, plain_out)
                rss = ", ".join(f"{v:.0f}" for v in sorted(peaks.values())) or "?"
                rate = args.lines / wall
                print(
                    f"| {backend} | ray, {n} actor{'s' if n > 1 else ''} × 1 thread | {wall:.1f} | {rate:,.0f} | "
                    f"{rate / plain_rate:.2f} | {rss} | {'yes' if same else 'NO'} |",
                    flush=True,
                )
        print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
