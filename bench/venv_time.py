"""`make venv` from scratch: this checkout's Makefile against an older commit's, in turn.

    python bench/venv_time.py --reference cc6fc58 --rounds 2

Each round clones the repository twice into a temporary folder (this checkout's HEAD and the
reference) and times ``make venv`` in each, alternating which goes first, with an empty uv cache
(what a fresh machine has). Prints each time with the load before it, and the medians. Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT


def make_venv(commit: str) -> float:
    """Seconds ``make venv`` takes in a fresh clone of ``commit``."""
    with tempfile.TemporaryDirectory(prefix="venv_time.") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "checkout", "-q", commit], cwd=clone, check=True)
        env = {**os.environ, "UV_CACHE_DIR": str(Path(tmp) / "uv-cache")}
        start = time.monotonic()
        proc = subprocess.run(["make", "venv"], cwd=clone, env=env, capture_output=True, text=True)
        took = time.monotonic() - start
        if proc.returncode != 0:
            raise SystemExit(f"make venv at {commit} failed: {proc.stderr[-2000:]}")
        return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", required=True, help="the commit whose Makefile to time beside this one")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    sides = {"this checkout": head.stdout.strip(), f"@{args.reference}": args.reference}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for name in order:
            load = os.getloadavg()[0]
            times[name].append(make_venv(sides[name]))
            print(f"round {r + 1}: {name}: {times[name][-1]:.0f} s (load before {load:.2f})", flush=True)
    print(f"load after {os.getloadavg()[0]:.2f}")
    for name, each in times.items():
        print(f"{name}: median {statistics.median(each):.0f} s")
    mine, theirs = (statistics.median(t) for t in times.values())
    print(f"ratio: {mine / theirs:.2f}× the reference's time")


if __name__ == "__main__":
    main()
