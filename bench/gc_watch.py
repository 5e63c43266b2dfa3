"""The garbage collector's work in one run of a script: collections and seconds per generation.

    python bench/gc_watch.py predict.py ckpt=bench/runs/accuracy/atis-default-seed1/model.pt "flights to boston"
    python bench/gc_watch.py train.py trainer.max_epochs=2 threads=1 hydra.run.dir=/tmp/gc overwrite=true

Runs the script in this process (``runpy``) with a ``gc.callbacks`` hook; each full (generation
2) collection is printed as it ends (when, how long, how many tracked objects it walked), and at
exit the totals, the objects the collector still tracks and those frozen out of its walk
(``slotfill.core.collector``). The full collection Python makes as it shuts down comes after
the totals, on its own line. Not a test: run it by hand.
"""

from __future__ import annotations

import atexit
import gc
import runpy
import sys
import time
from pathlib import Path

START = time.perf_counter()
counts, seconds = [0, 0, 0], [0.0, 0.0, 0.0]
began = [0.0]


def watch(phase: str, info: dict) -> None:
    if phase == "start":
        began[0] = time.perf_counter()
        return
    generation, took = info["generation"], time.perf_counter() - began[0]
    counts[generation] += 1
    seconds[generation] += took
    if generation == 2:
        at = time.perf_counter() - START
        print(
            f"gc: full collection at {at:.1f} s: {took * 1000:.0f} ms, {len(gc.get_objects()):,} tracked",
            file=sys.stderr,
        )


def report() -> None:
    spent = [round(s, 2) for s in seconds]
    print(
        f"gc: collections by generation {counts}, seconds {spent}, in {time.perf_counter() - START:.1f} s;"
        f" tracked at exit {len(gc.get_objects()):,}, frozen {gc.get_freeze_count():,}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    gc.callbacks.append(watch)
    atexit.register(report)
    script, sys.argv = sys.argv[1], sys.argv[1:]
    sys.path.insert(0, str(Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")
