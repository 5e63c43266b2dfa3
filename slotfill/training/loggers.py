"""A CSV logger with one row per epoch: training and validation metrics of an epoch merged."""

from __future__ import annotations

import csv
import io

from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter

from slotfill.core.files import write_atomic

FIRST_COLUMNS = ("epoch", "step")


def merge_rows(rows: list[dict], metrics: dict) -> None:
    """Add ``metrics`` to the last row when it is the same epoch and no key repeats; else start a row."""
    last = rows[-1] if rows else None
    repeats = (set(metrics) - set(FIRST_COLUMNS)) & set(last or {})
    if last is not None and last.get("epoch") == metrics.get("epoch") and not repeats:
        last.update(metrics)
    else:
        rows.append(dict(metrics))


def rows_to_csv(rows: list[dict]) -> str:
    keys = sorted({k for r in rows for k in r} - set(FIRST_COLUMNS))
    columns = [k for k in FIRST_COLUMNS if any(k in r for r in rows)] + keys
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


class _EpochWriter(ExperimentWriter):
    """Keeps every row and rewrites ``metrics.csv`` whole (atomically) on each save: epochs are few."""

    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        self.rows: list[dict] = []

    def log_metrics(self, metrics_dict: dict, step: int | None = None) -> None:
        metrics = {k: v.item() if hasattr(v, "item") else v for k, v in metrics_dict.items()}
        metrics["step"] = step if step is not None else len(self.rows)
        merge_rows(self.rows, metrics)

    def save(self) -> None:
        if self.rows:
            write_atomic(self.metrics_file_path, rows_to_csv(self.rows))


class EpochCSVLogger(CSVLogger):
    """``logs/metrics.csv`` with one row per epoch (Lightning's CSVLogger writes one per ``log`` call).

    Metrics logged per step would each start a row; slotfill logs its training metrics per epoch.
    """

    @property
    @rank_zero_experiment
    def experiment(self) -> _EpochWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _EpochWriter(log_dir=self.log_dir)
        return self._experiment
