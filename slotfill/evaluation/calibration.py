"""Are the confidences calibrated? Outcomes of predicted spans and intents, reliability bins, ECE.

A predicted span is correct when a gold span has the same type and the same boundaries (the
unit seqeval's precision counts); a predicted intent when its set of atoms equals the gold set.
"""

from __future__ import annotations

from collections.abc import Sequence

from slotfill.core.spans import bio_spans
from slotfill.evaluation.metrics import same_intent


def span_outcomes(gold_tags: Sequence[Sequence[str]], results: Sequence[dict]) -> tuple[list[float], list[bool]]:
    """``(confidence, correct)`` of every predicted span; ``results`` as ``SlotTagger.predict_tokens`` gives."""
    conf, ok = [], []
    for gold, res in zip(gold_tags, results):
        gold_spans = set(bio_spans(gold))
        for span in res["spans"]:
            conf.append(float(span["confidence"]))
            ok.append((span["slot"], span["token_start"], span["token_end"]) in gold_spans)
    return conf, ok


def intent_outcomes(gold: Sequence[str], results: Sequence[dict]) -> tuple[list[float], list[bool]]:
    """``(intent_confidence, correct)`` of every sentence with a predicted intent."""
    conf, ok = [], []
    for g, res in zip(gold, results):
        if res.get("intent") is not None and res.get("intent_confidence") is not None:
            conf.append(float(res["intent_confidence"]))
            ok.append(same_intent(g or "", res["intent"]))
    return conf, ok


def reliability(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> dict:
    """Equal-width confidence bins over [0, 1]: count, mean confidence and accuracy of each (fractions), and
    the expected calibration error ``ECE = sum_b n_b / n * |accuracy_b - confidence_b|``, mean confidence and
    accuracy over all (in %; None when nothing was predicted: no confidence to calibrate)."""
    counts = [0] * bins
    conf_sum = [0.0] * bins
    hits = [0] * bins
    for c, ok in zip(confidence, correct):
        b = min(int(c * bins), bins - 1)
        counts[b] += 1
        conf_sum[b] += c
        hits[b] += bool(ok)
    n = sum(counts)
    rows = [
        {
            "low": b / bins,
            "high": (b + 1) / bins,
            "count": counts[b],
            "confidence": conf_sum[b] / counts[b] if counts[b] else None,
            "accuracy": hits[b] / counts[b] if counts[b] else None,
        }
        for b in range(bins)
    ]
    ece = sum(r["count"] / n * abs(r["accuracy"] - r["confidence"]) for r in rows if r["count"]) if n else None
    return {
        "n": n,
        "ece": 100 * ece if ece is not None else None,
        "mean_confidence": 100 * sum(conf_sum) / n if n else None,
        "accuracy": 100 * sum(hits) / n if n else None,
        "bins": rows,
    }


def calibration(gold_tags, gold_intents, results, bins: int = 10) -> dict:
    """``{"span": reliability, "intent": reliability}`` (intent only for models that predict one)."""
    out = {"span": reliability(*span_outcomes(gold_tags, results), bins=bins)}
    if gold_intents is not None and any(r.get("intent") is not None for r in results):
        out["intent"] = reliability(*intent_outcomes(gold_intents, results), bins=bins)
    return out
