"""What a command called from Python leaves behind: run it N times in one process, as a notebook does.

    python bench/in_process.py --runs 4 train trainer.max_epochs=1 threads=1

Each run is ``slotfill.cli.main.main(ARGS)`` (``hydra.run.dir`` a new temporary folder for train);
after it, a full collection, then the objects frozen out of the collector's walk, those it still
tracks and the resident memory. A command that kept its objects frozen grows every row. From a
worktree of an older commit (``cd WORKTREE && python /path/to/bench/in_process.py ...``) it runs
that commit's code. Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
from pathlib import Path


def resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("command", nargs=argparse.REMAINDER, help="a slotfill command and its arguments")
    args = ap.parse_args()
    if not args.command:
        ap.error("give a command, e.g. train trainer.max_epochs=1")
    sys.path.insert(0, os.getcwd())  # this checkout's slotfill (or a worktree's)
    from slotfill.cli.main import main as slotfill

    for run in range(1, args.runs + 1):
        extra = [f"hydra.run.dir={tempfile.mkdtemp(prefix='in-process-')}"] if args.command[0] == "train" else []
        code = slotfill([*args.command, *extra])
        gc.collect()
        print(
            f"{Path.cwd().name} run {run}: exit {code}, frozen {gc.get_freeze_count():,},"
            f" tracked {len(gc.get_objects()):,}, resident {resident_mb():.0f} MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
