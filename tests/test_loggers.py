"""loggers.py: one metrics.csv row per epoch."""

import csv

from slotfill.training.loggers import EpochCSVLogger, merge_rows, rows_to_csv


def test_rows_of_one_epoch_merge_and_a_repeated_key_starts_a_row():
    rows: list[dict] = []
    merge_rows(rows, {"epoch": 0, "step": 7, "val/f1": 80.0})
    merge_rows(rows, {"epoch": 0, "step": 7, "train/loss": 1.5})
    merge_rows(rows, {"epoch": 1, "step": 15, "val/f1": 85.0})
    merge_rows(rows, {"epoch": 1, "step": 15, "val/f1": 86.0})  # the same key again: a new row
    assert rows[0] == {"epoch": 0, "step": 7, "val/f1": 80.0, "train/loss": 1.5}
    assert len(rows) == 3
    text = rows_to_csv(rows)
    assert text.splitlines()[0] == "epoch,step,train/loss,val/f1"


def test_logger_writes_one_row_per_epoch(tmp_path):
    logger = EpochCSVLogger(tmp_path, name="logs", version="")
    for epoch in range(3):
        logger.log_metrics({"val/f1": 50.0 + epoch, "epoch": epoch}, step=epoch)
        logger.log_metrics({"train/loss": 1.0 / (epoch + 1), "epoch": epoch}, step=epoch)
        logger.save()
    rows = list(csv.DictReader(open(tmp_path / "logs" / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert rows[2]["val/f1"] == "52.0" and float(rows[2]["train/loss"]) == 1 / 3
