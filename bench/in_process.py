"""What a command called from Python leaves behind: run it N times in one process, as a notebook does.

    python bench/in_process.py --runs 4 train trainer.max_epochs=1 threads=1
    python bench/in_process.py --sweep train -m seed=1,2,3,4,5 trainer.max_epochs=1 threads=1

Each run is ``slotfill.cli.main.main(ARGS)`` (``hydra.run.dir`` a new temporary folder for train);
after it, a full collection, then the objects frozen out of the collector's walk, those it still
tracks and the resident memory. A command that kept its objects frozen grows every row. From a
worktree of an older commit (``cd WORKTREE && python /path/to/bench/in_process.py ...``) it runs
that commit's code. Not a test: run it by hand.

``--sweep`` runs the command once (a sweep, ``-m``) and looks in at each job's start instead: the
objects the collector tracks (after giving the frozen ones back and collecting) and the types that
grew most since the last job, the resident memory, and what it is once glibc has been asked to
return freed memory to the system (``malloc_trim``; the next jobs then start from there).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import gc
import os
import resource
import sys
import tempfile
from pathlib import Path


def resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def look_in_at_each_job() -> None:
    """Wrap ``collector.job_started`` so that each job of a sweep first prints what the process holds."""
    from slotfill.core import collector

    started, last = collector.job_started, collections.Counter()

    def probe() -> None:
        nonlocal last
        gc.unfreeze()
        gc.collect()
        counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
        grew = ", ".join(f"{k} +{v:,}" for k, v in (counts - last).most_common(5))
        before = resident_mb()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        print(
            f"job start: tracked {sum(counts.values()):,} (grew most: {grew}), resident {before:.0f} MB,"
            f" {resident_mb():.0f} MB after malloc_trim",
            flush=True,
        )
        last = counts
        started()

    collector.job_started = probe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--sweep", action="store_true", help="run a sweep once; look in at each job's start")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="a slotfill command and its arguments")
    args = ap.parse_args()
    if not args.command:
        ap.error("give a command, e.g. train trainer.max_epochs=1")
    sys.path.insert(0, os.getcwd())  # this checkout's slotfill (or a worktree's)
    from slotfill.cli.main import main as slotfill

    if args.sweep:
        look_in_at_each_job()
        code = slotfill([*args.command, f"hydra.sweep.dir={tempfile.mkdtemp(prefix='in-process-')}"])
        print(f"exit {code}, peak resident {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6:.0f} MB")
        return
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
