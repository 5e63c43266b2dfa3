"""The Python API: load a trained tagger and tag raw sentences.

>>> from slotfill import SlotTagger
>>> tagger = SlotTagger.load("outputs/.../model.pt")
>>> tagger.predict(["i want to leave taipei and arrive in boston"])[0]["spans"]
[{'slot': 'fromloc.city_name', 'text': 'taipei', ...}, {'slot': 'toloc.city_name', 'text': 'boston', ...}]

Only torch and slotfill's model code are imported here (no Lightning, Hydra or datasets),
so a cold start stays short.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .errors import ConfigError
from .model import Forward, SlotModel
from .spans import bio_spans
from .tokenize import Token, tokenize

MAX_TOKENS = 512  # longer inputs are tagged in windows of this many tokens
PRECISIONS = ("fp32", "bf16", "int8")
BACKENDS = ("torch", "onnx")


def _bf16(model: SlotModel) -> Forward:
    """The eager network under bfloat16 autocast; scores come back in float32 for decoding."""

    def forward(batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            emissions, intent = model(batch)
        return emissions.float(), intent.float() if intent is not None else None

    return forward


class SlotTagger:
    """A trained slot tagger: raw sentences in, tokens, tags, spans and intent out."""

    def __init__(self, model: SlotModel, source: str = "", forward: Forward | None = None) -> None:
        self.model = model
        self.source = source
        self._forward = forward  # None: the eager float32 network

    @classmethod
    def load(
        cls, path: str | Path, backend: str = "torch", threads: int | None = None, precision: str = "fp32"
    ) -> SlotTagger:
        """Load ``model.pt`` or a training ``.ckpt`` (``backend="onnx"``: the exported ``.onnx`` beside it).

        ``precision`` trades exactness for speed, decoding always stays in float32:
        ``"bf16"`` runs the eager network in bfloat16 (fast on CPUs with native bfloat16,
        AVX512-BF16 or AMX); ``"int8"`` runs the int8-quantized ONNX graph (``backend="onnx"``).
        Tags can differ from fp32 on near-ties; the speed benchmark measures the agreement.
        """
        if backend not in BACKENDS:
            raise ConfigError(f"backend={backend!r}: choose one of {', '.join(BACKENDS)}")
        if precision not in PRECISIONS:
            raise ConfigError(f"precision={precision!r}: choose one of {', '.join(PRECISIONS)}")
        if precision == "bf16" and backend != "torch":
            raise ConfigError("precision='bf16' needs backend=torch (the ONNX graphs are float32 or int8)")
        if precision == "int8" and backend != "onnx":
            raise ConfigError("precision='int8' needs backend=onnx (the int8 graph export.py writes)")
        if threads is not None:
            if not isinstance(threads, int) or threads < 1:
                raise ConfigError(f"threads={threads!r}: must be a whole number of at least 1")
            torch.set_num_threads(threads)
        model = SlotModel.load(path)
        forward = None
        if backend == "onnx":
            from .onnx_backend import OnnxEmissions  # onnxruntime: imported only when asked for

            forward = OnnxEmissions.for_model(model, path, threads=threads, precision=precision)
        elif precision == "bf16":
            forward = _bf16(model)
        return cls(model, str(path), forward)

    @property
    def vocabs(self):
        return self.model.vocabs

    @property
    def tags(self) -> list[str]:
        return self.model.tags

    @property
    def predicts_intent(self) -> bool:
        return self.model.predicts_intent

    def forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The network's outputs for an encoded batch, on this tagger's backend and precision."""
        return (self._forward or self.model)(batch)

    # ------------------------------------------------------------------ API
    def predict(self, texts: str | Sequence[str], batch_size: int = 256) -> list[dict]:
        """Tag raw sentences; each result has text, tokens, tags, spans (with offsets) and intent."""
        if isinstance(texts, str):
            texts = [texts]
        tokenized = [tokenize(t) for t in texts]
        results = self._predict_tokens([[tok.text for tok in toks] for toks in tokenized], batch_size, tokenized)
        for text, toks, res in zip(texts, tokenized, results):
            res["text"] = text
            for span in res["spans"]:
                span["start"] = toks[span["token_start"]].start
                span["end"] = toks[span["token_end"] - 1].end
                span["text"] = text[span["start"] : span["end"]]
        return results

    def predict_tokens(self, sentences: Sequence[Sequence[str]], batch_size: int = 256) -> list[dict]:
        """Tag pre-tokenised sentences (benchmark format); spans carry token offsets only."""
        return self._predict_tokens([list(s) for s in sentences], batch_size, None)

    # ------------------------------------------------------------ internals
    def _predict_tokens(
        self, sentences: list[list[str]], batch_size: int, tokenized: list[list[Token]] | None
    ) -> list[dict]:
        # Punctuation the training data never had (ATIS has no commas) is tagged O and hidden
        # from the model, as the benchmark text would have been written without it.
        keep = []
        for i, sent in enumerate(sentences):
            if tokenized is None:
                keep.append(list(range(len(sent))))
            else:
                keep.append(
                    [j for j, t in enumerate(tokenized[i]) if not (t.is_punct and t.text not in self.vocabs.words)]
                )
        pieces, owners = [], []
        for i, k in enumerate(keep):
            toks = [sentences[i][j] for j in k]
            for s in range(0, len(toks), MAX_TOKENS):
                pieces.append(toks[s : s + MAX_TOKENS])
                owners.append(i)
        merged: list[dict] = [{"tags": [], "probs": [], "intent": None, "intent_confidence": None} for _ in sentences]
        for i, out in zip(owners, self.model.predict(pieces, batch_size, forward=self._forward)):
            merged[i]["tags"] += out["tags"]
            merged[i]["probs"] += out["probs"]
            if merged[i]["intent"] is None:  # a long sentence's intent is its first window's
                merged[i]["intent"], merged[i]["intent_confidence"] = out["intent"], out["intent_confidence"]
        results = []
        for sent, k, m in zip(sentences, keep, merged):
            tags = ["O"] * len(sent)
            probs = [1.0] * len(sent)
            for j, t, p in zip(k, m["tags"], m["probs"]):
                tags[j], probs[j] = t, p
            results.append(self._result(sent, tags, probs, m["intent"], m["intent_confidence"]))
        return results

    def _result(
        self, tokens: list[str], tags: list[str], probs: list[float], intent: str | None, confidence: float | None
    ) -> dict:
        spans = [
            {
                "slot": slot,
                "text": " ".join(tokens[s:e]),
                "token_start": s,
                "token_end": e,
                "confidence": round(min(probs[s:e]), 4),
            }
            for slot, s, e in bio_spans(tags)
        ]
        if not tokens:
            intent, confidence = None, None
        return {"tokens": tokens, "tags": tags, "spans": spans, "intent": intent, "intent_confidence": confidence}
