"""Raw text to tagged results, whatever runs the network: tokens, hidden punctuation, windows, spans.

:class:`TextTagger` is the torch-free part of the Python API. :class:`slotfill.inference.tagger.SlotTagger`
(PyTorch, or ONNX Runtime with torch decoding) and :class:`slotfill.inference.onnx_tagger.OnnxTagger`
(ONNX Runtime with numpy decoding) differ only in :meth:`TextTagger._tag` and
:meth:`TextTagger._emissions`; what follows the network is shared: spans with Rasa's roles,
groups and synonym values, ``min_confidence`` (:func:`drop_unsure`) and ``nbest``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from slotfill.core.entities import entity_parts
from slotfill.core.limits import MAX_NBEST, MAX_TEXT_CHARS, check_text, unicode_problem
from slotfill.core.settings import whole_number
from slotfill.core.spans import bio_spans
from slotfill.core.tokenize import is_punct, normalize, tokenize
from slotfill.core.vocab import Vocabularies
from slotfill.errors import ConfigError, SlotfillError
from slotfill.inference.numpy_decode import kbest, log_partition, log_softmax

MAX_TOKENS = 512  # longer inputs are tagged in windows of this many tokens


def check_confidence(value: object, name: str = "min_confidence") -> float:
    """A confidence threshold in [0, 1], or a one-line :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name}={value!r}: a number from 0 to 1")
    return float(value)


def _sequence(items: object, name: str, wanted: str) -> Iterable:
    """``items`` when it can be read as a sequence of sentences; a one-line TypeError for what cannot
    (bytes iterate as numbers, a mapping as its keys, None and numbers not at all)."""
    if isinstance(items, (bytes, bytearray)):
        raise TypeError(f"{name}: bytes, not {wanted} (decode them first)")
    if isinstance(items, Mapping) or not isinstance(items, Iterable):
        raise TypeError(f"{name}: {type(items).__name__}, not a list of {wanted}")
    return items


