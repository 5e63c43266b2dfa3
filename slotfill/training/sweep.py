"""A Hydra callback: ``summary.csv`` (and ``summary.md``) in the sweep folder at the end of every ``-m`` run."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from slotfill.core.files import write_atomic
from slotfill.evaluation.compare import compare, to_csv, to_markdown

log = logging.getLogger(__name__)

# a job of an earlier sweep into the same folder ended before that sweep's process did, and a new
# `slotfill train -m` takes longer than this to start: a margin for file times a coarse clock stamps
CLOCK_MARGIN_S = 1.0


def run_folders(sweep_dir: Path, jobs: Collection[Path] | None = None, since: float | None = None) -> list[Path]:
    """The sweep's job folders that hold a finished run, in job order (0, 1, 2, ..., 10).

    ``jobs``: only these folders (the ones this sweep ran); ``since``: only folders whose job Hydra
    started (its ``.hydra/config.yaml`` written) at or after this time. Neither: every one.
    """
    found = [d for d in sweep_dir.iterdir() if d.is_dir() and (d / "metrics.json").is_file()]
    if jobs is not None:
        ours = {Path(j).resolve() for j in jobs}
        found = [d for d in found if d.resolve() in ours]
    if since is not None:
        found = [d for d in found if _started(d) >= since - CLOCK_MARGIN_S]
    return sorted(found, key=lambda d: (0, int(d.name)) if d.name.isdigit() else (1, d.name))


def _started(job_dir: Path) -> float:
    hydra_cfg = job_dir / ".hydra" / "config.yaml"
    return (hydra_cfg if hydra_cfg.is_file() else job_dir / "metrics.json").stat().st_mtime


def write_summary(
    sweep_dir: str | Path, jobs: Collection[Path] | None = None, since: float | None = None
) -> Path | None:
    """Write ``summary.csv`` and ``summary.md`` for the runs under ``sweep_dir`` (``jobs`` and ``since``
    as for :func:`run_folders`); None when there are none."""
    sweep_dir = Path(sweep_dir)
    runs = run_folders(sweep_dir, jobs, since) if sweep_dir.is_dir() else []
    if not runs:
        return None
    columns, rows = compare(runs)
    write_atomic(sweep_dir / "summary.md", to_markdown(columns, rows))
    return write_atomic(sweep_dir / "summary.csv", to_csv(columns, rows))


class SweepSummary(Callback):
    """Configured in ``conf/train.yaml`` under ``hydra.callbacks``; does nothing for single runs.

    The summary lists this sweep's jobs only: a smaller sweep run again into the same folder leaves
    the earlier sweep's extra jobs there. The jobs are the folders Hydra reported running
    (:meth:`on_job_end`): exact, whatever ``hydra.sweep.subdir`` names them, and the job numbers of
    the folders alone cannot tell two sweeps apart. A launcher that runs the jobs in other processes
    reports them there, not here: then the jobs Hydra started after this sweep began.
    """

    def __init__(self) -> None:
        self.started: float | None = None
        self.jobs: list[Path] = []

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self.started, self.jobs = time.time(), []

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        self.jobs.append(Path(str(config.hydra.runtime.output_dir)))
        # after every job, not only at the sweep's end: a sweep that stops (a failed job, Ctrl-C, a
        # killed process) keeps the summary of the jobs it finished
        sweep_dir = OmegaConf.select(config, "hydra.sweep.dir")
        if sweep_dir is None:
            return
        # a launcher running jobs in other processes has this job alone in its copy: then the jobs since the start
        jobs, since = (self.jobs, None) if len(self.jobs) > 1 or self.started is None else (None, self.started)
        try:  # Hydra calls this outside the job: an error here would end the sweep's other jobs
            write_summary(Path(str(sweep_dir)), jobs=jobs, since=since)
        except Exception as e:
            log.warning("sweep summary not written after this job (%s); it is written again after the next", e)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if self.jobs:
            path = write_summary(sweep_dir, jobs=self.jobs)
        else:
            path = write_summary(sweep_dir, since=self.started)
        if path is not None:
            log.info("sweep summary: %s\n%s", path, (sweep_dir / "summary.md").read_text().rstrip())
