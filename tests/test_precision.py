"""training/precision.py: which arithmetic the LSTM layers train in, and what bfloat16 changes."""

import pytest
import torch

from slotfill.errors import ConfigError
from slotfill.models.encoder import RecurrentEncoder
from slotfill.training import precision
from slotfill.training.module import SlotTaggerModule, TrainConfig
from tests.helpers import tiny_model

bf16_kernels = pytest.mark.skipif(
    not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="this CPU has no oneDNN bfloat16 LSTM"
)


@pytest.mark.parametrize("amx", [True, False])
def test_auto_is_bf16_only_for_an_lstm_on_a_cpu_with_amx(monkeypatch, amx):
    monkeypatch.setattr(precision, "hardware_bf16", lambda: amx)
    assert precision.resolve("auto", "lstm") == ("bf16" if amx else "fp32")
    assert precision.resolve("auto", "gru") == precision.resolve("auto", "rnn") == "fp32"
    assert precision.resolve("fp32", "lstm") == "fp32"
    assert precision.resolve("bf16", "lstm") == "bf16"  # asked for: emulated where there is no AMX


def test_bf16_for_another_cell_and_unknown_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match=r"train.precision=bf16: only the LSTM.*model.cell=gru"):
        precision.resolve("bf16", "gru")
    with pytest.raises(ConfigError, match=r"train.precision='half': choose one of auto, fp32, bf16"):
        precision.resolve("half", "lstm")
    with pytest.raises(ConfigError, match=r"train.precision='fp16'"):
        TrainConfig(precision="fp16")


def test_the_log_line_says_what_was_chosen_and_why():
    assert precision.describe("auto", "fp32") == "precision: float32 (no bfloat16 matrix hardware here)"
    assert precision.describe("fp32", "fp32") == "precision: float32"
    assert "bfloat16 (auto: this CPU has AMX)" in precision.describe("auto", "bf16")


@pytest.mark.parametrize("setting, dtype", [("fp32", None), ("bf16", torch.bfloat16)])
def test_the_training_module_sets_both_encoders(setting, dtype):
    model = tiny_model(intent=True, intent_encoder="separate")
    SlotTaggerModule(model, TrainConfig(precision=setting))
    assert model.net.encoder.train_dtype is dtype and model.net.intent_encoder.train_dtype is dtype


@bf16_kernels
def test_bf16_training_pass_is_close_to_float32_and_its_gradients_reach_float32_weights():
    torch.manual_seed(0)
    enc = RecurrentEncoder(12, cell="lstm", hidden_size=16, num_layers=2, dropout=0.0)
    x = torch.randn(5, 9, 12)
    lengths = torch.tensor([9, 1, 4, 7, 9])
    full = enc(x, lengths)
    full_grads = torch.autograd.grad(full.square().sum(), list(enc.parameters()))
    enc.train_dtype = torch.bfloat16
    low = enc(x, lengths)
    assert low.dtype == torch.float32 and low[1, 1:].abs().sum() == 0  # padding still zero
    torch.testing.assert_close(low, full, atol=0.03, rtol=0.05)  # bfloat16 keeps ~3 significant digits
    low_grads = torch.autograd.grad(low.square().sum(), list(enc.parameters()))
    for w, g, ref in zip(enc.parameters(), low_grads, full_grads):
        assert w.dtype == g.dtype == torch.float32
        assert torch.nn.functional.cosine_similarity(g.flatten(), ref.flatten(), dim=0) > 0.99
    # without gradients (validation, prediction) the float32 packed path runs, whatever the training dtype
    with torch.no_grad():
        torch.testing.assert_close(enc(x, lengths), enc._packed(x, lengths))
