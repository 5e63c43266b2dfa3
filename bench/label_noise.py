"""How much of a preset's test error is label disagreement: ``slotfill evaluate``'s count, over seeds.

    python bench/label_noise.py                       # the ATIS preset's seeds 1..5
    python bench/label_noise.py --runs atis-preset-seed1 atis-preset-seed2 --dataset atis

For each run folder (under ``bench/runs/accuracy/``, trained by ``bench/accuracy.py``) the test
split is scored by ``slotfill evaluate`` (reused when done); its ``label_disagreements`` are the
wrong sentences whose every difference from the gold is one the training split contradicts (the
same words between the same neighbours labelled as the model did, never as the gold; see
``slotfill/evaluation/disagreements.py``). Prints, per run and as mean ± std: sentences with
errors, those that are label disagreements, and the sentence accuracy if they were counted
right; then the disagreements found in most runs, with their evidence.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter

from accuracy import RUNS
from ensemble import evaluate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="atis")
    p.add_argument("--runs", nargs="+", help="run folder names (default: the preset's seeds 1..5)")
    p.add_argument("--examples", type=int, default=12)
    args = p.parse_args()
    runs = args.runs or [f"{args.dataset}-preset-seed{s}" for s in range(1, 6)]
    rows, seen, evidence = [], Counter(), {}
    for name in runs:
        model = RUNS / name / "model.pt"
        out = RUNS / "evaluations" / f"{name}-test"
        scores = evaluate(model, args.dataset, "test", out)
        metrics = json.loads((out / "metrics.json").read_text())
        found = metrics["label_disagreements"]
        n = metrics["n_sentences"]
        rows.append((name, found["error_sentences"], found["sentences"], scores["sentence_accuracy"], n))
        report = (out / "report.md").read_text()
        for line in report.split("## Errors that are label disagreements", 1)[1].split("\n## ", 1)[0].splitlines():
            if line.startswith("| ") and line[2:3].isdigit():
                cells = [c.strip() for c in line.strip("|").split("|")]
                key = (int(cells[0]), cells[2], cells[3], cells[4])
                seen[key] += 1
                evidence[key] = cells
    print(f"Command: `python bench/label_noise.py --dataset {args.dataset} --runs {' '.join(runs)}`\n")
    print("| run | sentences with errors | label disagreements | share | sentence acc | if counted right |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, errors, agreed, acc, n in rows:
        print(
            f"| {name} | {errors} | {agreed} | {100 * agreed / errors:.1f}% | {acc:.2f} "
            f"| {acc + 100 * agreed / n:.2f} |"
        )

    def ms(values: list[float]) -> str:
        return (
            f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"
        )

    errors = [r[1] for r in rows]
    agreed = [r[2] for r in rows]
    share = [100 * a / e for a, e in zip(agreed, errors)]
    acc = [r[3] for r in rows]
    fixed = [r[3] + 100 * r[2] / r[4] for r in rows]
    print(f"| mean ± std | {ms(errors)} | {ms(agreed)} | {ms(share)}% | {ms(acc)} | {ms(fixed)} |")
    print(f"\nThe disagreements most runs share (of {len(runs)} runs):\n")
    print("| runs | # | sentence | words | gold | model | in training, in this context: as model / as gold |")
    print("|---:|---:|---|---|---|---|---:|")
    for key, count in seen.most_common(args.examples):
        print(f"| {count} | " + " | ".join(evidence[key]) + " |")


if __name__ == "__main__":
    main()
