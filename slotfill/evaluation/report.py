"""Score a tagger on a labelled split and write metrics, a Markdown report and error analysis."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from slotfill.core.files import write_atomic, write_json
from slotfill.core.schema import metrics_record
from slotfill.core.spans import bio_spans, repair_bio, slot_of
from slotfill.core.vocab import split_intent
from slotfill.core.wording import counted
from slotfill.evaluation.calibration import calibration
from slotfill.evaluation.disagreements import PhraseLabels, label_disagreements
from slotfill.evaluation.intents import intent_confusion, intent_report, intent_report_markdown
from slotfill.evaluation.metrics import NO_SLOTS, all_scores, same_intent, same_slots, slot_report


def cell(text: str) -> str:
    """Text for a Markdown table cell: a token's ``|`` would end the cell."""
    return text.replace("|", "\\|")


def slot_type(tag: str) -> str:
    return slot_of(tag) or "O"


def _slot_types(tags: Sequence[str]) -> set[str]:
    """The slot types a tag set holds (``O`` is none)."""
    return {slot_type(t) for t in tags if t != "O"}


def label_coverage(gold: Sequence[Sequence[str]], known_tags: Sequence[str]) -> tuple[int, int, float]:
    """Gold slot labels the model knows: ``(known labels, gold labels, share of gold slots with a known label)``."""
    known = _slot_types(known_tags)
    counts: Counter = Counter(slot for tags in gold for slot, _, _ in bio_spans(tags))
    total = sum(counts.values())
    covered = sum(n for slot, n in counts.items() if slot in known)
    return sum(1 for slot in counts if slot in known), len(counts), covered / total if total else 1.0


def label_coverage_warning(
    gold: Sequence[Sequence[str]], known_tags: Sequence[str], threshold: float = 0.5
) -> str | None:
    """A one-line warning when fewer than ``threshold`` of the gold slots have a label the model knows."""
    return _coverage_said("slot", "scores", label_coverage(gold, known_tags), threshold)


def _coverage_said(what: str, scores: str, coverage: tuple[int, int, float], threshold: float) -> str | None:
    labels_known, labels, share = coverage
    if share >= threshold:
        return None
    return (
        f"the model knows {labels_known} of the {labels} {what} labels in this data ({100 * share:.0f}% of gold "
        f"{what}s): {scores} will be near zero; was it trained on another data set?"
    )


def intent_coverage(gold: Sequence[str], known_intents: Sequence[str]) -> tuple[int, int, float]:
    """Gold intents the model knows (every atom of the label in its vocabulary): ``(known labels, gold labels,
    share of labelled sentences with a known intent)``; sentences without an intent are left out."""
    known = set(known_intents)
    counts: Counter = Counter(g for g in gold if split_intent(g or ""))
    total = sum(counts.values())
    seen = {label for label in counts if set(split_intent(label)) <= known}
    covered = sum(n for label, n in counts.items() if label in seen)
    return len(seen), len(counts), covered / total if total else 1.0


def intent_coverage_warning(gold: Sequence[str], known_intents: Sequence[str], threshold: float = 0.5) -> str | None:
    """A one-line warning when fewer than ``threshold`` of the labelled sentences have an intent the model knows."""
    return _coverage_said("intent", "intent accuracy", intent_coverage(gold, known_intents), threshold)


def unseen_labels(
    gold_tags: Sequence[Sequence[str]],
    gold_intents: Sequence[str] | None,
    known_tags: Sequence[str],
    known_intents: Sequence[str] | None,
) -> dict:
    """The gold slot types and atomic intents the model never saw (sorted): ``{"slots": [...], "intents": [...]}``;
    ``intents`` is None when intents are not scored (``gold_intents`` or ``known_intents`` None)."""
    slots = {slot for tags in gold_tags for slot, _, _ in bio_spans(tags)} - _slot_types(known_tags)
    intents = None
    if gold_intents is not None and known_intents is not None:
        intents = sorted({atom for g in gold_intents for atom in split_intent(g or "")} - set(known_intents))
    return {"slots": sorted(slots), "intents": intents}


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


def has_direction_slots(tags: Sequence[Sequence[str]]) -> bool:
    """Whether any tag is a departure (``fromloc.*``) or arrival (``toloc.*``) slot, as in ATIS."""
    return any(slot_of(t).startswith(("fromloc.", "toloc.")) for seq in tags for t in seq)