def check_tokens(tokens: list[str], where: str) -> list[str]:
    """``tokens``, or a one-line :class:`SlotfillError` naming ``where``: a sentence :meth:`TextTagger.predict`
    would refuse as text (over :data:`MAX_TEXT_CHARS`, not valid Unicode), or an item that is not a
    token (empty, or holding whitespace: the tokenizer never makes one)."""
    text = " ".join(tokens)
    if text.split() != tokens:
        j = next(j for j, t in enumerate(tokens) if t.split() != [t])
        raise SlotfillError(f"{where}, token {j + 1}: {tokens[j][:40]!r} is not a token (empty, or holding whitespace)")
    if len(text) > MAX_TEXT_CHARS:
        check_text(text, where)
    if not text.isascii():
        for j, t in enumerate(tokens, 1):
            problem = unicode_problem(t, at=False)
            if problem:
                raise SlotfillError(f"{where}, token {j}: {problem}")
    return tokens


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
    """Subclasses set ``vocabs``, ``tags`` and ``precision`` and implement :meth:`_tag` (and
    :meth:`_emissions` for ``nbest``)."""

    vocabs: Vocabularies
    precision: str  # what the network runs in: fp32, bf16 or int8

    def _tag(self, pieces: list[list[str]], batch_size: int) -> list[dict]:
        """``tags``, ``probs``, ``intent``, ``intent_confidence``, ``intent_ranking`` for each token list.

        Each list holds at most MAX_TOKENS tokens.
        """
        raise NotImplementedError

    def predict(
        self, texts: str | Sequence[str], batch_size: int = 256, min_confidence: float = 0.0, nbest: int = 1
    ) -> list[dict]:
        """Tag raw sentences; each result has text, tokens, tags, spans (with offsets) and intent.

        ``min_confidence``: spans less confident than this are dropped (:func:`drop_unsure`);
        ``nbest`` > 1: each result also lists its ``nbest`` likeliest tag sequences (:meth:`_nbest`).
        """
        check_confidence(min_confidence)
        whole_number(nbest, "nbest", maximum=MAX_NBEST)
        texts = [texts] if isinstance(texts, str) else list(_sequence(texts, "texts", "sentences as str"))
        for i, t in enumerate(texts, 1):
            if not isinstance(t, str):
                raise TypeError(f"text {i}: {type(t).__name__}, not a str (predict tags sentences as typed)")
        tokenized = [tokenize(check_text(t, f"text {i}")) for i, t in enumerate(texts, 1)]
        sentences = [[tok.text for tok in toks] for toks in tokenized]
        results = self._predict_tokens(sentences, batch_size, True, nbest)
        for text, toks, res in zip(texts, tokenized, results):
            res["text"] = text
            for span in [*res["spans"], *(s for alt in res.get("nbest", []) for s in alt["spans"])]:
                span["start"] = toks[span["token_start"]].start
                span["end"] = toks[span["token_end"] - 1].end
                span["text"] = text[span["start"] : span["end"]]
                span["value"] = self.vocabs.value_of(span["text"])
        return [drop_unsure(r, min_confidence) for r in results] if min_confidence else results

    def predict_tokens(
        self, sentences: Sequence[Sequence[str]], batch_size: int = 256, min_confidence: float = 0.0, nbest: int = 1
    ) -> list[dict]:
        """Tag pre-tokenised sentences (benchmark format); spans carry token offsets only. Tokens are
        held to what the tokenizer makes and sentences to what ``predict`` takes (:func:`check_tokens`)."""
        check_confidence(min_confidence)
        whole_number(nbest, "nbest", maximum=MAX_NBEST)
        sentences = list(_sequence(sentences, "sentences", "lists of str tokens"))  # a generator is read once
        for i, s in enumerate(sentences):
            # a str is a sequence too (of characters, each tagged as a token); an iterator is read once, here
            words = None if isinstance(s, (str, bytes, Mapping)) or not isinstance(s, Iterable) else list(s)
            if words is None or not all(isinstance(t, str) for t in words):
                raise TypeError(f"sentence {i + 1}: predict_tokens takes lists of str tokens (as typed: predict)")
            sentences[i] = check_tokens(words, f"sentence {i + 1}")
        results = self._predict_tokens(sentences, batch_size, False, nbest)
        return [drop_unsure(r, min_confidence) for r in results] if min_confidence else results

    def _emissions(self, pieces: list[list[str]]) -> tuple[list[np.ndarray], dict]:
        """The network's tag scores ``[T, K]`` for each token list, and the decoding transitions
        (``trans``, ``start``, ``end``, ``log_softmax``) as numpy arrays."""
        raise NotImplementedError

    def _nbest(self, pieces: list[list[str]], n: int, batch_size: int = 256) -> list[list[tuple[list[str], float]]]:
        """The ``n`` likeliest tag sequences of each token list with their log-probabilities: an exact
        k-best Viterbi over the scores and constraints the 1-best decoding uses (CRF transitions, or
        the BIO constraints over the softmax), so the first is the 1-best. The log-probability is the
        CRF's (path score less the log-partition) or the sum of the tokens' log-softmax. Scored
        ``batch_size`` lists at a time, by length: one long list never pads a whole chunk to its size."""
        order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))
        emissions: list[np.ndarray | None] = [None] * len(pieces)
        params: dict = {}
        for start in range(0, len(order), batch_size):
            part = order[start : start + batch_size]
            scored, params = self._emissions([pieces[i] for i in part])
            for i, em in zip(part, scored, strict=True):
                emissions[i] = em
        itos, out = self.tags, []
        for em in emissions:
            em = em.astype(np.float64)
            scores = log_softmax(em) if params["log_softmax"] else em
            norm = 0.0 if params["log_softmax"] else log_partition(em, params["trans"], params["start"], params["end"])
            paths = kbest(scores, params["trans"], params["start"], params["end"], n)
            out.append([([itos[t] for t in path], score - norm) for path, score in paths])
        return out

    def _predict_tokens(
        self, sentences: list[list[str]], batch_size: int, normalised: bool, nbest: int = 1
    ) -> list[dict]:
        # Punctuation the training data never had (ATIS has no commas) is tagged O and hidden
        # from the model, as the benchmark text would have been written without it; pre-tokenised
        # sentences alike, so that evaluate (which tags gold tokens) scores what predict answers.
        keep, only_hidden, words = [], set(), self.vocabs.words
        for i, sent in enumerate(sentences):
            # predict's tokens come normalised; a given one is normalised only if it may be hidden (a word
            # keeps its letters and digits whatever normalize does: the model's encoding normalises it once)
            hidden = [is_punct(t) and (t if normalised else normalize(t)) not in words for t in sent]
            keep.append([j for j, hide in enumerate(hidden) if not hide])
            if sent and not keep[-1]:  # "👍", "?": the model still reads it, for an intent (as Rasa's does)
                keep[-1] = list(range(len(sent)))
                only_hidden.add(i)
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
        for i, (sent, k, m) in enumerate(zip(sentences, keep, merged)):
            tags = ["O"] * len(sent)
            probs = [1.0] * len(sent)
            for j, t, p in zip(k, m["tags"], m["probs"]):
                tags[j], probs[j] = t, p
            if i in only_hidden:  # its tokens read for the intent only: never a slot
                tags, probs = ["O"] * len(sent), [1.0] * len(sent)
            _bridge(tags, k)
            results.append(self._result(sent, tags, probs, m["intent"], m["intent_confidence"], m["intent_ranking"]))
        if nbest > 1:
            # one window only: the sequences of a longer sentence would multiply across its windows
            whole = [i for i, k in enumerate(keep) if 0 < len(k) <= MAX_TOKENS and i not in only_hidden]
            alternatives = (
                self._nbest([[sentences[i][j] for j in keep[i]] for i in whole], nbest, batch_size) if whole else []
            )
            found = dict(zip(whole, alternatives))
            for i, res in enumerate(results):
                # nothing the model tags (no token, or punctuation only): all O, the one sequence, certain;
                # a sentence of several windows has no alternatives scored (its probability unknown)
                certain = not sentences[i] or i in only_hidden
                paths = found.get(i) or [(res["tags"], 0.0 if certain else None)]
                res["nbest"] = [self._alternative(sentences[i], keep[i], tags, lp) for tags, lp in paths]
        return results

    def _alternative(self, tokens: list[str], keep: list[int], tags: list[str], log_p: float | None) -> dict:
        """One of the n-best tag sequences, over every token (hidden punctuation tagged O)."""
        full = list(tags) if len(tags) == len(tokens) else ["O"] * len(tokens)
        if len(tags) != len(tokens):
            for j, t in zip(keep, tags):
                full[j] = t
            _bridge(full, keep)
        spans = [
            {"slot": slot, "text": " ".join(tokens[s:e]), "token_start": s, "token_end": e}
            for slot, s, e in bio_spans(full)
        ]
        p = None if log_p is None else round(math.exp(log_p), 6)
        return {"tags": full, "spans": spans, "log_probability": log_p, "probability": p}

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


def _bridge(tags: list[str], kept: list[int]) -> None:
    """Hidden punctuation inside a span the model tagged whole (``san , francisco``: ``B-x`` and
    ``I-x`` around it) is part of that span (``I-x``), not an ``O`` that would split it in two."""
    if len(kept) == len(tags):
        return
    shown = [False] * len(tags)
    for j in kept:
        shown[j] = True
    after, nxt = ["O"] * len(tags), "O"  # the tag of the next token the model saw, for each position
    for j in range(len(tags) - 1, -1, -1):
        after[j] = nxt
        if shown[j]:
            nxt = tags[j]
    before = "O"
    for j, tag in enumerate(tags):
        if shown[j]:
            before = tag
        elif tag == "O" and after[j].startswith("I-") and before[:2] in ("B-", "I-") and before[2:] == after[j][2:]:
            tags[j] = after[j]
