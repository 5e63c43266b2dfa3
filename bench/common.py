"""Helpers shared by the benchmarks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def train_command(out: Path, overrides: list[str], threads: int) -> list[str]:
    """``train.py`` with the given overrides, writing to ``out``, without a progress bar."""
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        *overrides,
        f"threads={threads}",
        "trainer.enable_progress_bar=false",
        f"hydra.run.dir={out}",
    ]
    print("$", " ".join(cmd[1:]), flush=True)
    return cmd
