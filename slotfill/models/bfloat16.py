"""Whether this CPU runs the LSTM in bfloat16: in hardware (AMX), and at all (oneDNN's kernel).

Asked by training (``train.precision``) and by prediction (a tagger's ``precision``) alike.
"""

from __future__ import annotations

import functools

import torch

from slotfill.errors import first_line


def hardware_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX tiles, usable by this process)."""
    check = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private in torch 2.x: absent means no
    try:
        return bool(check and check() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (RuntimeError, AttributeError):
        return False


@functools.cache
def bf16_lstm_error() -> str | None:
    """Why this CPU cannot train an LSTM layer in bfloat16 (a tiny forward and backward pass tried), or None."""
    try:
        lstm = torch.nn.LSTM(4, 3, batch_first=True).to(torch.bfloat16)
        lstm(torch.randn(2, 3, 4, dtype=torch.bfloat16, requires_grad=True))[0].float().sum().backward()
    except RuntimeError as e:
        return first_line(e)[:90]
    return None
