"""Text for people and programs: score lines, run summaries and predictions (train, evaluate, predict)."""

from __future__ import annotations

import json
from collections.abc import Iterable

FORMATS = ("text", "jsonl")


def score_line(name: str, s: dict) -> str:
    """One line of headline scores for a split (the same keys in training and evaluation)."""
    line = (
        f"{name}: slot F1 {s['f1']:.2f} (P {s['precision']:.2f} R {s['recall']:.2f}; strict F1 "
        f"{s['strict_f1']:.2f})  sentence acc {s['sentence_accuracy']:.2f}"
    )
    if "intent_accuracy" in s:
        line += f"  intent acc {s['intent_accuracy']:.2f}"
    return line


def training_summary(metrics: dict, test_report: str | None, out_dir: str) -> str:
    """What ``train.py`` prints at the end: time, scores per split, the test report, where files are."""
    lines = [f"trained {metrics['dataset']} in {metrics['train_time_s']:.0f} s ({metrics['epochs']} epochs)"]
    lines += [score_line(split, s) for split, s in metrics["scores"].items()]
    if test_report:
        lines.append(test_report.rstrip())
    lines.append(f"model: {metrics['model_file']}\nreports: {out_dir}")
    return "\n".join(lines)


def evaluation_summary(result: dict, name: str, report_path: str) -> str:
    """What ``evaluate.py`` prints: the per-slot report, the score line, confusions, the report's path."""
    d = result["direction"]
    return "\n".join(
        [
            result["report"].rstrip(),
            score_line(name, result["scores"]),
            f"departure->arrival confusions {d['fromloc_as_toloc']}, arrival->departure "
            f"{d['toloc_as_fromloc']}; {len(result['errors'])} sentences with errors",
            f"report: {report_path}",
        ]
    )


def human(result: dict) -> str:
    """A tagged sentence for people: the text, its intent and one line per slot."""
    lines = [result["text"] if result["text"].strip() else "(empty sentence: nothing to tag)"]
    if result["intent"] is not None:
        lines.append(f"  intent: {result['intent']} ({result['intent_confidence']:.2f})")
    for s in result["spans"]:
        lines.append(f"  {s['slot']}: {s['text']} ({s['confidence']:.2f})")
    if result["tokens"] and not result["spans"]:
        lines.append("  (no slots)")
    return "\n".join(lines) + "\n"


def jsonl(result: dict) -> str:
    """A tagged sentence for programs: one JSON object on one line."""
    return json.dumps(result, ensure_ascii=False) + "\n"


def predictions(results: Iterable[dict], fmt: str) -> Iterable[str]:
    """Each result as text in ``fmt`` (``text`` or ``jsonl``)."""
    render = jsonl if fmt == "jsonl" else human
    return (render(r) for r in results)
