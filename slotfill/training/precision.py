"""The arithmetic the recurrent layers train in (``train.precision``): ``auto``, ``fp32`` or ``bf16``.

With ``bf16`` each LSTM layer multiplies in bfloat16 while training (its inputs and a bfloat16 copy
of its weights, made at every step); the weights, their gradients, the optimiser, every other layer
and the loss stay float32, and validation, test and prediction run the float32 network. On CPUs
that multiply bfloat16 in hardware (Intel AMX) the LSTM layers, about half of a training step, ran
~1.6× faster (``bench/train_cost.py``); elsewhere bfloat16 is emulated, so ``auto`` chooses it only
where AMX is present, and only for the LSTM cell (oneDNN's fused bfloat16 kernel).
"""

from __future__ import annotations

import torch

from slotfill.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")


def hardware_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX tiles, usable by this process)."""
    check = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private in torch 2.x: absent means no
    try:
        return bool(check and check() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (RuntimeError, AttributeError):
        return False


def resolve(setting: str, cell: str) -> str:
    """``fp32`` or ``bf16``: the precision ``setting`` (``train.precision``) trains a ``cell`` model in."""
    if setting not in PRECISIONS:
        raise ConfigError(f"train.precision={setting!r}: choose one of {', '.join(PRECISIONS)}")
    if setting == "fp32":
        return "fp32"
    if cell != "lstm":
        if setting == "bf16":
            raise ConfigError(
                f"train.precision=bf16: only the LSTM's layers train in bfloat16 (model.cell={cell}); "
                "use train.precision=fp32 or auto"
            )
        return "fp32"
    if setting == "bf16":
        return "bf16"
    return "bf16" if hardware_bf16() else "fp32"


def describe(setting: str, resolved: str) -> str:
    """The line training logs once about its precision."""
    if resolved == "fp32":
        why = " (no bfloat16 matrix hardware here)" if setting == "auto" else ""
        return f"precision: float32{why}"
    why = " (auto: this CPU has AMX)" if setting == "auto" else ""
    return f"precision: the LSTM layers train in bfloat16{why}; weights, optimiser and evaluation in float32"


def dtype(resolved: str) -> torch.dtype | None:
    """The recurrent layers' training dtype for a resolved precision (None: their own, float32)."""
    return torch.bfloat16 if resolved == "bf16" else None
