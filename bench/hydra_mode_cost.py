"""What Hydra's ``get_mode`` costs a cold ``predict``: the whole config composed once more only to
read ``hydra.mode`` (``slotfill.cli.commands`` now skips it for a single run).

    python bench/hydra_mode_cost.py --ckpt bench/runs/raydiag/model.pt --runs 5

Each run is a fresh process running ``slotfill predict ckpt=... "flights to boston"`` with the
skip turned off and ``Hydra.get_mode`` timed; prints each run's milliseconds, their median and the
machine's load. Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

from common import ENV, ROOT

CHILD = """
import sys, time
from hydra._internal.hydra import Hydra
import slotfill.cli.commands as commands
real, took = Hydra.get_mode, []
def timed(self, *args, **kwargs):
    start = time.perf_counter()
    try:
        return real(self, *args, **kwargs)
    finally:
        took.append(time.perf_counter() - start)
Hydra.get_mode = timed
commands.one_run = lambda name, argv: False  # Hydra's own get_mode, as before the skip
from slotfill.cli.main import main
sys.argv = ["slotfill", "predict", f"ckpt={sys.argv[1]}", "flights to boston"]
code = main()
print("get_mode_ms", round(took[0] * 1000, 1), file=sys.stderr)
sys.exit(code)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f}")
    ms = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, args.ckpt], cwd=ROOT, env=ENV, capture_output=True, text=True, check=True
        )
        ms.append(float(out.stderr.strip().splitlines()[-1].split()[-1]))
    print(f"get_mode: {', '.join(f'{m:.0f}' for m in ms)} ms; median {statistics.median(ms):.0f} ms")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
