"""errors.py: user errors carry where the problem is."""

from slotfill.errors import ConfigError, DataError, SlotfillError


def test_data_errors_name_file_and_line():
    assert str(DataError("train/seq.out", 3, "2 tags for 3 tokens")) == "train/seq.out:3: 2 tags for 3 tokens"
    assert str(DataError("atis", None, "no train split")) == "atis: no train split"
    assert issubclass(DataError, SlotfillError) and issubclass(ConfigError, SlotfillError)


def test_a_missing_extra_is_named_with_its_install():
    from slotfill.errors import missing_extra

    found = missing_extra(ModuleNotFoundError("No module named 'fastapi'", name="fastapi"))
    assert str(found) == "this command needs fastapi, which is not installed: pip install 'slotfill[serve]'"
    lightning = ModuleNotFoundError("Neither `tensorboard` nor `tensorboardX` is available.")
    assert "pip install 'slotfill[tensorboard]'" in str(missing_extra(lightning))
    hydra = Exception("In 'train': Could not find 'hydra/sweeper/optuna'")
    assert "pip install 'slotfill[optuna]'" in str(missing_extra(hydra))
    assert missing_extra(ModuleNotFoundError("No module named 'nosuch'", name="nosuch")) is None
