"""models/interaction.py: label attention and co-interactive attention between the slot and intent features."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from slotfill.models.interaction import CoInteraction
from tests.helpers import examples


def _block(slot_dim=6, intent_dim=4, dim=8):
    torch.manual_seed(0)
    return CoInteraction(slot_dim, intent_dim, n_tags=5, n_intents=3, dim=dim).eval()


def test_shapes():
    block = _block()
    mask = torch.tensor([[True, True, True], [True, True, False]])
    s, i = block(torch.randn(2, 3, 6), torch.randn(2, 3, 4), mask)
    assert s.shape == (2, 3, 8) and i.shape == (2, 3, 8)
    assert torch.isfinite(s).all() and torch.isfinite(i).all()


@settings(max_examples=examples(15), deadline=None)
@given(length=st.integers(1, 5), pad=st.integers(1, 4), seed=st.integers(0, 1000))
def test_padding_never_reaches_a_real_token(length, pad, seed):
    block = _block()
    g = torch.Generator().manual_seed(seed)
    slot, intent = torch.randn(1, length, 6, generator=g), torch.randn(1, length, 4, generator=g)
    s, i = block(slot, intent, torch.ones(1, length, dtype=torch.bool))
    # the same sentence padded with arbitrary (large) features: its real tokens read the same
    junk = 100 * torch.randn(1, pad, 6, generator=g), 100 * torch.randn(1, pad, 4, generator=g)
    mask = torch.tensor([[True] * length + [False] * pad])
    s2, i2 = block(torch.cat([slot, junk[0]], 1), torch.cat([intent, junk[1]], 1), mask)
    torch.testing.assert_close(s2[:, :length], s)
    torch.testing.assert_close(i2[:, :length], i)


def test_each_side_reads_the_other_sides_tokens():
    block = _block()
    mask = torch.ones(1, 3, dtype=torch.bool)
    slot, intent = torch.randn(1, 3, 6), torch.randn(1, 3, 4)
    s, i = block(slot, intent, mask)
    changed = intent.clone()
    changed[0, 2] += 1.0  # another intent feature on the last token only
    s2, i2 = block(slot, changed, mask)
    assert not torch.allclose(s2[0, 0], s[0, 0])  # the first token's slot features see it
    slot2 = slot.clone()
    slot2[0, 2] += 1.0
    _, i3 = block(slot2, intent, mask)
    assert not torch.allclose(i3[0, 0], i[0, 0])  # and its intent features see a slot feature of the last
