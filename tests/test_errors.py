"""errors.py: user errors carry where the problem is."""

from slotfill.errors import ConfigError, DataError, SlotfillError


def test_data_errors_name_file_and_line():
    assert str(DataError("train/seq.out", 3, "2 tags for 3 tokens")) == "train/seq.out:3: 2 tags for 3 tokens"
    assert str(DataError("atis", None, "no train split")) == "atis: no train split"
    assert issubclass(DataError, SlotfillError) and issubclass(ConfigError, SlotfillError)
