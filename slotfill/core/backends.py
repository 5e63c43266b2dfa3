"""Which engine runs a model: PyTorch (``model.pt``) or ONNX Runtime (``model.onnx``), chosen from the file.

Torch-free: the CLI and the server decide here, before anything imports torch.
"""

from __future__ import annotations

from pathlib import Path

from slotfill.errors import ConfigError

BACKENDS = ("auto", "torch", "onnx")
PRECISIONS = ("auto", "fp32", "bf16", "int8")


def is_onnx(path: str | Path) -> bool:
    return str(path).endswith(".onnx")


def choose(backend: str, ckpt: str | Path) -> str:
    """``torch`` or ``onnx`` for a model path: ``auto`` reads it off the file (``.onnx`` runs on ONNX
    Runtime alone, anything else on PyTorch); a ``.onnx`` file cannot run on PyTorch."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "auto":  # a folder holding only model.onnx (a torch-free image's) runs on ONNX Runtime
        folder = Path(ckpt)
        only_onnx = folder.is_dir() and (folder / "model.onnx").is_file() and not (folder / "model.pt").exists()
        return "onnx" if is_onnx(ckpt) or only_onnx else "torch"
    if backend == "torch" and is_onnx(ckpt):
        raise ConfigError(f"backend=torch cannot run {ckpt}: give its model.pt, or backend=onnx (or auto)")
    return backend


def check_precision(precision: str, backend: str, ckpt: str | Path) -> None:
    """A one-line :class:`ConfigError` for a precision the engine chosen for ``ckpt`` cannot run."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r}: choose one of {', '.join(PRECISIONS)}")
    engine = choose(backend, ckpt)
    if precision == "bf16" and engine == "onnx":
        raise ConfigError("precision=bf16 needs backend=torch (the ONNX graphs are float32 or int8)")
    if precision == "int8" and engine == "torch":
        raise ConfigError("precision=int8 needs backend=onnx (the int8 graph slotfill export writes)")
