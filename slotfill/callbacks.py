"""Lightning callbacks and plugins: training throughput and time-to-quality; atomic checkpoints."""

from __future__ import annotations

import io
import statistics
import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from .schema import write_atomic


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written as :func:`write_atomic` writes ``model.pt``: a temporary file beside
    the target, then a rename. Lightning's own writer stages the file in the system's temporary
    folder and, on another file system, copies it into place (half a file if killed meanwhile)."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(path, buffer.getvalue())


class Throughput(pl.Callback):
    """Training sentences per second for each epoch, and the wall time at which validation F1
    first reached ``target_f1``; logged as ``train/sent_per_s`` and kept in :attr:`summary`."""

    def __init__(self, target_f1: float = 95.0) -> None:
        self.target_f1 = target_f1
        self.epoch_rates: list[float] = []
        self.time_to_target: float | None = None
        self._fit_start = 0.0
        self._epoch_start = 0.0
        self._sentences = 0
        self._last_batch_end = 0.0

    def on_fit_start(self, trainer, pl_module) -> None:
        self._fit_start = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start = time.perf_counter()
        self._sentences = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._sentences += len(batch["words"])
        self._last_batch_end = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # Lightning validates inside the epoch, before this hook: the clock stops at the last
        # training batch, so the rate covers loading batches and optimizer steps only
        seconds = self._last_batch_end - self._epoch_start
        rate = self._sentences * trainer.world_size / max(seconds, 1e-9)
        self.epoch_rates.append(rate)
        pl_module.log("train/sent_per_s", rate, sync_dist=False)

    def on_validation_end(self, trainer, pl_module) -> None:
        # after the module's on_validation_epoch_end, which computes this epoch's scores
        f1 = pl_module.scores.get("valid", {}).get("f1")
        if self.time_to_target is None and f1 is not None and f1 >= self.target_f1 and not trainer.sanity_checking:
            self.time_to_target = time.perf_counter() - self._fit_start

    def state_dict(self) -> dict:
        # kept in checkpoints, so a resumed run reports every epoch's rate
        return {"epoch_rates": list(self.epoch_rates), "time_to_target": self.time_to_target}

    def load_state_dict(self, state_dict: dict) -> None:
        self.epoch_rates = list(state_dict.get("epoch_rates", []))
        self.time_to_target = state_dict.get("time_to_target")

    @property
    def summary(self) -> dict:
        return {
            "train_sent_per_s_median": round(statistics.median(self.epoch_rates), 1) if self.epoch_rates else None,
            "train_sent_per_s_epochs": [round(r, 1) for r in self.epoch_rates],
            f"time_to_val_f1_{self.target_f1:g}_s": round(self.time_to_target, 1) if self.time_to_target else None,
        }
