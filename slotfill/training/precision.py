"""The arithmetic the recurrent layers train in (``train.precision``): ``auto``, ``fp32`` or ``bf16``.

With ``bf16`` each LSTM layer multiplies in bfloat16 while training (its inputs and a bfloat16 copy
of its weights, made at every step); the weights, their gradients, the optimiser, every other layer
and the loss stay float32, and validation and test run the float32 network (prediction: the
tagger's ``precision``, whose ``auto`` runs such a model's LSTM layers in bfloat16 on AMX). On a CPU
with Intel AMX default training took 0.66× the float32 fit time and 0.75× its CPU
(``bench/train_cost.py --table precision --together``); without AMX bfloat16 was not measured
(without native bfloat16 it is emulated), so ``auto`` chooses it only on AMX, only on the CPU
accelerator and only for the LSTM cell (oneDNN's fused bfloat16 kernel).
"""

from __future__ import annotations

import torch

from slotfill.errors import ConfigError
from slotfill.models.bfloat16 import bf16_lstm_error, hardware_bf16

__all__ = ["PRECISIONS", "bf16_lstm_error", "describe", "dtype", "hardware_bf16", "resolve"]

PRECISIONS = ("auto", "fp32", "bf16")


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