def type_matrix(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], top_k: int = 15
) -> tuple[list[str], list[list[int]]]:
    """Token-level slot-type counts ``[gold][pred]`` over ``O`` and the ``top_k`` most frequent gold slot
    types (the rest, and predicted types gold never has, merged into ``(other)``)."""
    freq = Counter(slot_type(t) for g in gold for t in g)
    o = ["O"] if "O" in freq or any(slot_type(t) == "O" for p in pred for t in p) else []
    keep = o + [t for t, _ in Counter({t: n for t, n in freq.items() if t != "O"}).most_common(top_k)]
    index = {t: i for i, t in enumerate(keep)}
    merged = any(slot_type(t) not in index for tags in (*gold, *pred) for t in tags)
    labels = keep + (["(other)"] if merged else [])
    other = len(labels) - 1
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred):
        for gt, pt in zip(g, p):
            matrix[index.get(slot_type(gt), other)][index.get(slot_type(pt), other)] += 1
    return labels, matrix


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
    predictions: Sequence[dict] | None = None,
    top_k: int = 15,
    reference: tuple[str, PhraseLabels] | None = None,
    known: tuple[Sequence[str], Sequence[str] | None] | None = None,
) -> dict:
    """Every number and table of an evaluation, as plain data.

    ``predictions`` (``SlotTagger.predict_tokens`` results: spans with ``confidence``, and
    ``intent_confidence``) adds the calibration of span and intent confidences; ``reference``
    (a name and the training split's :class:`PhraseLabels`), the errors that are label disagreements;
    ``known`` (the model's tags and atomic intents, None without an intent head), the gold labels it never saw.
    """
    has_intents = pred_intents is not None and gold_intents is not None and any(gold_intents)
    scores = all_scores(
        gold_tags, pred_tags, gold_intents if has_intents else None, pred_intents if has_intents else None
    )
    conf = confusions(gold_tags, pred_tags)
    errors = []
    for i, (tok, g, p) in enumerate(zip(tokens, gold_tags, pred_tags)):
        gi = gold_intents[i] if has_intents else None
        pi = pred_intents[i] if has_intents else None
        if not same_slots(g, p) or (has_intents and not same_intent(gi, pi)):
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
        "per_intent": intent_report(gold_intents, pred_intents) if has_intents else None,
        "intent_matrix": intent_confusion(gold_intents, pred_intents, top_k + 5) if has_intents else None,
        "calibration": calibration(gold_tags, gold_intents if has_intents else None, predictions)
        if predictions is not None
        else None,
        "type_matrix": type_matrix(gold_tags, pred_tags, top_k),
        "per_slot": slot_report(gold_tags, pred_tags, as_dict=True),
        "report": slot_report(gold_tags, pred_tags),
        "confusions": conf,
        # data-set-specific: only where the data has departure/arrival slot types
        "direction": direction_confusions(conf["spans"]) if has_direction_slots(gold_tags) else None,
        "errors": errors,
        "disagreements": {"reference": reference[0], "sentences": label_disagreements(errors, reference[1])}
        if reference is not None
        else None,
        "n_sentences": len(tokens),
        # seqeval's 0.00 for no slots in the gold or the predicted tags is a convention, not a score
        "slot_scores_defined": any(t != "O" for tags in (*gold_tags, *pred_tags) for t in tags),
        "unseen_labels": unseen_labels(gold_tags, gold_intents if has_intents else None, known[0], known[1])
        if known is not None
        else None,
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
            f"| intent accuracy (a multi-intent line right only as the exact set) | {s['intent_accuracy']:.2f} |",
            f"| intent accuracy, one-of-gold rule (a multi-intent line right when the prediction is one of "
            f"its intents; {counted(s.get('multi_intent_lines', 0), 'such line')}) | "
            f"{s.get('intent_accuracy_one_of_gold', s['intent_accuracy']):.2f} |",
            f"| sentence accuracy (slots and intent) | {s['sentence_accuracy']:.2f} |",
        ]
    if result.get("report") == NO_SLOTS + "\n":  # seqeval's 0.00 for nothing to find reads as all missed
        lines += ["", f"Slot precision, recall and F1 read 0.00 by convention: {NO_SLOTS}."]
    unseen = result.get("unseen_labels") or {}
    for kind, what in (("slots", "slot types"), ("intents", "intents")):
        if unseen.get(kind):  # scored as errors: the model cannot predict them
            names = ", ".join(f"`{name}`" for name in unseen[kind])
            lines += ["", f"Gold {what} the model never saw ({len(unseen[kind])}; all count as errors): {names}."]
    if result.get("per_intent"):
        lines += [
            "",
            "## Per-intent report",
            "",
            "Multi-intent labels are one class, compared as sets of atomic intents.",
            "",
        ]
        lines += intent_report_markdown(result["per_intent"])
    if result.get("calibration"):
        lines += ["", "## Calibration", "", "Expected calibration error over 10 equal-width confidence bins.", ""]
        lines += ["| prediction | n | mean confidence | accuracy | ECE |", "|---|---:|---:|---:|---:|"]
        for kind, rel in result["calibration"].items():
            if rel["n"]:
                lines.append(
                    f"| {kind} | {rel['n']} | {rel['mean_confidence']:.2f} | {rel['accuracy']:.2f} | {rel['ece']:.2f} |"
                )
            else:  # nothing predicted: no confidence to calibrate
                lines.append(f"| {kind} | 0 (none predicted) | n/a | n/a | n/a |")
    d = result["direction"]
    if d is not None:
        lines += [
            "",
            "## Departure vs arrival",
            "",
            f"- departure spans (`fromloc.*`) tagged as arrivals (`toloc.*`): {d['fromloc_as_toloc']}",
            f"- arrival spans (`toloc.*`) tagged as departures (`fromloc.*`): {d['toloc_as_fromloc']}",
        ]
    lines += [
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
    if result.get("disagreements") is not None:
        lines += disagreements_markdown(result["disagreements"], len(errors))
    lines += ["", f"## Sentences with errors ({len(errors)}; first {min(len(errors), max_errors)} shown)", ""]
    for e in errors[:max_errors]:
        head = f"**#{e['index']}** {' '.join(e['tokens'])}"
        if e["gold_intent"] is not None and not same_intent(e["gold_intent"], e["pred_intent"]):
            head += f"  — intent gold `{e['gold_intent']}`, predicted `{e['pred_intent']}`"
        lines += [head, "", "| token | gold | predicted |", "|---|---|---|"]
        # a gold I-x that starts a chunk reads as the B-x predicted: no mark, as in the scores
        for t, g, p, rg, rp in zip(e["tokens"], e["gold"], e["pred"], repair_bio(e["gold"]), repair_bio(e["pred"])):
            mark = "" if rg == rp else " ✗"
            lines.append(f"| {cell(t)} | {g} | {p}{mark} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def disagreements_markdown(found: dict, n_errors: int, examples: int = 20) -> list[str]:
    """The report's section on errors that are label disagreements (:mod:`.disagreements`)."""
    sentences = found["sentences"]
    lines = [
        "",
        "## Errors that are label disagreements",
        "",
        f"{len(sentences)} of the {n_errors} sentences with errors differ from the gold only where "
        f"{found['reference']} labels the same words between the same neighbouring words (or the same "
        "sentence's intent) the way the model did, and never the way this gold does: a lower bound on the "
        "errors that are annotation disagreements (boundary differences always count as the model's). "
        f"First {min(examples, len(sentences))}:",
        "",
        "| # | sentence | words | gold | model | in training, in this context: as model / as gold |",
        "|---:|---|---|---|---|---:|",
    ]
    for found_one in sentences[:examples]:
        for ev in found_one["evidence"]:
            sentence = cell(" ".join(found_one["tokens"]))
            lines.append(
                f"| {found_one['index']} | {sentence} | {cell(ev['words'])} | {ev['gold']} | "
                f"{ev['model']} | {ev['train_model']} / {ev['train_gold']} |"
            )
    return lines


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
        per_intent=result.get("per_intent"),
        calibration=result.get("calibration"),
        label_disagreements=_disagreement_counts(result),
        slot_scores_defined=result.get("slot_scores_defined", True),
        unseen_labels=result.get("unseen_labels"),
    )
    write_json(out_dir / "metrics.json", metrics)
    ran = ", ".join(str(facts[k]) for k in ("backend", "precision") if facts.get(k))
    title = f"Evaluation of {facts.get('model_file', '')}{f' ({ran})' if ran else ''} on {facts.get('data', split)}"
    write_atomic(out_dir / "report.md", markdown_report(result, title, max_errors))
    write_atomic(out_dir / "report.txt", result["report"])
    write_atomic(out_dir / "errors.jsonl", "".join(json.dumps(e) + "\n" for e in result["errors"]))
    return metrics


def _disagreement_counts(result: dict) -> dict | None:
    found = result.get("disagreements")
    if found is None:
        return None
    return {
        "reference": found["reference"],
        "sentences": len(found["sentences"]),
        "error_sentences": len(result["errors"]),
        "indices": [f["index"] for f in found["sentences"]],
    }
