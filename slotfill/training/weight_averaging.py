"""``train.average_last=N``: validation scores, and checkpoints carry, the mean weights of the last N epochs,
while training goes on from each epoch's own weights."""

from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch

from slotfill.models.slot_model import CHECKPOINT_KEY, SlotModel

log = logging.getLogger(__name__)
AVERAGE_KEY = "slotfill_average"  # the weights of the last train.average_last epochs inside training checkpoints


def mean_weights(snapshots: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of state dicts (the last one's value for tensors that are not floating point)."""
    last = snapshots[-1]
    return {
        k: torch.stack([s[k] for s in snapshots]).mean(0) if v.is_floating_point() else v.clone()
        for k, v in last.items()
    }


def state_with(model: SlotModel, weights: dict[str, torch.Tensor]) -> dict:
    """:meth:`SlotModel.state` with ``weights`` in place of the model's own (which are put back)."""
    own = {k: v.detach().clone() for k, v in model.net.state_dict().items()}
    model.net.load_state_dict(weights)
    try:
        return model.state()
    finally:
        model.net.load_state_dict(own)


class LastEpochsAverage(pl.Callback):
    """Swap the mean of the last ``last`` epochs' weights in for validation, and out again after it.

    Lightning runs a callback's hooks before the module's, so the mean is in place for every
    validation step and a checkpoint saved after validation carries it as the model (the
    module's own ``state_dict`` keeps the weights training goes on from).
    """

    def __init__(self, last: int) -> None:
        self.last = last
        self.snapshots: list[dict[str, torch.Tensor]] = []
        self._own: dict[str, torch.Tensor] | None = None  # the epoch's own weights while validation runs on the mean
        self.mean: dict[str, torch.Tensor] | None = None  # this epoch's mean weights, once validated

    def _active(self, trainer: pl.Trainer) -> bool:
        return self.last > 1 and trainer.state.fn == "fit" and not trainer.sanity_checking

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.last > 1:
            log.info("validation scores, and checkpoints hold, the mean weights of the last %d epochs", self.last)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.mean = None  # a checkpoint saved before this epoch's validation carries its own weights

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._active(trainer):
            return
        net = pl_module.model.net
        own = {k: v.detach().clone() for k, v in net.state_dict().items()}
        self.snapshots = [*self.snapshots, own][-self.last :]
        self._own, self.mean = own, mean_weights(self.snapshots)
        net.load_state_dict(self.mean)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # the predictions are collected: training continues from the epoch's own weights
        if self._own is not None:
            pl_module.model.net.load_state_dict(self._own)
            self._own = None

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        if self.mean is not None:  # the model a checkpoint carries is the one its validation score belongs to
            checkpoint[CHECKPOINT_KEY] = state_with(pl_module.model, self.mean)
        checkpoint[AVERAGE_KEY] = [{k: v.cpu() for k, v in s.items()} for s in self.snapshots]

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        device = next(pl_module.parameters()).device
        self.snapshots = [{k: v.to(device) for k, v in s.items()} for s in checkpoint.get(AVERAGE_KEY, [])]
