"""training/precision.py: which arithmetic the LSTM layers train in, and what bfloat16 changes."""

from types import SimpleNamespace

import pytest
import torch

from slotfill.errors import ConfigError
from slotfill.models import encoder
from slotfill.models.encoder import RecurrentEncoder
from slotfill.training import precision
from slotfill.training.callbacks import RunRecord
from slotfill.training.module import SlotTaggerModule, TrainConfig
from tests.helpers import tiny_model

bf16_kernels = pytest.mark.skipif(
    precision.bf16_lstm_error() is not None, reason="this CPU cannot train an LSTM in bfloat16"
)


@pytest.mark.parametrize("amx", [True, False])
def test_auto_is_bf16_only_for_an_lstm_on_a_cpu_with_amx(monkeypatch, amx):
    monkeypatch.setattr(precision, "hardware_bf16", lambda: amx)
    monkeypatch.setattr(precision, "bf16_lstm_error", lambda: None)
    assert precision.resolve("auto", "lstm") == ("bf16" if amx else "fp32")
    assert precision.resolve("auto", "gru") == precision.resolve("auto", "rnn") == "fp32"
    assert precision.resolve("auto", "lstm", accelerator="gpu") == "fp32"  # the CPU's AMX says nothing of a GPU
    assert precision.resolve("fp32", "lstm") == "fp32"
    assert precision.resolve("bf16", "lstm") == "bf16"  # asked for: used wherever the kernel runs


def test_bf16_asked_for_on_a_cpu_that_cannot_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(precision, "bf16_lstm_error", lambda: "could not create a primitive")
    with pytest.raises(ConfigError, match=r"^train.precision=bf16: this CPU cannot .*primitive\); use fp32 or auto$"):
        precision.resolve("bf16", "lstm")
    assert precision.resolve("auto", "lstm") in ("fp32", "bf16")  # auto never asks for what cannot run


def test_bf16_for_another_cell_and_unknown_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match=r"train.precision=bf16: only the LSTM.*model.cell=gru"):
        precision.resolve("bf16", "gru")
    with pytest.raises(ConfigError, match=r"train.precision='half': choose one of auto, fp32, bf16"):
        precision.resolve("half", "lstm")
    with pytest.raises(ConfigError, match=r"train.precision='fp16'"):
        TrainConfig(precision="fp16")


def test_the_log_line_says_what_was_chosen_and_why():
    assert precision.describe("auto", "fp32") == "precision: float32 (auto: no AMX bfloat16 hardware here)"
    assert precision.describe("auto", "fp32", cell="gru").endswith("for the LSTM cell, model.cell=gru)")
    assert precision.describe("auto", "fp32", accelerator="gpu").endswith("trainer.accelerator=gpu)")
    assert precision.describe("fp32", "fp32") == "precision: float32"
    assert "bfloat16 (auto: this CPU has AMX)" in precision.describe("auto", "bf16")


@pytest.mark.parametrize("setting, dtype", [("fp32", None), ("bf16", torch.bfloat16)])
def test_the_training_module_sets_both_encoders(setting, dtype):
    model = tiny_model(intent=True, intent_encoder="separate")
    SlotTaggerModule(model, TrainConfig(precision=setting))
    assert model.net.encoder.train_dtype is dtype and model.net.intent_encoder.train_dtype is dtype


