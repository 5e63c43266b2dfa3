"""Slot and intent metrics over a whole split, with seqeval's modes written down.

``default`` is seqeval's default mode, which matches conlleval.pl: the numbers papers report
(an ill-formed ``I-x`` after ``O`` starts a new chunk). ``strict`` is IOB2 strict mode, where
only well-formed chunks count.
"""

from __future__ import annotations

from collections.abc import Sequence

from slotfill.core.spans import repair_bio
from slotfill.core.vocab import split_intent

# seqeval (with scikit-learn behind it) takes about 2 s to import: it is imported inside the
# functions that score, so slotfill predict, which never scores, starts without it.


def slot_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], mode: str = "default") -> dict:
    """Micro precision, recall and F1 (in %) of slot chunks, from one pass of seqeval."""
    from seqeval.metrics.sequence_labeling import precision_recall_fscore_support, precision_recall_fscore_support_v1

    _check(gold, pred)
    scheme = _mode(mode).get("scheme")
    kwargs = {"average": "micro", "zero_division": 0}
    if scheme is not None:
        p, r, f, _ = precision_recall_fscore_support_v1(gold, pred, scheme=scheme, **kwargs)
    else:
        p, r, f, _ = precision_recall_fscore_support(gold, pred, **kwargs)
    return {"precision": 100 * float(p), "recall": 100 * float(r), "f1": 100 * float(f)}


NO_SLOTS = "no slots in the gold or the predicted tags: no per-slot scores (slot_exact_match counts the sentences)"


def slot_report(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], mode: str = "default", as_dict: bool = False
) -> str | dict:
    """seqeval's per-slot classification report, as text or (``as_dict``) as a dict."""
    from seqeval.metrics import classification_report

    _check(gold, pred)
    if all(t == "O" for tags in (*gold, *pred) for t in tags):  # a negative set, tagged all O: seqeval fails
        return {} if as_dict else NO_SLOTS + "\n"
    report = classification_report(gold, pred, digits=4, zero_division=0, output_dict=as_dict, **_mode(mode))
    if as_dict:  # numpy scalars -> Python numbers, so the report is plain JSON
        return {
            label: {k: v.item() if hasattr(v, "item") else v for k, v in row.items()} for label, row in report.items()
        }
    return report


def _mode(mode: str) -> dict:
    """seqeval keyword arguments of a mode."""
    if mode == "default":
        return {}
    if mode == "strict":
        from seqeval.scheme import IOB2

        return {"mode": "strict", "scheme": IOB2}
    raise ValueError(f"unknown seqeval mode {mode!r} (expected 'default' or 'strict')")


def _check(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")


def same_slots(gold: Sequence[str], pred: Sequence[str]) -> bool:
    """A sentence's slots are right when its tags read as the same chunks, as default-mode F1 reads
    them: a gold ``I-x`` that starts a chunk equals the ``B-x`` a decoder gives."""
    return repair_bio(gold) == repair_bio(pred)


def same_intent(gold: str, pred: str) -> bool:
    """Intents match when their sets of atomic intents match (``a#b`` == ``b#a``)."""
    return set(split_intent(gold)) == set(split_intent(pred))


def one_of_gold(gold: str, pred: str) -> bool:
    """The lenient rule many papers use on multi-intent lines: the prediction is one of the gold
    intents (every predicted atom is a gold atom); on single-intent lines it equals :func:`same_intent`."""
    p = set(split_intent(pred))
    return bool(p) and p <= set(split_intent(gold))


def sentence_scores(
    gold_tags: Sequence[Sequence[str]],
    pred_tags: Sequence[Sequence[str]],
    gold_intents: Sequence[str] | None = None,
    pred_intents: Sequence[str] | None = None,
) -> dict:
    """Sentence exact-match accuracy of slots (and of slots + intent), and intent accuracy, in %.

    ``intent_accuracy`` scores a multi-intent line (``atis_flight#atis_airfare``) as an exact set;
    ``intent_accuracy_one_of_gold`` counts it right when the prediction is one of its intents.
    """
    n = len(gold_tags)
    slots_ok = [same_slots(g, p) for g, p in zip(gold_tags, pred_tags)]
    out = {"slot_exact_match": 100 * sum(slots_ok) / max(n, 1)}
    if pred_intents is not None and gold_intents is not None:
        intent_ok = [same_intent(g, p) for g, p in zip(gold_intents, pred_intents)]
        out["intent_accuracy"] = 100 * sum(intent_ok) / max(n, 1)
        out["intent_accuracy_one_of_gold"] = (
            100 * sum(one_of_gold(g, p) for g, p in zip(gold_intents, pred_intents)) / max(n, 1)
        )
        out["multi_intent_lines"] = sum(len(split_intent(g)) > 1 for g in gold_intents)
        out["sentence_accuracy"] = 100 * sum(a and b for a, b in zip(slots_ok, intent_ok)) / max(n, 1)
    else:
        out["sentence_accuracy"] = out["slot_exact_match"]
    return out


def all_scores(
    gold_tags: Sequence[Sequence[str]],
    pred_tags: Sequence[Sequence[str]],
    gold_intents: Sequence[str] | None = None,
    pred_intents: Sequence[str] | None = None,
) -> dict:
    """Every headline number: default-mode and strict P/R/F1, exact match, intent accuracy (in %)."""
    out = slot_scores(gold_tags, pred_tags)
    out.update({f"strict_{k}": v for k, v in slot_scores(gold_tags, pred_tags, mode="strict").items()})
    out.update(sentence_scores(gold_tags, pred_tags, gold_intents, pred_intents))
    return out


def joint_score(scores: dict) -> float:
    """The checkpoint-selection score of joint models (``monitor=val/joint``): slot F1 and intent accuracy
    weighted equally; without an intent head, slot F1."""
    if "intent_accuracy" in scores:
        return (scores["f1"] + scores["intent_accuracy"]) / 2
    return scores["f1"]
