"""``predict.py`` one sentence from a cold start, for several model files, alternated.

    python bench/cold_start.py --ckpt outputs/DATE/TIME/model.pt --resave --rounds 5

Each round starts one fresh ``predict.py ckpt=FILE "SENTENCE"`` process per file, in turn, and
times it from start to exit (``bench/speed.py``'s measurement); prints each file's median and
range with the machine's load. ``--resave`` adds a copy of the first file written by this
checkout's ``SlotModel.save`` (the current file format, same weights and fingerprint): the
same code reading the old and the new layout of one model. ``--reference COMMIT`` adds, for each
file, the same run from a worktree of that commit (``bench/runs/ref-COMMIT``), in turn: this
checkout's start against an older one's on the same file. Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from common import ROOT, worktree
from speed import cold_start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", type=Path, nargs="+", required=True)
    ap.add_argument("--resave", action="store_true", help="also the first file re-saved in the current format")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reference", help="also each file with predict.py of this commit (a worktree)")
    args = ap.parse_args()
    sides = [("", ROOT)]
    if args.reference:
        sides.append((f" @{args.reference}", worktree(args.reference)))
    with tempfile.TemporaryDirectory(prefix="cold_start.") as tmp:
        files = [p.resolve() for p in args.ckpt]
        if args.resave:
            from slotfill.models.slot_model import SlotModel

            model = SlotModel.load(files[0])
            files.append(model.save(Path(tmp) / "resaved.pt"))
            assert SlotModel.load(files[-1]).fingerprint() == model.fingerprint()
        load = os.getloadavg()[0]
        times: dict[tuple[Path, str], list[float]] = {(f, side): [] for f in files for side, _ in sides}
        rss: dict[tuple[Path, str], int] = {}
        for _ in range(args.rounds):
            for f in files:
                for side, tree in sides:
                    result = cold_start(str(f), 1, tree)
                    times[f, side].append(result["predict_cold_start_s"])
                    rss[f, side] = max(rss.get((f, side), 0), result["predict_peak_rss_mb"])
        print(f"load before: {load:.2f}, after: {os.getloadavg()[0]:.2f}; {args.rounds} rounds, alternated")
        print("| model file | size MB | median s | range s | peak RSS MB |")
        print("|---|---:|---:|---:|---:|")
        for (f, side), ts in times.items():
            name = "re-saved in the current format" if args.resave and f == files[-1] else str(f)
            print(
                f"| {name}{side} | {f.stat().st_size / 2**20:.1f} | {statistics.median(ts):.2f} | "
                f"{min(ts):.2f}–{max(ts):.2f} | {rss[f, side]} |"
            )


if __name__ == "__main__":
    main()
