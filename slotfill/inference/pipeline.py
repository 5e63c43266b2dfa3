"""Raw text to tagged results, whatever runs the network: tokens, hidden punctuation, windows, spans.

:class:`TextTagger` is the torch-free part of the Python API. :class:`slotfill.inference.tagger.SlotTagger`
(PyTorch, or ONNX Runtime with torch decoding) and :class:`slotfill.inference.onnx_tagger.OnnxTagger`
(ONNX Runtime with numpy decoding) differ only in :meth:`TextTagger._tag`.
"""

from __future__ import annotations

from collections.abc import Sequence

from slotfill.core.entities import entity_parts
from slotfill.core.limits import check_text
from slotfill.core.spans import bio_spans
from slotfill.core.tokenize import Token, tokenize
from slotfill.core.vocab import Vocabularies
from slotfill.errors import ConfigError

MAX_TOKENS = 512  # longer inputs are tagged in windows of this many tokens


def check_confidence(value: object, name: str = "min_confidence") -> float:
    """A confidence threshold in [0, 1], or a one-line :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name}={value!r}: a number from 0 to 1")
    return float(value)


def drop_unsure(result: dict, min_confidence: float) -> dict:
    """The result without its spans less confident than ``min_confidence``: their tokens are tagged
    ``O`` and the spans listed under ``dropped``, so nothing vanishes without a trace."""
    keep, dropped = [], []
    for span in result["spans"]:
        (keep if span["confidence"] >= min_confidence else dropped).append(span)
    tags = list(result["tags"])
    for span in dropped:
        tags[span["token_start"] : span["token_end"]] = ["O"] * (span["token_end"] - span["token_start"])
    return {**result, "tags": tags, "spans": keep, "dropped": dropped}


class TextTagger:
    """Subclasses set ``vocabs`` and implement :meth:`_tag`."""

    vocabs: Vocabularies

    def _tag(self, pieces: list[list[str]], batch_size: int) -> list[dict]:
        """``tags``, ``probs``, ``intent``, ``intent_confidence``, ``intent_ranking`` for each token list.

        Each list holds at most MAX_TOKENS tokens.
        """
        raise NotImplementedError

    def predict(self, texts: str | Sequence[str], batch_size: int = 256, min_confidence: float = 0.0) -> list[dict]:
        """Tag raw sentences; each result has text, tokens, tags, spans (with offsets) and intent.

        ``min_confidence``: spans less confident than this are dropped (:func:`drop_unsure`).
        """
        check_confidence(min_confidence)
        if isinstance(texts, str):
            texts = [texts]
        tokenized = [tokenize(check_text(t, f"text {i}")) for i, t in enumerate(texts, 1)]
        results = self._predict_tokens([[tok.text for tok in toks] for toks in tokenized], batch_size, tokenized)
        for text, toks, res in zip(texts, tokenized, results):
            res["text"] = text
            for span in res["spans"]:
                span["start"] = toks[span["token_start"]].start
                span["end"] = toks[span["token_end"] - 1].end
                span["text"] = text[span["start"] : span["end"]]
                span["value"] = self.vocabs.value_of(span["text"])
        return [drop_unsure(r, min_confidence) for r in results] if min_confidence else results

    def predict_tokens(
        self, sentences: Sequence[Sequence[str]], batch_size: int = 256, min_confidence: float = 0.0
    ) -> list[dict]:
        """Tag pre-tokenised sentences (benchmark format); spans carry token offsets only."""
        check_confidence(min_confidence)
        results = self._predict_tokens([list(s) for s in sentences], batch_size, None)
        return [drop_unsure(r, min_confidence) for r in results] if min_confidence else results

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
        empty = {"intent": None, "intent_confidence": None, "intent_ranking": []}
        merged: list[dict] = [{"tags": [], "probs": [], **empty} for _ in sentences]
        for i, out in zip(owners, self._tag(pieces, batch_size)):
            merged[i]["tags"] += out["tags"]
            merged[i]["probs"] += out["probs"]
            if merged[i]["intent"] is None:  # a long sentence's intent is its first window's
                for key in ("intent", "intent_confidence", "intent_ranking"):
                    merged[i][key] = out.get(key, merged[i][key])
        results = []
        for sent, k, m in zip(sentences, keep, merged):
            tags = ["O"] * len(sent)
            probs = [1.0] * len(sent)
            for j, t, p in zip(k, m["tags"], m["probs"]):
                tags[j], probs[j] = t, p
            results.append(self._result(sent, tags, probs, m["intent"], m["intent_confidence"], m["intent_ranking"]))
        return results

    def _result(
        self,
        tokens: list[str],
        tags: list[str],
        probs: list[float],
        intent: str | None,
        confidence: float | None,
        ranking: list[dict],
    ) -> dict:
        spans = []
        for slot, s, e in bio_spans(tags):
            text = " ".join(tokens[s:e])
            span = {
                "slot": slot,
                "text": text,
                "value": self.vocabs.value_of(text),  # a synonym's value, else the text
                "token_start": s,
                "token_end": e,
                "confidence": round(min(probs[s:e]), 4),
            }
            _, role, group = entity_parts(slot)  # Rasa's roles and groups ride in the slot type
            if role:
                span["role"] = role
            if group:
                span["group"] = group
            spans.append(span)
        if not tokens:
            intent, confidence, ranking = None, None, []
        return {
            "tokens": tokens,
            "tags": tags,
            "spans": spans,
            "intent": intent,
            "intent_confidence": confidence,
            "intent_ranking": ranking,
        }
