"""models/encoder.py: the recurrent encoder's defaults and the forget-gate bias."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from slotfill.models import NetConfig, encoder
from slotfill.models.encoder import Dropout, RecurrentEncoder, dropout, keep_mask


def test_forget_gate_bias_starts_open():
    rnn = RecurrentEncoder(8, cell="lstm", hidden_size=6, num_layers=2, forget_bias=1.0).rnn
    h = rnn.hidden_size
    for layer in range(rnn.num_layers):
        total = getattr(rnn, f"bias_ih_l{layer}") + getattr(rnn, f"bias_hh_l{layer}")
        assert torch.allclose(total[h : 2 * h], torch.ones(h))
        assert not torch.allclose(total[:h], torch.ones(h))


def test_stacked_bidirectional_by_default():
    cfg = NetConfig()
    assert cfg.num_layers >= 2 and cfg.bidirectional and cfg.cell == "lstm" and cfg.forget_bias == 1.0


def test_packed_encoder_ignores_padding():
    enc = RecurrentEncoder(4, cell="lstm", hidden_size=3, num_layers=2).eval()
    x = torch.randn(2, 5, 4)
    lengths = torch.tensor([5, 2])
    out = enc(x, lengths)
    alone = enc(x[1:, :2], torch.tensor([2]))
    torch.testing.assert_close(out[1, :2], alone[0])
    assert out[1, 2:].abs().sum() == 0


@pytest.mark.parametrize("batch", [1, 8])
def test_an_lstm_batch_without_padding_skips_packing_and_computes_the_same_to_the_last_digit(batch, monkeypatch):
    """Prediction of sentences of one length (a lone sentence) runs an LSTM's layers unpacked, in one call."""
    torch.manual_seed(0)
    enc = RecurrentEncoder(190, cell="lstm", hidden_size=128, num_layers=2).eval()  # the default's sizes
    x, lengths = torch.randn(batch, 11, 190), torch.full((batch,), 11)
    with torch.no_grad():
        packed = pad_packed_sequence(enc.rnn(pack_padded_sequence(x, lengths, batch_first=True))[0], True)[0]
        monkeypatch.setattr("slotfill.models.encoder.pack_padded_sequence", None)  # a call would fail
        torch.testing.assert_close(enc(x, lengths), packed, atol=0, rtol=0)


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_other_cells_stay_packed_without_padding(cell, monkeypatch):
    """A GRU's or plain RNN's kernel rounds differently unpacked (by ~1e-7): they keep packing."""
    enc = RecurrentEncoder(4, cell=cell, hidden_size=3, num_layers=2).eval()
    calls = []
    real = encoder.pack_padded_sequence
    monkeypatch.setattr(encoder, "pack_padded_sequence", lambda *a, **k: calls.append(1) or real(*a, **k))
    with torch.no_grad():
        enc(torch.randn(3, 5, 4), torch.tensor([5, 5, 5]))
    assert calls == [1]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_training_path_computes_what_packing_computes(cell, bidirectional):
    """With gradients the encoder runs one fused call per layer and direction over the padded batch:
    the same outputs and the same gradients as the packed computation, padding zero."""
    torch.manual_seed(0)
    enc = RecurrentEncoder(7, cell=cell, hidden_size=5, num_layers=3, bidirectional=bidirectional, dropout=0.0)
    x = torch.randn(4, 6, 7, requires_grad=True)
    lengths = torch.tensor([6, 1, 3, 5])
    fused = enc(x, lengths)
    packed = enc._packed(x, lengths)
    torch.testing.assert_close(fused, packed, atol=1e-6, rtol=1e-5)
    assert fused[1, 1:].abs().sum() == 0 and fused[2, 3:].abs().sum() == 0
    weights = [x, *enc.parameters()]
    for a, b in zip(torch.autograd.grad(fused.sum(), weights), torch.autograd.grad(packed.sum(), weights)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_padding_never_reaches_a_real_token_on_the_training_path():
    """Garbage in the padding changes no real token's output (the reversed direction included)."""
    enc = RecurrentEncoder(4, cell="lstm", hidden_size=3, num_layers=2)
    x = torch.randn(2, 5, 4)
    lengths = torch.tensor([5, 2])
    noisy = x.clone()
    noisy[1, 2:] = 1e3
    enc.train()
    torch.manual_seed(1)
    a = enc(x, lengths)
    torch.manual_seed(1)
    b = enc(noisy, lengths)
    torch.testing.assert_close(a, b)


def test_dropout_keeps_the_expected_share_and_scale():
    torch.manual_seed(0)
    x = torch.ones(200_000)
    y = dropout(x, 0.3, training=True)
    assert abs((y == 0).float().mean().item() - 0.3) < 0.01
    torch.testing.assert_close(y[y != 0], torch.full_like(y[y != 0], 1 / 0.7))
    assert dropout(x, 0.3, training=False) is x and dropout(x, 0.0, training=True) is x
    assert Dropout(0.3).eval()(x) is x


@pytest.mark.parametrize("p", [0.0, 1e-6, 0.05, 0.3, 0.5, 1 - 1e-6, 1.0])
def test_keep_mask_keeps_a_share_of_one_minus_p(p):
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([50, 41, 7]), p)  # 14,350 values, not a multiple of 4: the last draw is cut
    assert mask.dtype == torch.bool and mask.shape == (50, 41, 7)
    assert mask.float().mean().item() == pytest.approx(1 - p, abs=0.01)
    # each of a draw's four 16-bit quarters is a uniform of its own
    quarters = keep_mask(torch.Size([40000, 4]), p).float().mean(0)
    torch.testing.assert_close(quarters, torch.full((4,), 1 - p), atol=0.012, rtol=0)
    torch.manual_seed(0)
    assert torch.equal(mask, keep_mask(torch.Size([50, 41, 7]), p))  # seeded: resume stays exact
