"""Threads on a quiet and on a busy machine: the evidence behind ``threads=auto`` (one thread).

    python bench/threads.py --epochs 2 --rounds 3 --busy 0 1 4

For each number of busy competitors (CPU-bound processes that spin for the length of the run)
and each thread count, one short ``train.py`` run on ATIS; rounds alternate the thread counts so
both meet the same load. The table gives the median fit time per epoch. A thread policy that
never collapses slows down in proportion to the competitors (1 busy process on 2 cores: about
1.5×), where two OpenMP threads that wait for each other slow down many times over.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
from common import ENV, ROOT


def epoch_seconds(threads: int, epochs: int, data: list[str]) -> float:
    """The fit's wall seconds per epoch of one short training run with ``threads`` threads."""
    with tempfile.TemporaryDirectory(prefix="threads.") as out:
        cmd = [
            sys.executable,
            str(ROOT / "train.py"),
            *data,
            f"trainer.max_epochs={epochs}",
            "callbacks.early_stopping.patience=100",
            "test_after_fit=false",
            "plots=false",
            f"threads={threads}",
            "trainer.enable_progress_bar=false",
            f"hydra.run.dir={out}",
        ]
        subprocess.run(cmd, cwd=ROOT, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.loads((Path(out) / "metrics.json").read_text())["train_time_s"] / epochs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--busy", type=int, nargs="+", default=[0, 1, 4], help="competitor processes per row")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--data", default="atis", choices=("atis", "snips"))
    args = p.parse_args()
    data = [] if args.data == "atis" else [f"data={args.data}"]
    rows = []
    for busy in args.busy:
        with common.busy(busy):
            seconds: dict[int, list[float]] = {t: [] for t in args.threads}
            for r in range(args.rounds):
                for t in args.threads:
                    start = time.perf_counter()
                    seconds[t].append(epoch_seconds(t, args.epochs, data))
                    print(f"busy {busy}, round {r + 1}, threads {t}: {seconds[t][-1]:.1f} s/epoch "
                          f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
        rows.append((busy, {t: statistics.median(v) for t, v in seconds.items()}))
    print(f"\nCommand: `python bench/threads.py {' '.join(sys.argv[1:])}`\n")
    print("| busy processes | " + " | ".join(f"threads={t} s/epoch" for t in args.threads) + " |")
    print("|---:|" + "---:|" * len(args.threads))
    for busy, med in rows:
        print(f"| {busy} | " + " | ".join(f"{med[t]:.1f}" for t in args.threads) + " |")


if __name__ == "__main__":
    main()
