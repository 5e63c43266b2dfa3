"""Score a tagger on a labelled split and write metrics, a Markdown report and error analysis."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from .metrics import all_scores, same_intent, slot_report
from .schema import metrics_record, write_atomic, write_json
from .spans import bio_spans


def slot_type(tag: str) -> str:
    return "O" if tag == "O" else tag[2:]


def label_coverage(gold: Sequence[Sequence[str]], known_tags: Sequence[str]) -> tuple[int, int, float]:
    """Gold slot labels the model knows: ``(known labels, gold labels, share of gold slots with a known label)``."""
    known = {slot_type(t) for t in known_tags if t != "O"}
    counts: Counter = Counter(slot for tags in gold for slot, _, _ in bio_spans(tags))
    total = sum(counts.values())
    covered = sum(n for slot, n in counts.items() if slot in known)
    return sum(1 for slot in counts if slot in known), len(counts), covered / total if total else 1.0


def label_coverage_warning(
    gold: Sequence[Sequence[str]], known_tags: Sequence[str], threshold: float = 0.5
) -> str | None:
    """A one-line warning when fewer than ``threshold`` of the gold slots have a label the model knows."""
    labels_known, labels, share = label_coverage(gold, known_tags)
    if share >= threshold:
        return None
    return (
        f"the model knows {labels_known} of the {labels} slot labels in this data ({100 * share:.0f}% of gold slots): "
        "scores will be near zero; was it trained on another data set?"
    )


def confusions(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Where slot types are mixed up.

    ``spans``: gold spans whose exact boundaries were predicted with another type, counted by
    ``(gold type, predicted type)``; ``tokens``: token-level type confusions including ``O``.
    """
    span_conf: Counter = Counter()
    token_conf: Counter = Counter()
    for g, p in zip(gold, pred):
        pred_spans = {(s, e): t for t, s, e in bio_spans(p)}
        for t, s, e in bio_spans(g):
            other = pred_spans.get((s, e))
            if other is not None and other != t:
                span_conf[(t, other)] += 1
        for gt, pt in zip(g, p):
            a, b = slot_type(gt), slot_type(pt)
            if a != b:
                token_conf[(a, b)] += 1
    return {"spans": span_conf, "tokens": token_conf}


def direction_confusions(span_conf: Counter) -> dict:
    """Departure vs arrival mix-ups (``fromloc.*`` <-> ``toloc.*``): the distinction slotfill exists for."""
    out = {"fromloc_as_toloc": 0, "toloc_as_fromloc": 0}
    for (g, p), n in span_conf.items():
        if g.startswith("fromloc.") and p.startswith("toloc."):
            out["fromloc_as_toloc"] += n
        elif g.startswith("toloc.") and p.startswith("fromloc."):
            out["toloc_as_fromloc"] += n
    return out


def evaluate_predictions(
    tokens: Sequence[Sequence[str]],
    gold_tags: Sequence[Sequence[str]],
    pred_tags: Sequence[Sequence[str]],
    gold_intents: Sequence[str] | None,
    pred_intents: Sequence[str] | None,
) -> dict:
    """Every number and table of an evaluation, as plain data."""
    has_intents = pred_intents is not None and gold_intents is not None and any(gold_intents)
    scores = all_scores(
        gold_tags, pred_tags, gold_intents if has_intents else None, pred_intents if has_intents else None
    )
    conf = confusions(gold_tags, pred_tags)
    errors = []
    for i, (tok, g, p) in enumerate(zip(tokens, gold_tags, pred_tags)):
        gi = gold_intents[i] if has_intents else None
        pi = pred_intents[i] if has_intents else None
        if list(g) != list(p) or (has_intents and not same_intent(gi, pi)):
            errors.append(
                {
                    "index": i,
                    "tokens": list(tok),
                    "gold": list(g),
                    "pred": list(p),
                    "gold_intent": gi,
                    "pred_intent": pi,
                }
            )
    return {
        "scores": scores,
        "per_slot": slot_report(gold_tags, pred_tags, as_dict=True),
        "report": slot_report(gold_tags, pred_tags),
        "confusions": conf,
        "direction": direction_confusions(conf["spans"]),
        "errors": errors,
        "n_sentences": len(tokens),
    }


