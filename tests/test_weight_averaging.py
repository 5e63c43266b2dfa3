"""weight_averaging.py: validation on the mean of the last epochs' weights, training on each epoch's own."""

import torch

from slotfill.models.slot_model import CHECKPOINT_KEY, SlotModel
from slotfill.training.module import SlotTaggerModule, TrainConfig
from slotfill.training.weight_averaging import LastEpochsAverage, mean_weights
from tests.helpers import tiny_model
from tests.test_module import _same, _Trainer, _weights


def test_mean_weights_averages_floats_and_keeps_the_last_of_the_rest():
    snapshots = [
        {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(1)},
        {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(7)},
    ]
    mean = mean_weights(snapshots)
    assert mean["w"].tolist() == [2.0, 4.0] and mean["n"].item() == 7
    assert mean_weights(snapshots[:1])["w"].tolist() == [1.0, 2.0]


def test_validation_and_checkpoints_see_the_mean_and_training_goes_on_from_the_epochs_own_weights():
    model = tiny_model()
    module = SlotTaggerModule(model, TrainConfig(average_last=2))
    trainer = _Trainer(None)
    averaging = LastEpochsAverage(2)
    validated = []

    def epoch(shift: float) -> dict:
        """One training epoch (every weight moved by ``shift``), then validation; the epoch's own weights."""
        averaging.on_train_epoch_start(trainer, module)
        with torch.no_grad():
            for p in model.net.parameters():
                p.add_(shift)
        own = _weights(model)
        averaging.on_validation_epoch_start(trainer, module)
        validated.append(_weights(model))  # what the validation steps ran on
        averaging.on_validation_epoch_end(trainer, module)
        assert _same(_weights(model), own)  # training goes on from its own weights
        return own

    first, second = epoch(1.0), epoch(2.0)
    assert _same(validated[0], first)  # one epoch so far: its own weights
    assert _same(validated[1], mean_weights([first, second]))
    checkpoint = {}
    averaging.on_save_checkpoint(trainer, module, checkpoint)
    module.on_save_checkpoint(checkpoint)  # Lightning calls the callbacks first
    saved = SlotModel.from_state(checkpoint[CHECKPOINT_KEY])
    assert _same(_weights(saved), validated[1])  # the checkpoint's model is the one validation scored
    assert _same(_weights(model), second)

    averaging = LastEpochsAverage(2)  # a resumed run
    averaging.on_load_checkpoint(trainer, module, checkpoint)
    third = epoch(4.0)
    assert _same(validated[2], mean_weights([second, third]))  # the window slid: only the last two count

    trainer.state.fn = "validate"  # re-scoring the selected model averages nothing
    averaging.on_validation_epoch_start(trainer, module)
    assert _same(_weights(model), third)
