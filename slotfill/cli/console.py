"""Text for people and programs: score lines, run summaries and predictions (train, evaluate, predict)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from slotfill.core.wording import counted
from slotfill.errors import SlotfillError

FORMATS = ("text", "jsonl", "conll", "seq.out", "rasa")


def score_line(name: str, s: dict, slots_defined: bool = True) -> str:
    """One line of headline scores for a split (the same keys in training and evaluation); without a slot
    in the gold or the predictions (``slots_defined`` false) the slot scores are n/a, not 0.00."""
    slots = (
        f"slot F1 {s['f1']:.2f} (P {s['precision']:.2f} R {s['recall']:.2f}; strict F1 {s['strict_f1']:.2f})"
        if slots_defined
        else "slot F1 n/a (no gold or predicted slots)"
    )
    line = f"{name}: {slots}  sentence acc {s['sentence_accuracy']:.2f}"
    if "intent_accuracy" in s:
        line += f"  intent acc {s['intent_accuracy']:.2f}"
    if s.get("sentences_scored") is not None:  # limited batches: of part of the split
        line += f"  (of {s['sentences_scored']:,} of its {s['sentences_in_split']:,} sentences)"
    return line


def training_summary(metrics: dict, test_report: str | None, out_dir: str) -> str:
    """What ``slotfill train`` prints at the end: time, scores per split, the test report, where files are."""
    lines = [f"trained {metrics['dataset']} in {metrics['train_time_s']:.0f} s ({counted(metrics['epochs'], 'epoch')})"]
    chosen = re.search(r"epoch=(\d+)", Path(str(metrics.get("best_checkpoint") or "")).name)
    if chosen and metrics.get("best_val_score") is not None:  # the scores below are its, not the last epoch's
        lines.append(
            f"selected: epoch {int(chosen.group(1)):02d} by {metrics.get('monitor')} ({metrics['best_val_score']:.2f})"
        )
    lines += [score_line(split, s) for split, s in metrics["scores"].items()]
    if test_report:
        lines.append(test_report.rstrip())
    lines.append(f"model: {metrics['model_file']}\nreports: {out_dir}")
    return "\n".join(lines)


def evaluation_summary(result: dict, name: str, report_path: str) -> str:
    """What ``slotfill evaluate`` prints: the per-slot report, the score line, confusions, the report's path.

    The departure/arrival line appears only for data with ``fromloc.``/``toloc.`` slot types.
    """
    d = result["direction"]
    errors = f"{counted(len(result['errors']), 'sentence')} with errors"
    if d is not None:
        errors = (
            f"departure->arrival confusions {d['fromloc_as_toloc']}, arrival->departure {d['toloc_as_fromloc']}; "
            + errors
        )
    line = score_line(name, result["scores"], result.get("slot_scores_defined", True))
    return "\n".join([result["report"].rstrip(), line, errors, f"report: {report_path}"])


def human(result: dict) -> str:
    """A tagged sentence for people: the text, its intent and one line per slot."""
    lines = [result["text"] if result["text"].strip() else "(empty sentence: nothing to tag)"]
    if result["intent"] is not None:
        lines.append(f"  intent: {result['intent']} ({result['intent_confidence']:.2f})")
    for s in result["spans"]:
        lines.append(f"  {s['slot']}: {s['text']} ({s['confidence']:.2f})")
    for rank, alt in enumerate(result.get("nbest", [])[1:], 2):
        slots = ", ".join(f"{s['slot']}={s['text']}" for s in alt["spans"]) or "no slots"
        p = f"p={alt['probability']:.3f}" if alt["probability"] is not None else "its only sequence"
        lines.append(f"  #{rank} ({p}): {slots}")
    for s in result.get("dropped", []):
        shown = round(s["confidence"], 2)
        if shown > s["confidence"]:  # rounded down: under the threshold, as it was (0.9985 is not 1.00)
            shown -= 0.01
        lines.append(f"  (dropped, under min_confidence: {s['slot']}: {s['text']} ({shown:.2f}))")
    if result["tokens"] and not result["spans"]:
        lines.append("  (no slots)")
    return "\n".join(lines) + "\n"


def jsonl(result: dict) -> str:
    """A tagged sentence for programs: one JSON object on one line."""
    return json.dumps(result, ensure_ascii=False) + "\n"


def conll(result: dict) -> str:
    """A tagged sentence as a CoNLL block (``# intent = ...``, ``token<TAB>tag`` lines, a blank line); a
    blank input line is a block holding only ``# blank line``, so blocks still follow the input's lines."""
    from slotfill.data.formats.conll import sentence

    if not result["tokens"]:
        return "# blank line\n\n"
    return sentence(result["tokens"], result["tags"], result["intent"])


def seq_out(result: dict) -> str:
    """A tagged sentence's tags as one ``seq.out`` line."""
    return " ".join(result["tags"]) + "\n"


def rasa(results: Iterable[dict]) -> str:
    """Tagged sentences as ``- intent:`` items of Rasa NLU YAML (after :data:`~slotfill.data.formats.rasa.HEADER`),
    grouped by predicted intent, slots marked in the original text; blank lines hold no example."""
    from slotfill.data.formats.rasa import example, intent_items

    groups: dict[str, list[str]] = {}
    for r in results:
        if not r["tokens"]:
            continue
        spans = [(s["start"], s["end"], s["slot"], s.get("value")) for s in r["spans"]]
        try:
            groups.setdefault(r["intent"], []).append(example(r["text"], spans))
        except ValueError as e:
            raise SlotfillError(f"format=rasa cannot hold the sentence {r['text'][:80]!r}: {e}") from None
    return intent_items(groups)


def predictions(results: Iterable[dict], fmt: str) -> Iterable[str]:
    """Results as text in ``fmt``: ``text``, ``jsonl``, ``conll``, ``seq.out`` or ``rasa`` (one block of
    ``- intent:`` items for the results given)."""
    if fmt == "rasa":
        return iter([rasa(results)])
    render = {"jsonl": jsonl, "conll": conll, "seq.out": seq_out}.get(fmt, human)
    return (render(r) for r in results)
