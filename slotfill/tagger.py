"""The Python API: load a trained tagger and tag raw sentences.

>>> from slotfill import SlotTagger
>>> tagger = SlotTagger.load("outputs/.../model.pt")
>>> tagger.predict(["i want to leave taipei and arrive in boston"])[0]["spans"]
[{'slot': 'fromloc.city_name', 'text': 'taipei', ...}, {'slot': 'toloc.city_name', 'text': 'boston', ...}]

Only torch and slotfill's network code are imported here (no Lightning, Hydra or datasets),
so a cold start stays short.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .encoding import collate, encode_tokens
from .errors import CheckpointError, SlotfillError
from .models import NetConfig, SlotNet, decode_intents, decode_tags
from .spans import bio_spans
from .tokenize import Token, tokenize
from .vocab import Vocabularies, join_intent

MAX_TOKENS = 512  # longer inputs are tagged in windows of this many tokens
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "int8": None}


def read_checkpoint(path: str | Path) -> dict:
    """Read a slotfill ``model.pt`` or Lightning ``.ckpt`` without executing code from it.

    Returns ``{"net", "vocabs", "state_dict", ...}`` with the network's own parameter names.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt, truncated, not a torch file, or holding arbitrary objects
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first[:200]})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: not a slotfill checkpoint")
    if "slotfill" in raw:  # a Lightning checkpoint written during training
        state = dict(raw["slotfill"])
        prefix = "net."
        state["state_dict"] = {
            k[len(prefix) :]: v for k, v in raw.get("state_dict", {}).items() if k.startswith(prefix)
        }
    elif {"net", "vocabs", "state_dict"} <= set(raw):
        state = raw
    else:
        raise CheckpointError(f"{path}: not a slotfill checkpoint (no slotfill model or vocabularies inside)")
    return state


