"""A Hydra callback: ``summary.csv`` (and ``summary.md``) in the sweep folder at the end of every ``-m`` run."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from slotfill.core.files import write_atomic
from slotfill.evaluation.compare import compare, to_csv, to_markdown

log = logging.getLogger(__name__)


def run_folders(sweep_dir: Path) -> list[Path]:
    """The sweep's job folders that hold a finished run, in job order (0, 1, 2, ..., 10)."""
    found = [d for d in sweep_dir.iterdir() if d.is_dir() and (d / "metrics.json").is_file()]
    return sorted(found, key=lambda d: (0, int(d.name)) if d.name.isdigit() else (1, d.name))


def write_summary(sweep_dir: str | Path) -> Path | None:
    """Write ``summary.csv`` and ``summary.md`` for the runs under ``sweep_dir``; None when there are none."""
    sweep_dir = Path(sweep_dir)
    runs = run_folders(sweep_dir) if sweep_dir.is_dir() else []
    if not runs:
        return None
    columns, rows = compare(runs)
    write_atomic(sweep_dir / "summary.md", to_markdown(columns, rows))
    return write_atomic(sweep_dir / "summary.csv", to_csv(columns, rows))


class SweepSummary(Callback):
    """Configured in ``conf/train.yaml`` under ``hydra.callbacks``; does nothing for single runs."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        path = write_summary(sweep_dir)
        if path is not None:
            log.info("sweep summary: %s\n%s", path, (sweep_dir / "summary.md").read_text().rstrip())
