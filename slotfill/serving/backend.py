"""The tagger behind the server: eager PyTorch (``model.pt``) or ONNX Runtime alone (numpy, no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from slotfill.core.backends import choose


class Backend(Protocol):
    name: str
    card: dict  # the model card (SlotModel.card() or the ONNX sidecar's)
    predicts_intent: bool
    precision: str  # what the network runs in: fp32, bf16 (PyTorch, precision=auto) or int8

    def predict(self, texts: Sequence[str], **options) -> list[dict]: ...

    def predict_tokens(self, sentences: Sequence[Sequence[str]], **options) -> list[dict]: ...


class TorchBackend:
    name = "torch"

    def __init__(self, ckpt: str | Path, threads: int | None = None) -> None:
        from slotfill.inference.tagger import SlotTagger

        self.tagger = SlotTagger.load(ckpt, threads=threads)
        self.card = self.tagger.model.card()  # computed once: it hashes the weights
        self.predicts_intent = self.tagger.predicts_intent
        self.precision = self.tagger.precision

    def predict(self, texts: Sequence[str], **options) -> list[dict]:
        return self.tagger.predict(list(texts), **options)

    def predict_tokens(self, sentences: Sequence[Sequence[str]], **options) -> list[dict]:
        return self.tagger.predict_tokens(sentences, **options)


class OnnxBackend:
    name = "onnx"

    def __init__(self, ckpt: str | Path, threads: int | None = None) -> None:
        from slotfill.inference.onnx_tagger import OnnxTagger  # numpy and onnxruntime only

        self.tagger = OnnxTagger.load(ckpt, threads=threads)
        self.card = self.tagger.card
        self.predicts_intent = self.tagger.predicts_intent
        self.precision = self.tagger.precision

    def predict(self, texts: Sequence[str], **options) -> list[dict]:
        return self.tagger.predict(list(texts), **options)

    def predict_tokens(self, sentences: Sequence[Sequence[str]], **options) -> list[dict]:
        return self.tagger.predict_tokens(sentences, **options)


def load_backend(ckpt: str | Path, backend: str = "auto", threads: int | None = None) -> Backend:
    """Load the model once (``auto``: ONNX Runtime for a ``.onnx`` file, else PyTorch); a model that
    cannot load raises a one-line :class:`SlotfillError`."""
    if choose(backend, ckpt) == "torch":
        return TorchBackend(ckpt, threads)
    return OnnxBackend(ckpt, threads)
