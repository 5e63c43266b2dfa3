"""Lightning callbacks and plugins: throughput, time-to-quality, one log line per epoch, the random state of a
resumed run, what a checkpoint was trained on, the heap out of the collector's walk; atomic checkpoints that
follow a moved run folder."""

from __future__ import annotations

import io
import logging
import os
import random
import statistics
import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO

from slotfill.core import collector
from slotfill.core.files import write_atomic
from slotfill.core.schema import RUN_KEY


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, whose record of the best epochs follows a run folder that was moved or
    copied: Lightning keeps it only in the folder it was written in, so a resumed copy took its next
    epoch for the best whatever the earlier ones scored."""

    @property
    def state_key(self) -> str:  # the key Lightning's own class saved under: runs begun before still resume
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

    def load_state_dict(self, state_dict: dict) -> None:
        was = state_dict.get("dirpath")
        if was and self.dirpath and os.path.normpath(was) != os.path.normpath(self.dirpath):

            def moved(path):
                inside = isinstance(path, str) and path and os.path.commonpath([path, was]) == os.path.normpath(was)
                return os.path.join(self.dirpath, os.path.relpath(path, was)) if inside else path

            state_dict = {
                **state_dict,
                "dirpath": self.dirpath,
                **{k: moved(state_dict.get(k)) for k in ("best_model_path", "kth_best_model_path", "last_model_path")},
                "best_k_models": {moved(k): v for k, v in (state_dict.get("best_k_models") or {}).items()},
            }
        super().load_state_dict(state_dict)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written as :func:`write_atomic` writes ``model.pt``: a temporary file beside
    the target, then a rename. Lightning's own writer stages the file in the system's temporary
    folder and, on another file system, copies it into place (half a file if killed meanwhile)."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(path, buffer.getvalue())


log = logging.getLogger(__name__)


class RunRecord(pl.Callback):
    """Every checkpoint records the run's config, its data's fingerprint, its teacher's (distillation)
    and the precision the LSTM layers train in (the module's: ``train.precision`` resolved, or a resumed
    run's), so ``resume=`` can check that it continues the same run on the same data from the same
    teacher, and continue it in the same arithmetic."""

    def __init__(self, config: dict, data_sha256: str | None = None) -> None:
        self.config = config
        self.data_sha256 = data_sha256
        self.teacher: str | None = None
        self.stopped = False  # the checkpoint resumed from was saved by a run that had decided to stop

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[RUN_KEY] = {"config": self.config, "data_sha256": self.data_sha256}
        checkpoint[RUN_KEY]["precision"] = pl_module.train_config.precision
        if self.teacher:
            checkpoint[RUN_KEY]["teacher"] = self.teacher
        # early stopping decided before the checkpoints were saved (Lightning runs them last); Lightning
        # restores the callback's counters but not the decision, so a resume would train on
        checkpoint[RUN_KEY]["should_stop"] = bool(trainer.should_stop)

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        self.stopped = bool((checkpoint.get(RUN_KEY) or {}).get("should_stop"))

    def on_train_start(self, trainer, pl_module) -> None:
        if self.stopped:  # a run killed after it stopped early (in its final test): it ends as it would have
            trainer.should_stop = True


class SettledHeap(pl.Callback):
    """The libraries, the data and the model are made when training starts: in a command, they leave
    the garbage collector's walk (:mod:`slotfill.core.collector`; ~640,000 objects, each full
    collection walked them all). Called from Python outside a command, the caller's collector is
    left alone."""

    def on_train_start(self, trainer, pl_module) -> None:
        if collector.in_command():
            collector.settled()


class Throughput(pl.Callback):
    """Training sentences per second for each epoch, and the wall time at which validation F1
    first reached ``target_f1``; logged as ``train/sent_per_s`` and kept in :attr:`summary`."""

    def __init__(self, target_f1: float = 95.0) -> None:
        self.target_f1 = target_f1
        self.epoch_rates: list[float] = []
        self.time_to_target: float | None = None
        self.earlier_seconds = 0.0  # the fit's time before a resume, up to the checkpoint it resumed from
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
            self.time_to_target = self.fit_seconds()

    def fit_seconds(self) -> float:
        """The fit's wall time so far, the segments before a resume included."""
        return self.earlier_seconds + (time.perf_counter() - self._fit_start if self._fit_start else 0.0)

    def state_dict(self) -> dict:
        # kept in checkpoints, so a resumed run reports every epoch's rate and its whole time
        return {
            "epoch_rates": list(self.epoch_rates),
            "time_to_target": self.time_to_target,
            "fit_seconds": self.fit_seconds(),
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.epoch_rates = list(state_dict.get("epoch_rates", []))
        self.time_to_target = state_dict.get("time_to_target")
        self.earlier_seconds = float(state_dict.get("fit_seconds", 0.0))

    @property
    def summary(self) -> dict:
        return {
            "train_sent_per_s_median": round(statistics.median(self.epoch_rates), 1) if self.epoch_rates else None,
            "train_sent_per_s_epochs": [round(r, 1) for r in self.epoch_rates],
            f"time_to_val_f1_{self.target_f1:g}_s": round(self.time_to_target, 1) if self.time_to_target else None,
        }


class EpochLog(pl.Callback):
    """One line per epoch through :mod:`logging` (the console and Hydra's ``train.log``), whatever
    the progress-bar setting: epoch, train loss, validation slot F1 / intent accuracy, learning
    rate, seconds and training sentences per second. The learning rate and the epoch's seconds
    are also logged as ``train/lr`` and ``train/epoch_s`` (one ``metrics.csv`` row per epoch).
    """

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self._start = 0.0
        self._last_batch_end = 0.0
        self._loss_sum = 0.0
        self._sentences = 0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = self._last_batch_end = time.perf_counter()
        self._loss_sum, self._sentences = 0.0, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        n = len(batch["words"])
        if isinstance(loss, torch.Tensor):
            self._loss_sum += float(loss.detach()) * n
        self._sentences += n
        self._last_batch_end = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # Lightning has validated by now (validation runs inside the training epoch)
        seconds = time.perf_counter() - self._start
        lr = float(trainer.optimizers[0].param_groups[0]["lr"]) if trainer.optimizers else float("nan")
        pl_module.log("train/lr", lr, on_epoch=True, on_step=False, sync_dist=False)
        pl_module.log("train/epoch_s", seconds, on_epoch=True, on_step=False, sync_dist=False)
        valid = pl_module.scores.get("valid", {}) if hasattr(pl_module, "scores") else {}
        row = {
            "epoch": int(trainer.current_epoch),
            "train_loss": self._loss_sum / max(self._sentences, 1),
            "val_f1": valid.get("f1"),
            "val_intent_accuracy": valid.get("intent_accuracy"),
            "lr": lr,
            "seconds": seconds,
            "sent_per_s": self._sentences * trainer.world_size / max(self._last_batch_end - self._start, 1e-9),
        }
        self.rows.append(row)
        if trainer.is_global_zero:
            log.info("%s", epoch_line(row))


def epoch_line(row: dict) -> str:
    """``epoch 03  loss 0.4123  val F1 91.23  intent 95.10  lr 2.00e-03  12.3 s  1234 sent/s``.

    Epochs count from 0, as in Lightning's checkpoint names (``epoch=03-...``) and ``metrics.csv``.
    """
    parts = [f"epoch {row['epoch']:02d}", f"loss {row['train_loss']:.4f}"]
    if row.get("val_f1") is not None:
        parts.append(f"val F1 {row['val_f1']:.2f}")
    if row.get("val_intent_accuracy") is not None:
        parts.append(f"intent {row['val_intent_accuracy']:.2f}")
    parts += [f"lr {row['lr']:.2e}", f"{row['seconds']:.1f} s", f"{row['sent_per_s']:.0f} sent/s"]
    return "  ".join(parts)


RNG_KEY = "slotfill_rng"  # random number generator states inside training checkpoints


class ResumeRandomState(pl.Callback):
    """A resumed run draws the same dropout masks as an uninterrupted one: the generators' states
    travel in every training checkpoint and are put back at the first training batch."""

    def __init__(self) -> None:
        self._saved: dict | None = None

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        checkpoint[RNG_KEY] = {"torch": torch.get_rng_state(), "python": random.getstate()}

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        # applied at the first training batch: restoring draws random numbers of its own
        # (Lightning replays the end of the saved epoch) that the uninterrupted run never drew
        self._saved = checkpoint.get(RNG_KEY)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        rng, self._saved = self._saved, None
        if rng:
            torch.set_rng_state(rng["torch"])
            random.setstate(rng["python"])
            # after the checkpoint was saved, the uninterrupted run drew one number more: the
            # base seed the DataLoader takes from the global generator for the epoch's iterator
            torch.empty((), dtype=torch.int64).random_()