@bf16_kernels
def test_bf16_training_pass_is_close_to_float32_and_its_gradients_reach_float32_weights(monkeypatch):
    torch.manual_seed(0)
    enc = RecurrentEncoder(12, cell="lstm", hidden_size=16, num_layers=2, dropout=0.0)
    x = torch.randn(5, 9, 12)
    lengths = torch.tensor([9, 1, 4, 7, 9])
    full = enc(x, lengths)
    full_grads = torch.autograd.grad(full.square().sum(), list(enc.parameters()))
    enc.train_dtype = torch.bfloat16
    seen = []
    lstm = torch.lstm
    monkeypatch.setattr(encoder, "_LAYER_FN", {"lstm": lambda x, *a: seen.append(x.dtype) or lstm(x, *a)})
    low = enc(x, lengths)
    assert seen == [torch.bfloat16] * 4  # two layers, two directions
    assert low.dtype == torch.float32 and low[1, 1:].abs().sum() == 0  # padding still zero
    assert not torch.equal(low, full)
    torch.testing.assert_close(low, full, atol=0.03, rtol=0.05)  # bfloat16 keeps ~3 significant digits
    low_grads = torch.autograd.grad(low.square().sum(), list(enc.parameters()))
    for w, g, ref in zip(enc.parameters(), low_grads, full_grads):
        assert w.dtype == g.dtype == torch.float32
        assert torch.nn.functional.cosine_similarity(g.flatten(), ref.flatten(), dim=0) > 0.99
    # without gradients (validation, prediction) the float32 packed path runs, whatever the training dtype
    with torch.no_grad():
        torch.testing.assert_close(enc(x, lengths), full.detach(), atol=1e-6, rtol=1e-5)


@bf16_kernels
def test_bf16_prediction_runs_the_fused_layers_in_bfloat16_and_padding_never_reaches_a_token(monkeypatch):
    """Without gradients, ``predict_dtype`` (the tagger's precision="bf16") runs each layer and direction
    as one bfloat16 call over the padded batch; a padded sentence gets what it gets alone."""
    torch.manual_seed(0)
    enc = RecurrentEncoder(12, cell="lstm", hidden_size=16, num_layers=2, dropout=0.0).eval()
    x = torch.randn(3, 9, 12)
    lengths = torch.tensor([9, 4, 1])
    with torch.no_grad():
        full = enc(x, lengths)
        enc.predict_dtype = torch.bfloat16
        seen = []
        lstm = torch.lstm
        monkeypatch.setattr(encoder, "_LAYER_FN", {"lstm": lambda x, *a: seen.append(x.dtype) or lstm(x, *a)})
        low = enc(x, lengths)
        alone = enc(x[1:2, :4], lengths[1:2])
    # the padded batch: a call per layer and direction; the lone sentence, with no padding to keep out: one
    assert seen == [torch.bfloat16] * 4 + [torch.bfloat16]
    assert low.dtype == torch.float32 and low[1, 4:].abs().sum() == low[2, 1:].abs().sum() == 0
    assert not torch.equal(low, full)
    torch.testing.assert_close(low, full, atol=0.03, rtol=0.05)  # bfloat16 keeps ~3 significant digits
    # the backward direction starts at the sentence's end; one fused call computes what the loop does
    torch.testing.assert_close(low[1, :4], alone[0], atol=0, rtol=0)


@pytest.mark.parametrize("train, predict", [(None, torch.bfloat16), (torch.bfloat16, None)])
def test_the_training_dtype_leaves_prediction_alone_and_the_prediction_dtype_leaves_training_alone(train, predict):
    enc = RecurrentEncoder(4, cell="lstm", hidden_size=3, num_layers=1)
    enc.train_dtype, enc.predict_dtype = train, predict
    calls = []
    enc._by_layer = lambda x, n, low=None: calls.append(low) or x  # records what each pass asked for
    enc._packed = lambda x, n: calls.append("packed") or x
    enc(torch.randn(1, 2, 4), torch.tensor([2]))
    with torch.no_grad():
        enc(torch.randn(1, 2, 4), torch.tensor([2]))
    assert calls == [train, predict or "packed"]


