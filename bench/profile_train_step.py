"""Where a training step goes: the torch profiler over training steps of the default model.

    python bench/profile_train_step.py --steps 35
    python bench/profile_train_step.py --steps 35 --precision fp32

The default ATIS config (``conf/train.yaml``; ``train.precision`` as ``--precision`` gives, default
``auto``), one thread, its optimiser (fused Adam); 5 warm-up steps, then ``--steps``
profiled ones (forward, loss, backward, optimiser step; no Lightning loop around them); prints
the operators with the most own CPU time, then the CPU time of one whole epoch of batches (the data
path alone: mention swap, re-encoding, padding). Not a test.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import ROOT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=35)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="train.precision")
    args = ap.parse_args()
    import sys

    import torch
    from torch.profiler import ProfilerActivity, profile

    sys.path.insert(0, str(ROOT))
    from slotfill.training.fit import build
    from tests.helpers import compose_config

    torch.set_num_threads(1)
    overrides = ["threads=1", f"train.precision={args.precision}"]
    datamodule, module, _ = build(compose_config(overrides, Path(tempfile.mkdtemp(prefix="profile_step."))))
    batches = iter(datamodule.train_dataloader())
    optimizer = module.optimizer_factory(module.parameters())  # the config's, as training builds it
    module.train()

    def step() -> None:
        loss = module.training_step(next(batches), 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(5):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
    import time

    loader = datamodule.train_dataloader()
    start = time.process_time()
    n = sum(1 for _ in loader)
    print(f"one epoch of batches (the data path alone): {time.process_time() - start:.2f} s CPU, {n} batches")


if __name__ == "__main__":
    main()
