"""The arithmetic the recurrent layers train in (``train.precision``): ``auto``, ``fp32`` or ``bf16``.

With ``bf16`` each LSTM layer multiplies in bfloat16 while training (its inputs and a bfloat16 copy
of its weights, made at every step); the weights, their gradients, the optimiser, every other layer
and the loss stay float32, and validation, test and prediction run the float32 network. On a CPU
with Intel AMX default training took 0.66× the float32 fit time and 0.75× its CPU
(``bench/train_cost.py --table precision --together``); without AMX bfloat16 was not measured
(without native bfloat16 it is emulated), so ``auto`` chooses it only on AMX, only on the CPU
accelerator and only for the LSTM cell (oneDNN's fused bfloat16 kernel).
"""

from __future__ import annotations

import functools

import torch

from slotfill.errors import ConfigError, first_line

PRECISIONS = ("auto", "fp32", "bf16")


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


def resolve(setting: str, cell: str, accelerator: str = "cpu") -> str:
    """``fp32`` or ``bf16``: what ``setting`` (``train.precision``) trains a ``cell`` model in on ``accelerator``."""
    if setting not in PRECISIONS:
        raise ConfigError(f"train.precision={setting!r}: choose one of {', '.join(PRECISIONS)}")
    if setting == "fp32":
        return "fp32"
    if setting == "auto":
        return "bf16" if cell == "lstm" and accelerator == "cpu" and hardware_bf16() else "fp32"
    if cell != "lstm":
        raise ConfigError(
            f"train.precision=bf16: only the LSTM's layers train in bfloat16 (model.cell={cell}); "
            "use train.precision=fp32 or auto"
        )
    if accelerator == "cpu" and (error := bf16_lstm_error()):
        raise ConfigError(
            f"train.precision=bf16: this CPU cannot train an LSTM in bfloat16 ({error}); use fp32 or auto"
        )
    return "bf16"


def describe(setting: str, resolved: str, cell: str = "lstm", accelerator: str = "cpu") -> str:
    """The line training logs once about its precision."""
    if resolved == "bf16":
        why = " (auto: this CPU has AMX)" if setting == "auto" else ""
        return f"precision: the LSTM layers train in bfloat16{why}; weights, optimiser and evaluation in float32"
    if setting != "auto":
        return "precision: float32"
    if cell != "lstm":
        return f"precision: float32 (auto: bfloat16 is for the LSTM cell, model.cell={cell})"
    if accelerator != "cpu":
        return f"precision: float32 (auto: bfloat16 is chosen on the CPU only, trainer.accelerator={accelerator})"
    return "precision: float32 (auto: no AMX bfloat16 hardware here)"


def dtype(resolved: str) -> torch.dtype | None:
    """The recurrent layers' training dtype for a resolved precision (None: their own, float32)."""
    return torch.bfloat16 if resolved == "bf16" else None
