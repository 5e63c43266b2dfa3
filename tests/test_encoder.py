"""models/encoder.py: the recurrent encoder's defaults and the forget-gate bias."""

import torch

from slotfill.models import NetConfig
from slotfill.models.encoder import RecurrentEncoder


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
