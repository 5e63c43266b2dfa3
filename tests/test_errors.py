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


def test_a_missing_pyarrow_is_its_own_install_and_a_torch_free_api_call_names_the_onnx_loader():
    import pickle

    from slotfill.errors import MissingRequirement, missing_extra

    found = missing_extra(ModuleNotFoundError("No module named 'pyarrow'", name="pyarrow.parquet"))
    assert str(found).endswith("the torch-free install leaves out: pip install pyarrow")
    said = MissingRequirement("torch", "slotfill.SlotTagger runs PyTorch models", "load_tagger runs ONNX")
    assert str(said) == "slotfill.SlotTagger runs PyTorch models: this install leaves out torch; load_tagger runs ONNX"
    assert str(pickle.loads(pickle.dumps(said))) == str(said)


def test_every_error_pickles_whole():
    """A Ray worker's error reaches the driver pickled: as the same error, saying the same."""
    import pickle

    from slotfill import errors

    made = {
        errors.DataError: errors.DataError("a.txt", 2, "not valid UTF-8"),
        errors.MissingExtra: errors.MissingExtra("ray", "ray", "engine=ray"),
        errors.MissingRequirement: errors.MissingRequirement("torch"),
    }
    kinds = [k for k in vars(errors).values() if isinstance(k, type) and issubclass(k, SlotfillError)]
    assert len(kinds) >= 7
    for kind in kinds:
        error = made.get(kind) or kind("a message")
        error.add_note("a note")
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is kind and str(again) == str(error) and vars(again) == vars(error)
