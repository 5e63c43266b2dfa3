"""Per-intent precision, recall, F1 and support, and the intent confusion matrix.

A label is a *set* of atomic intents, as :func:`slotfill.evaluation.metrics.same_intent` compares them:
``atis_flight#atis_airfare`` and ``atis_airfare#atis_flight`` are one class, written with its
atoms sorted. A sentence counts once, for its whole (gold or predicted) set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from slotfill.core.vocab import join_intent, split_intent

NONE = "(none)"  # an empty or missing intent (an empty sentence, a model without an intent head)


def intent_key(label: str | None) -> str:
    """The class of an intent label: its atomic intents, sorted and ``#``-joined."""
    atoms = sorted(set(split_intent(label or "")))
    return join_intent(atoms) if atoms else NONE


def intent_report(gold: Sequence[str | None], pred: Sequence[str | None]) -> dict[str, dict]:
    """``{intent: {precision, recall, f1, support, predicted}}`` in %, by gold support (most first),
    then ``macro avg`` (over intents with gold support) and ``micro avg`` (= intent accuracy)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold intents but {len(pred)} predicted")
    g = [intent_key(x) for x in gold]
    p = [intent_key(x) for x in pred]
    support, predicted = Counter(g), Counter(p)
    correct = Counter(a for a, b in zip(g, p) if a == b)
    rows = {}
    for label in sorted(set(support) | set(predicted), key=lambda k: (-support[k], k)):
        rows[label] = _prf(correct[label], predicted[label], support[label])
    gold_labels = [r for r in rows.values() if r["support"]]
    rows["macro avg"] = {
        k: sum(r[k] for r in gold_labels) / max(len(gold_labels), 1) for k in ("precision", "recall", "f1")
    }
    rows["macro avg"].update(support=len(g), predicted=len(p))
    rows["micro avg"] = _prf(sum(correct.values()), len(p), len(g))
    return rows


def _prf(correct: int, predicted: int, support: int) -> dict:
    precision = 100 * correct / predicted if predicted else 0.0
    recall = 100 * correct / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": support, "predicted": predicted}


def intent_confusion(
    gold: Sequence[str | None], pred: Sequence[str | None], top_k: int | None = None
) -> tuple[list[str], list[list[int]]]:
    """Labels (by gold frequency; the first ``top_k`` kept, the rest merged into ``(other)``) and counts
    ``[gold][pred]``."""
    g = [intent_key(x) for x in gold]
    p = [intent_key(x) for x in pred]
    freq = Counter(g) + Counter(p)
    labels = sorted(freq, key=lambda k: (-Counter(g)[k], -freq[k], k))
    if top_k is not None and len(labels) > top_k:
        keep = set(labels[:top_k])
        labels = [*labels[:top_k], "(other)"]
        g = [x if x in keep else "(other)" for x in g]
        p = [x if x in keep else "(other)" for x in p]
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for a, b in zip(g, p):
        matrix[index[a]][index[b]] += 1
    return labels, matrix


def intent_report_markdown(report: dict[str, dict]) -> list[str]:
    """The report as Markdown table lines."""
    lines = ["| intent | precision | recall | F1 | support | predicted |", "|---|---:|---:|---:|---:|---:|"]
    for label, r in report.items():
        scores = " | ".join(f"{r[k]:.2f}" for k in ("precision", "recall", "f1"))
        lines.append(f"| {label} | {scores} | {r['support']} | {r['predicted']} |")
    return lines
