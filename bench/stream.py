"""Streaming benchmark: ``predict.py format=jsonl input=FILE`` on 1,000,000 generated ATIS-style lines.

Measures what a pipeline sees: peak resident memory of the predict process, time from its
start to the first output line, sentences per second end to end, and that every line comes
out once, in input order. Not a test: run it by hand.

    python bench/stream.py --ckpt outputs/.../model.pt            # 1,000,000 lines, the default policy
    python bench/stream.py --train-sample --lines 100000 --threads 1
    python bench/stream.py --ckpt .../model.onnx --lines 200000 --workers 1 auto --rounds 2

``--workers`` (and ``--threads``, ``--inputs``) take several values: each round runs one
``predict.py`` per value, in turn, so the settings are compared on the same minutes of this VM.
``--inputs text parquet``: the same lines from a text file and from a parquet file's ``text``
column (pyarrow's default row groups), read as ``predict input=`` reads each. ``--busy N`` runs
N CPU-bound competitor processes beside every run (a busy machine).

The lines come from the sample's templates (``data/make_sample.py``) with the slot values
drawn at random, never from a benchmark's valid or test split. ``--train-sample`` first
trains the default architecture on the bundled sample (a model of the ATIS default's size).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from common import ENV, ROOT, busy, train_command

sys.path.insert(0, str(ROOT / "data"))
from make_sample import TEMPLATES, realise  # noqa: E402

RUNS = ROOT / "bench" / "runs" / "stream"
_PROBE = (
    "import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
    "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)"
)


def generate(path: Path, n: int, seed: int = 0) -> None:
    """``n`` sentences from the sample's templates, one a line, numbered so order can be checked."""
    rng = random.Random(seed)
    partial = path.with_name(path.name + ".partial")  # renamed once whole: an interrupted one is never reused
    with partial.open("w") as f:
        for i in range(n):
            template, _ = TEMPLATES[rng.randrange(len(TEMPLATES))]
            tokens, _ = realise(template, rng)
            f.write(f"{' '.join(tokens)} please {i}\n")
    partial.replace(path)


def train_sample(out: Path, threads: int) -> Path:
    overrides = ["data=sample", "data.path=data/sample", "trainer.max_epochs=20", "overwrite=true"]
    subprocess.run(train_command(out, overrides, threads), cwd=ROOT, env=ENV, check=True, stdout=subprocess.DEVNULL)
    return out / "model.pt"


def run(ckpt: Path, lines: Path, out: Path, threads: str, batch_size: int, workers: str = "auto") -> dict:
    """Run predict.py with stdout into ``out``; watch for the first line; the child's peak RSS."""
    cmd = [sys.executable, str(ROOT / "predict.py"), f"ckpt={ckpt}", f"input={lines}", "format=jsonl"]
    cmd += [f"threads={threads}", f"workers={workers}", f"batch_size={batch_size}"]
    print("$", " ".join(cmd[1:]), ">", out, flush=True)
    start = time.perf_counter()
    with out.open("w") as sink:
        # a parent of predict.py alone reports its peak RSS (this process may have trained a model)
        probe = [sys.executable, "-c", _PROBE, *cmd]
        proc = subprocess.Popen(probe, cwd=ROOT, env=ENV, stdout=sink, stderr=subprocess.PIPE, text=True)
        first = None
        while proc.poll() is None:
            if first is None and out.stat().st_size > 0:
                first = time.perf_counter() - start
            time.sleep(0.01)
        seconds = time.perf_counter() - start
    err = proc.stderr.read()
    if proc.returncode != 0:
        raise SystemExit(f"predict.py failed ({proc.returncode}): {err[-2000:]}")
    peak_kb = int(err.strip().splitlines()[-1].split()[-1])
    return {"seconds": seconds, "first_line_s": first, "peak_rss_mb": peak_kb / 1024}


def check_order(lines: Path, out: Path) -> int:
    """Every input line once, in order (``text`` of each output line); the number of lines."""
    n = 0
    with lines.open() as a, out.open() as b:
        for n, (src, res) in enumerate(zip(a, b, strict=True), 1):
            if json.loads(res)["text"] != src.rstrip("\n"):
                raise SystemExit(f"line {n}: output out of order")
    return n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", type=Path, help="model to tag with (default: --train-sample's)")
    p.add_argument("--train-sample", action="store_true", help="train the default architecture on the sample first")
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--threads", nargs="+", default=["auto"], help="intra-op threads (auto: the default policy)")
    p.add_argument("--workers", nargs="+", default=["auto"], help="chunks tagged at once (auto: the default)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--busy", type=int, default=0, help="CPU-bound competitor processes during every run")
    p.add_argument("--inputs", nargs="+", default=["text"], choices=("text", "parquet"), help="input file kinds")
    args = p.parse_args()
    RUNS.mkdir(parents=True, exist_ok=True)
    ckpt = args.ckpt
    if args.train_sample or ckpt is None:
        ckpt = train_sample(RUNS / "model", 1)
    lines = RUNS / f"lines_{args.lines}.txt"
    if not lines.exists():
        generate(lines, args.lines)
    sources = {"text": lines}
    if "parquet" in args.inputs:
        import pyarrow as pa
        import pyarrow.parquet as pq

        sources["parquet"] = lines.with_suffix(".parquet")
        if not sources["parquet"].exists():  # whole or absent, as the text file
            partial = sources["parquet"].with_name(sources["parquet"].name + ".partial")
            pq.write_table(pa.table({"text": lines.read_text().splitlines()}), partial)
            partial.replace(sources["parquet"])
    for round_ in range(1, args.rounds + 1):
        for kind, threads, workers in itertools.product(args.inputs, args.threads, args.workers):
            out = RUNS / f"out_{args.lines}_{threads}_{workers}.jsonl"
            load = os.getloadavg()[0]
            with busy(args.busy):
                result = run(ckpt, sources[kind], out, threads, args.batch_size, workers)
            n = check_order(lines, out)
            result.update(
                lines=n,
                sentences_per_s=round(n / result["seconds"], 1),
                threads=threads,
                workers=workers,
                round=round_,
                input=kind,
                busy=args.busy,
                batch_size=args.batch_size,
                load_average_1min_before=round(load, 2),
                cpus=os.cpu_count(),
                model=str(ckpt),
            )
            result = {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
            print(json.dumps(result), flush=True)
            setting = f"{args.lines}_{kind}_{threads}_{workers}_busy{args.busy}_{round_}"
            model = hashlib.sha256(Path(ckpt).read_bytes()).hexdigest()[:8]  # two models never share a name
            name = f"result_{Path(ckpt).suffix[1:]}_{model}_{setting}.json"
            (RUNS / name).write_text(json.dumps(result, indent=2) + "\n")
            out.unlink()


if __name__ == "__main__":
    main()
