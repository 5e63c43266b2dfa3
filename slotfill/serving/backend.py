"""The tagger behind the server: eager PyTorch (``model.pt``) or ONNX Runtime alone (numpy, no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from slotfill.errors import ConfigError

BACKENDS = ("torch", "onnx")


class Backend(Protocol):
    name: str
    card: dict  # the model card (SlotModel.card() or the ONNX sidecar's)
    predicts_intent: bool

    def predict(self, texts: Sequence[str], **options) -> list[dict]: ...

    def predict_tokens(self, sentences: Sequence[Sequence[str]], **options) -> list[dict]: ...


class TorchBackend:
    name = "torch"

    def __init__(self, ckpt: str | Path, threads: int | None = None) -> None:
        from slotfill.inference.tagger import SlotTagger

        self.tagger = SlotTagger.load(ckpt, threads=threads)
        self.card = self.tagger.model.card()  # computed once: it hashes the weights
        self.predicts_intent = self.tagger.predicts_intent

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

    def predict(self, texts: Sequence[str], **options) -> list[dict]:
        return self.tagger.predict(list(texts), **options)

    def predict_tokens(self, sentences: Sequence[Sequence[str]], **options) -> list[dict]:
        return self.tagger.predict_tokens(sentences, **options)


def load_backend(ckpt: str | Path, backend: str = "torch", threads: int | None = None) -> Backend:
    """Load the model once; a model that cannot load raises a one-line :class:`SlotfillError`."""
    if backend == "torch":
        return TorchBackend(ckpt, threads)
    if backend == "onnx":
        return OnnxBackend(ckpt, threads)
    raise ConfigError(f"backend={backend!r}: choose one of {', '.join(BACKENDS)}")