def build_net(state: dict, path: str | Path = "<checkpoint>") -> tuple[SlotNet, Vocabularies]:
    """Rebuild the network from a checkpoint's own config (never from the current YAML)."""
    try:
        vocabs = Vocabularies.from_dict(state["vocabs"])
        cfg = NetConfig.from_dict(state["net"])
        net = SlotNet(cfg, len(vocabs.words), len(vocabs.chars), vocabs.tags.itos, len(vocabs.intents))
        net.load_state_dict(state["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError, SlotfillError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: checkpoint does not match a slotfill model ({first[:200]})") from None
    return net.eval(), vocabs


class SlotTagger:
    """A trained slot tagger: raw sentences in, tokens, tags, spans and intent out."""

    def __init__(self, net: SlotNet, vocabs: Vocabularies, source: str = "", meta: dict | None = None) -> None:
        self.net = net
        self.vocabs = vocabs
        self.source = source
        self.meta = meta or {}
        self.tags = vocabs.tags.itos
        self._decode_params = net.decode_params()
        self._backend = None  # an ONNX Runtime session, if loaded with backend="onnx"
        self._autocast: torch.dtype | None = None  # bfloat16 network arithmetic, if asked for

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
        if precision not in PRECISIONS:
            raise CheckpointError(f"precision={precision!r}: choose one of {', '.join(PRECISIONS)}")
        if precision == "bf16" and backend != "torch":
            raise CheckpointError("precision='bf16' needs backend=torch (the ONNX graphs are float32 or int8)")
        if precision == "int8" and backend != "onnx":
            raise CheckpointError("precision='int8' needs backend=onnx (the int8 graph export.py writes)")
        if threads:
            torch.set_num_threads(int(threads))
        state = read_checkpoint(path)
        net, vocabs = build_net(state, path)
        meta = {k: v for k, v in state.items() if k not in ("state_dict", "vocabs")}
        tagger = cls(net, vocabs, str(path), meta)
        tagger._autocast = PRECISIONS[precision]
        if backend == "onnx":
            from .onnx_backend import OnnxEmissions

            tagger._backend = OnnxEmissions.for_checkpoint(path, threads=threads, precision=precision)
        elif backend != "torch":
            raise CheckpointError(f"unknown backend {backend!r} (expected 'torch' or 'onnx')")
        return tagger

    @property
    def predicts_intent(self) -> bool:
        return self.net.intent_head is not None

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
        model_inputs = [[sentences[i][j] for j in k] for i, k in enumerate(keep)]
        pieces, owners = [], []
        for i, toks in enumerate(model_inputs):
            for s in range(0, len(toks), MAX_TOKENS):
                pieces.append(toks[s : s + MAX_TOKENS])
                owners.append(i)
        outputs = self._run(pieces, batch_size)
        merged: list[dict] = [{"tags": [], "probs": [], "intent": None} for _ in sentences]
        for i, out in zip(owners, outputs):
            merged[i]["tags"] += out["tags"]
            merged[i]["probs"] += out["probs"]
            if merged[i]["intent"] is None:  # a long sentence's intent is its first window's
                merged[i]["intent"] = out["intent"]
        results = []
        for sent, k, m in zip(sentences, keep, merged):
            tags = ["O"] * len(sent)
            probs = [1.0] * len(sent)
            for j, t, p in zip(k, m["tags"], m["probs"]):
                tags[j], probs[j] = t, p
            results.append(self._result(sent, tags, probs, m["intent"]))
        return results

    def _result(self, tokens: list[str], tags: list[str], probs: list[float], intent: tuple[str, float] | None) -> dict:
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
        label, confidence = intent if intent is not None and tokens else (None, None)
        return {"tokens": tokens, "tags": tags, "spans": spans, "intent": label, "intent_confidence": confidence}

    @torch.inference_mode()
    def _run(self, pieces: list[list[str]], batch_size: int) -> list[dict]:
        """Tags, per-token confidence and (intent, confidence) for each non-empty piece."""
        out: list[dict] = [{"tags": [], "probs": [], "intent": None} for _ in pieces]
        order = sorted((i for i, p in enumerate(pieces) if p), key=lambda i: len(pieces[i]))
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            batch = collate([encode_tokens(pieces[i], self.vocabs) for i in idx])
            emissions, intent_logits = self.emissions(batch)
            mask = torch.arange(emissions.shape[1])[None, :] < batch["lengths"][:, None]
            tag_ids = decode_tags(emissions, mask, self._decode_params)
            conf = self._token_confidence(emissions, mask, tag_ids)
            intents = self._intents(intent_logits) if intent_logits is not None else [None] * len(idx)
            # one tolist per batch: per-row tensor slicing costs more than the decoding itself
            tag_rows, conf_rows = tag_ids.tolist(), conf.tolist()
            tags = self.tags
            for row, i in enumerate(idx):
                n = len(pieces[i])
                out[i]["tags"] = [tags[t] for t in tag_rows[row][:n]]
                out[i]["probs"] = conf_rows[row][:n]
                out[i]["intent"] = intents[row]
        return out

    def _intents(self, intent_logits: torch.Tensor) -> list[tuple[str, float]]:
        """Intent label and confidence (its least likely atom's probability) per row of a batch."""
        probs = torch.sigmoid(intent_logits)
        picked = decode_intents(probs, self.vocabs.intent_sets)
        rows = probs.tolist()
        return [
            (join_intent(self.vocabs.intents.decode(ids)), round(min(p[i] for i in ids), 4))
            for p, ids in zip(rows, picked)
        ]

    def emissions(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Tag scores and intent logits for an encoded batch (eager PyTorch or ONNX Runtime)."""
        if self._backend is not None:
            return self._backend(batch)
        with torch.autocast("cpu", dtype=self._autocast or torch.bfloat16, enabled=self._autocast is not None):
            emissions, intent = self.net(batch["words"], batch["chars"], batch["char_index"], batch["lengths"])
        # .float() is a no-op for float32 results
        return emissions.float(), intent.float() if intent is not None else None

    def _token_confidence(self, emissions: torch.Tensor, mask: torch.Tensor, tag_ids: torch.Tensor) -> torch.Tensor:
        """Probability of each chosen tag: CRF marginals, or the softmax for softmax models."""
        if self.net.crf is not None:
            p = self.net.crf.marginals(emissions, mask)
        else:
            p = emissions.softmax(-1)
        return p.gather(2, tag_ids.unsqueeze(2)).squeeze(2)
