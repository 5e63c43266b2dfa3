"""One way to load any model file: ``load_tagger(path)`` picks the engine from the file."""

from __future__ import annotations

from pathlib import Path

from slotfill.core.backends import check_precision, choose
from slotfill.inference.pipeline import TextTagger


def load_tagger(
    path: str | Path, backend: str = "auto", threads: int | str | None = None, precision: str = "auto"
) -> TextTagger:
    """A tagger for ``path`` (a run folder, ``model.pt``, a training ``.ckpt`` or ``model.onnx``).

    ONNX models run on ONNX Runtime with numpy decoding (:class:`OnnxTagger`: torch is never
    imported; ``precision="int8"`` takes the int8 graph beside the float one, ``auto`` the float
    one); the others on PyTorch (:class:`SlotTagger`, where ``auto`` runs a model trained with
    bfloat16 LSTM layers in bfloat16 on a CPU with AMX).

    ``threads``: a number, ``"auto"`` (the commands' policy: one), or None for each engine's default:
    ``auto`` on ONNX Runtime (a setting of this session only), torch's own on PyTorch (every core;
    a setting of the whole process, left as it is unless asked).
    """
    check_precision(precision, backend, path)
    if choose(backend, path) == "onnx":
        from slotfill.inference.onnx_tagger import OnnxTagger

        return OnnxTagger.load(path, threads="auto" if threads is None else threads, precision=precision)
    from slotfill.inference.tagger import SlotTagger

    return SlotTagger.load(path, backend="torch", threads=threads, precision=precision)
