"""How steady this machine is: a fixed matrix product, one thread, counted second by second.

    python bench/machine_swing.py --seconds 60

On a shared VM the same work can run at very different speeds from one moment to the next; when
it does, timings of runs made one after the other compare machines, not code (``bench/train_cost.py
--together`` runs its variants at the same time instead). Prints the products done in each second,
their range and the ratio of the fastest second to the slowest.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--size", type=int, default=256, help="the square matrices' side")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    a = torch.randn(args.size, args.size)
    counts = []
    load = os.getloadavg()[0]
    for _ in range(args.seconds):
        began, n = time.perf_counter(), 0
        while time.perf_counter() - began < 1.0:
            for _ in range(10):
                a @ a
            n += 10
        counts.append(n)
    print("products per second:", " ".join(map(str, counts)))
    print(
        f"range {min(counts)}-{max(counts)}, fastest / slowest second {max(counts) / min(counts):.2f}; "
        f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after"
    )


if __name__ == "__main__":
    main()
