"""callbacks.py: the per-epoch log line."""

from slotfill.callbacks import epoch_line


def test_epoch_line_names_every_number():
    row = {
        "epoch": 9,
        "train_loss": 0.41234,
        "val_f1": 91.234,
        "val_intent_accuracy": 95.1,
        "lr": 0.002,
        "seconds": 12.34,
        "sent_per_s": 1234.4,
    }
    assert epoch_line(row) == "epoch 09  loss 0.4123  val F1 91.23  intent 95.10  lr 2.00e-03  12.3 s  1234 sent/s"
    assert "intent" not in epoch_line(dict(row, val_intent_accuracy=None))
