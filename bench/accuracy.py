"""Accuracy benchmark: train N seeds per dataset with the presets, test, and tabulate.

    python bench/accuracy.py                       # 5 seeds, ATIS and SNIPS presets + ATIS ablation
    python bench/accuracy.py --seeds 1 --datasets atis --no-ablation

Each run is ``train.py experiment=<dataset> seed=<s>`` in its own folder under
``bench/runs/accuracy/``; finished runs (with a metrics.json) are reused, so an interrupted
benchmark resumes. Model selection uses validation F1 only; test numbers are reported once per run.
Writes ``bench/results/accuracy.md`` and ``bench/results/accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from common import ENV, ROOT, train_command

RUNS = ROOT / "bench" / "runs" / "accuracy"
RESULTS = ROOT / "bench" / "results"

# each row switches parts of the ATIS preset off; the last row is the preset itself
NO_DROPOUT = ["train.word_dropout=0", "train.span_dropout=0"]
NO_INTENT = ["model.intent=false", "model.intent_to_slot=false"]
ABLATION = {
    "plain BiLSTM": ["model.char_dim=0", "model.crf=false", *NO_INTENT, *NO_DROPOUT],
    "+char": ["model.crf=false", *NO_INTENT, *NO_DROPOUT],
    "+char +CRF": [*NO_INTENT, *NO_DROPOUT],
    "+char +CRF +intent": ["model.intent_to_slot=false", *NO_DROPOUT],
    "+char +CRF +intent +intent→slot": NO_DROPOUT,
    "+char +CRF +intent +intent→slot +word/span dropout (preset)": [],
}
METRICS = [
    ("slot F1", "f1"),
    ("intent acc", "intent_accuracy"),
    ("sentence acc", "sentence_accuracy"),
]


def run_one(name: str, overrides: list[str], threads: int, report_only: bool = False) -> dict | None:
    out = RUNS / name
    metrics = out / "metrics.json"
    if metrics.exists():
        return json.loads(metrics.read_text())
    if report_only:
        return None
    out.mkdir(parents=True, exist_ok=True)
    cmd = train_command(out, overrides, threads)
    start = time.perf_counter()
    with open(out / "train.stdout", "w") as log:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=ENV)
    if proc.returncode != 0:
        raise SystemExit(f"run {name} failed (exit {proc.returncode}); see {out / 'train.stdout'}")
    result = json.loads(metrics.read_text())
    print(f"  {name}: test F1 {result['scores']['test']['f1']:.2f} in {time.perf_counter() - start:.0f} s", flush=True)
    return result


def unseen_city_scores(model: str) -> dict:
    """Slot F1 on data/unseen_cities (ATIS-style queries about cities ATIS never mentions)."""
    from slotfill.data import read_split
    from slotfill.metrics import slot_scores
    from slotfill.tagger import SlotTagger

    cols = read_split(ROOT / "data" / "unseen_cities" / "test")
    pred = [r["tags"] for r in SlotTagger.load(model).predict_tokens(cols["tokens"])]

    def cities_only(seqs):
        return [[t if t.endswith("city_name") else "O" for t in s] for s in seqs]

    return {
        "unseen_f1": slot_scores(cols["tags"], pred)["f1"],
        "unseen_city_f1": slot_scores(cities_only(cols["tags"]), cities_only(pred))["f1"],
    }


def mean_std(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def row(label: str, results: list[dict | None], with_unseen: bool) -> str:
    results = [r for r in results if r is not None]
    cells = [mean_std([r["scores"]["test"].get(key) for r in results]) for _, key in METRICS]
    # the validation scores the presets were chosen on, beside the test scores they are reported on
    cells += [mean_std([r["scores"]["valid"].get(key) for r in results]) for _, key in METRICS[:2]]
    cells.append(mean_std([r["train_time_s"] for r in results]))
    cells.append(mean_std([r.get("unseen_city_f1") for r in results]) if with_unseen else "—")
    return f"| {label} | {len(results)} | " + " | ".join(cells) + " |"


def plan(args) -> dict[str, list[tuple[str, list[str]]]]:
    """Runs per table row: ``{row key: [(run name, overrides), ...]}``."""
    rows: dict[str, list[tuple[str, list[str]]]] = {}
    for ds in args.datasets:
        rows[f"{ds}/preset"] = [
            (f"{ds}-preset-seed{s}", [f"experiment={ds}", f"seed={s}"]) for s in range(1, args.seeds + 1)
        ]
    if not args.no_ablation:
        for label, extra in ABLATION.items():
            slug = "-".join(e.split(".")[-1].replace("=", "") for e in extra)
            rows[f"atis/ablation/{label}"] = [
                (
                    f"atis-ablation-{slug}-seed{s}" if extra else f"atis-preset-seed{s}",
                    ["experiment=atis", f"seed={s}", *extra],
                )
                for s in range(1, (args.ablation_seeds or args.seeds) + 1)
            ]
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--ablation-seeds", type=int, default=None, help="seeds per ablation row (default: --seeds)")
    p.add_argument("--datasets", nargs="+", default=["atis", "snips"])
    p.add_argument("--no-ablation", action="store_true")
    p.add_argument("--threads", type=int, default=2, help="torch threads per run")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (with --threads 1, 2 jobs use both cores)")
    p.add_argument("--report-only", action="store_true", help="tabulate finished runs, train nothing")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    rows = plan(args)
    # ATIS preset first, then the ablation, then the other datasets: an interrupted run still
    # leaves the most informative tables complete
    ordered = sorted(rows, key=lambda k: (not k.startswith("atis/preset"), not k.startswith("atis/"), k))
    runs = dict(run for key in ordered for run in rows[key])
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        done = dict(zip(runs, pool.map(lambda kv: run_one(kv[0], kv[1], args.threads, args.report_only), runs.items())))
    for name, r in done.items():
        if r is not None and name.startswith("atis"):
            r.update(unseen_city_scores(r["model_file"]))
    command = f"python bench/accuracy.py --seeds {args.seeds}"
    if args.ablation_seeds:
        command += f" --ablation-seeds {args.ablation_seeds}"
    if args.datasets != ["atis", "snips"]:
        command += " --datasets " + " ".join(args.datasets)
    if args.no_ablation:
        command += " --no-ablation"
    command += f" --threads {args.threads} --jobs {args.jobs}"
    header = (
        "| model | seeds | slot F1 | intent acc | sentence acc | valid slot F1 | valid intent acc "
        "| train time (s) | unseen-city F1 |"
    )
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    lines = [
        "# Accuracy benchmark",
        "",
        f"Command: `{command}`",
        "",
        "Test-set mean ± std over seeds (validation columns: the same runs' selected checkpoints on the "
        "validation split); each run selects its checkpoint on the validation split only "
        f"(the preset's `monitor`: slot F1, or slot F1 and intent accuracy averaged). {args.jobs} run(s) "
        f"at a time with {args.threads} torch thread(s) each on this machine ({os.cpu_count()} cores): "
        "training times include that sharing.",
        "",
    ]
    for ds in args.datasets:
        results = [done[name] for name, _ in rows[f"{ds}/preset"]]
        lines += [
            f"## {ds.upper()} preset (`experiment={ds}`)",
            "",
            header,
            rule,
            row(f"experiment={ds}", results, ds == "atis"),
            "",
        ]
    if not args.no_ablation:
        lines += ["## Ablation on ATIS", "", header, rule]
        for label in ABLATION:
            lines.append(row(label, [done[name] for name, _ in rows[f"atis/ablation/{label}"]], True))
        lines.append("")
    lines.append(
        "Unseen-city F1: slot F1 over city slots on `data/unseen_cities` (ATIS-style queries about cities ATIS "
        "never mentions)."
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "accuracy.md").write_text("\n".join(lines) + "\n")
    keep = ("seed", "test", "valid", "train_time_s", "epochs", "unseen_f1", "unseen_city_f1")
    slim = {k: [{m: done[name].get(m) for m in keep} for name, _ in v if done[name]] for k, v in rows.items()}
    (RESULTS / "accuracy.json").write_text(json.dumps(slim, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