@bf16_kernels
def test_prediction_casts_the_weights_once_and_again_when_they_change():
    torch.manual_seed(0)
    enc = RecurrentEncoder(6, cell="lstm", hidden_size=5, num_layers=2, dropout=0.0).eval()
    enc.predict_in(torch.bfloat16)
    x, lengths = torch.randn(2, 4, 6), torch.tensor([4, 3])
    with torch.no_grad():
        first = enc(x, lengths)
        kept = [t for _, copies in enc._low_copies.values() for t in copies]
        torch.testing.assert_close(enc(x, lengths), first, rtol=0, atol=0)
        assert [t for _, copies in enc._low_copies.values() for t in copies] == kept  # the same copies reused
        enc.rnn.weight_hh_l0.mul_(3.0)  # an in-place change, as an optimiser step makes
        changed = enc(x, lengths)
        enc.load_state_dict({k: torch.zeros_like(v) for k, v in enc.state_dict().items()})
        zeroed = enc(x, lengths)
    assert not torch.equal(changed, first)
    assert zeroed.abs().sum() == 0  # zero weights and biases: every output is tanh(0) * sigmoid(0) = 0
    enc.predict_in(None)
    assert enc._low_copies == {}  # back to float32: the copies are let go


@bf16_kernels
def test_a_model_loaded_in_inference_mode_still_predicts_in_bfloat16():
    enc = RecurrentEncoder(6, cell="lstm", hidden_size=5, num_layers=1).eval()
    with torch.inference_mode():
        clone = RecurrentEncoder(6, cell="lstm", hidden_size=5, num_layers=1).eval()
        clone.load_state_dict(enc.state_dict())  # inference tensors: no version counter to stamp
        clone.predict_in(torch.bfloat16)
        out = clone(torch.randn(2, 3, 6), torch.tensor([3, 2]))
    assert out.dtype == torch.float32 and out[1, 2].abs().sum() == 0


@pytest.mark.parametrize(
    "recorded, setting, expected",
    [
        ({"precision": "bf16"}, "auto", "bf16"),  # started on an AMX machine, resumed on one without
        ({}, "auto", "fp32"),  # a checkpoint from before the setting trained in float32
        ({"precision": "bf16"}, "fp32", "fp32"),  # a setting given outright stays as the saved config has it
    ],
)
def test_a_resumed_run_goes_on_in_the_precision_it_started_in(tmp_path, monkeypatch, recorded, setting, expected):
    from slotfill.core.schema import RUN_KEY
    from slotfill.training import fit, run_folder

    monkeypatch.setattr(fit, "bf16_lstm_error", lambda: None)
    ckpt = tmp_path / "last.ckpt"
    torch.save({RUN_KEY: {"config": {}, **recorded}}, ckpt)
    module = SlotTaggerModule(tiny_model(), TrainConfig(precision="fp32" if setting == "auto" else setting))
    module.model.meta["train"] = module.train_config.to_dict()  # as build() writes it
    fit._continue_precision(module, run_folder.checkpoint_record(ckpt), setting, "resume=RUN")
    assert module.train_config.precision == expected
    assert module.model.net.encoder.train_dtype is precision.dtype(expected)
    # what the model file and the next checkpoints say (precision=auto predicts by the first)
    assert module.model.meta["train"]["precision"] == expected
    checkpoint = {}
    RunRecord({}).on_save_checkpoint(SimpleNamespace(should_stop=False), module, checkpoint)
    assert checkpoint[RUN_KEY]["precision"] == expected


def test_resuming_a_bf16_run_on_a_cpu_that_cannot_is_a_one_line_error(tmp_path, monkeypatch):
    from slotfill.core.schema import RUN_KEY
    from slotfill.training import fit, run_folder

    monkeypatch.setattr(fit, "bf16_lstm_error", lambda: "no bf16 primitive")
    ckpt = tmp_path / "last.ckpt"
    torch.save({RUN_KEY: {"config": {}, "precision": "bf16"}}, ckpt)
    module = SlotTaggerModule(tiny_model(), TrainConfig(precision="fp32"))
    with pytest.raises(ConfigError, match=r"^resume=RUN: the run trained its LSTM layers in bfloat16, which this CPU"):
        fit._continue_precision(module, run_folder.checkpoint_record(ckpt), "auto", "resume=RUN")
