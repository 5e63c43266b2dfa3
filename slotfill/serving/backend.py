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


class TaggerBackend:
    """A loaded tagger (:func:`slotfill.inference.loading.load_tagger`) as the server uses it."""

    def __init__(self, ckpt: str | Path, backend: str, threads: int | None = None, precision: str = "auto") -> None:
        from slotfill.inference.loading import load_tagger  # ONNX Runtime and numpy only, for a .onnx model

        self.tagger = load_tagger(ckpt, backend, threads, precision)
        self.name = backend
        # computed once (it hashes the weights); an ONNX sidecar carries its own
        self.card = self.tagger.card if backend == "onnx" else self.tagger.model.card()
        self.predicts_intent = self.tagger.predicts_intent
        self.precision = self.tagger.precision

    def predict(self, texts: Sequence[str], **options) -> list[dict]:
        return self.tagger.predict(list(texts), **options)

    def predict_tokens(self, sentences: Sequence[Sequence[str]], **options) -> list[dict]:
        return self.tagger.predict_tokens(sentences, **options)


def load_backend(
    ckpt: str | Path, backend: str = "auto", threads: int | None = None, precision: str = "auto"
) -> Backend:
    """Load the model once (``auto``: ONNX Runtime for a ``.onnx`` file, else PyTorch; ``precision`` as
    for ``predict``); a model that cannot load raises a one-line :class:`SlotfillError`."""
    return TaggerBackend(ckpt, choose(backend, ckpt), threads, precision)