def markdown_report(result: dict, title: str, max_errors: int = 200) -> str:
    s = result["scores"]
    lines = [f"# {title}", "", f"{result['n_sentences']} sentences.", "", "| metric | value |", "|---|---:|"]
    lines += [
        f"| slot precision (seqeval default, conlleval-compatible) | {s['precision']:.2f} |",
        f"| slot recall (default) | {s['recall']:.2f} |",
        f"| slot F1 (default) | {s['f1']:.2f} |",
        f"| slot precision / recall / F1 (strict IOB2) | {s['strict_precision']:.2f} / "
        f"{s['strict_recall']:.2f} / {s['strict_f1']:.2f} |",
        f"| sentence exact match, slots | {s['slot_exact_match']:.2f} |",
    ]
    if "intent_accuracy" in s:
        lines += [
            f"| intent accuracy | {s['intent_accuracy']:.2f} |",
            f"| sentence accuracy (slots and intent) | {s['sentence_accuracy']:.2f} |",
        ]
    d = result["direction"]
    lines += [
        "",
        "## Departure vs arrival",
        "",
        f"- departure spans (`fromloc.*`) tagged as arrivals (`toloc.*`): {d['fromloc_as_toloc']}",
        f"- arrival spans (`toloc.*`) tagged as departures (`fromloc.*`): {d['toloc_as_fromloc']}",
        "",
        "## Per-slot report (seqeval, default mode)",
        "",
        "```",
        result["report"].rstrip(),
        "```",
        "",
        "## Slot-type confusions",
        "",
        "Gold spans predicted with the same boundaries but another type:",
        "",
        "| gold | predicted | count |",
        "|---|---|---:|",
    ]
    lines += [f"| {g} | {p} | {n} |" for (g, p), n in result["confusions"]["spans"].most_common(30)]
    lines += ["", "Token-level type confusions (`O` = no slot):", "", "| gold | predicted | tokens |", "|---|---|---:|"]
    lines += [f"| {g} | {p} | {n} |" for (g, p), n in result["confusions"]["tokens"].most_common(30)]
    errors = result["errors"]
    lines += ["", f"## Sentences with errors ({len(errors)}; first {min(len(errors), max_errors)} shown)", ""]
    for e in errors[:max_errors]:
        head = f"**#{e['index']}** {' '.join(e['tokens'])}"
        if e["gold_intent"] is not None and not same_intent(e["gold_intent"], e["pred_intent"]):
            head += f"  — intent gold `{e['gold_intent']}`, predicted `{e['pred_intent']}`"
        lines += [head, "", "| token | gold | predicted |", "|---|---|---|"]
        for t, g, p in zip(e["tokens"], e["gold"], e["pred"]):
            mark = "" if g == p else " ✗"
            lines.append(f"| {t} | {g} | {p}{mark} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def write_outputs(result: dict, out_dir: Path, card: dict, split: str, facts: dict, max_errors: int = 200) -> dict:
    """Write ``metrics.json``, ``report.md``, ``report.txt`` and ``errors.jsonl``; return the metrics."""
    metrics = metrics_record(
        "evaluate",
        card,
        {split: result["scores"]},
        **facts,
        n_sentences=result["n_sentences"],
        n_error_sentences=len(result["errors"]),
        direction_confusions=result["direction"],
        per_slot=result["per_slot"],
    )
    write_json(out_dir / "metrics.json", metrics)
    title = f"Evaluation of {facts.get('model_file', '')} on {facts.get('data', split)}"
    write_atomic(out_dir / "report.md", markdown_report(result, title, max_errors))
    write_atomic(out_dir / "report.txt", result["report"])
    write_atomic(out_dir / "errors.jsonl", "".join(json.dumps(e) + "\n" for e in result["errors"]))
    return metrics
