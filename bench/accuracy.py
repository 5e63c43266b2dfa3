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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "bench" / "runs" / "accuracy"
RESULTS = ROOT / "bench" / "results"

ABLATION = {
    "plain BiLSTM": ["model.char_dim=0", "model.crf=false", "model.intent=false"],
    "+char": ["model.crf=false", "model.intent=false"],
    "+char +CRF": ["model.intent=false"],
    "+char +intent": ["model.crf=false"],
    "full (preset)": [],
}
METRICS = [
    ("slot F1", "f1"),
    ("intent acc", "intent_accuracy"),
    ("sentence acc", "sentence_accuracy"),
]


def run_one(name: str, overrides: list[str], threads: int) -> dict:
    out = RUNS / name
    metrics = out / "metrics.json"
    if metrics.exists():
        return json.loads(metrics.read_text())
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(ROOT / "train.py"), *overrides, f"threads={threads}",
           "trainer.enable_progress_bar=false", f"hydra.run.dir={out}"]
    print("$", " ".join(cmd[1:]), flush=True)
    start = time.perf_counter()
    with open(out / "train.stdout", "w") as log:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if proc.returncode != 0:
        raise SystemExit(f"run {name} failed (exit {proc.returncode}); see {out / 'train.stdout'}")
    result = json.loads(metrics.read_text())
    print(f"  {name}: test F1 {result['test']['f1']:.2f} in {time.perf_counter() - start:.0f} s", flush=True)
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


def row(label: str, results: list[dict], with_unseen: bool) -> str:
    cells = [mean_std([r["test"].get(key) for r in results]) for _, key in METRICS]
    cells.append(mean_std([r["train_time_s"] for r in results]).replace(".00", ""))
    if with_unseen:
        cells.append(mean_std([r.get("unseen_city_f1") for r in results]))
    return f"| {label} | {len(results)} | " + " | ".join(cells) + " |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--ablation-seeds", type=int, default=None, help="seeds per ablation row (default: --seeds)")
    p.add_argument("--datasets", nargs="+", default=["atis", "snips"])
    p.add_argument("--no-ablation", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    seeds = list(range(1, args.seeds + 1))
    header = "| model | seeds | slot F1 | intent acc | sentence acc | train time (s) |"
    lines = ["# Accuracy benchmark", "", f"Command: `python bench/accuracy.py --seeds {args.seeds}`"
             + ("" if args.no_ablation else f" (ablation: {args.ablation_seeds or args.seeds} seeds)"), "",
             "Test-set means ± std over seeds; each run selects its checkpoint on validation F1.", ""]
    all_results: dict = {}
    for ds in args.datasets:
        results = []
        for s in seeds:
            r = run_one(f"{ds}-preset-seed{s}", [f"experiment={ds}", f"seed={s}"], args.threads)
            if ds == "atis":
                r.update(unseen_city_scores(r["model"]))
            results.append(r)
        all_results[f"{ds}/preset"] = results
        lines += [f"## {ds.upper()} preset (`experiment={ds}`)", "",
                  header[:-1] + (" unseen-city F1 |" if ds == "atis" else ""),
                  "|---|---:|---:|---:|---:|---:|" + ("---:|" if ds == "atis" else ""),
                  row(f"experiment={ds}", results, ds == "atis"), ""]
    if not args.no_ablation:
        n = args.ablation_seeds or args.seeds
        lines += ["## Ablation on ATIS", "", header[:-1] + " unseen-city F1 |", "|---|---:|---:|---:|---:|---:|---:|"]
        for label, extra in ABLATION.items():
            results = []
            for s in range(1, n + 1):
                slug = "full" if not extra else "-".join(e.split(".")[1].replace("=", "") for e in extra)
                name = f"atis-preset-seed{s}" if not extra else f"atis-ablation-{slug}-seed{s}"
                r = run_one(name, ["experiment=atis", f"seed={s}", *extra], args.threads)
                r.update(unseen_city_scores(r["model"]))
                results.append(r)
            all_results[f"atis/ablation/{label}"] = results
            lines.append(row(label, results, True))
        lines += ["", "Unseen-city F1: slot F1 over city slots on `data/unseen_cities` (ATIS-style queries about "
                  "cities ATIS never mentions)."]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "accuracy.md").write_text("\n".join(lines) + "\n")
    slim = {k: [{"seed": r["seed"], "test": r["test"], "valid": r["valid"], "train_time_s": r["train_time_s"],
                 **{m: r[m] for m in ("unseen_f1", "unseen_city_f1") if m in r}} for r in v]
            for k, v in all_results.items()}
    (RESULTS / "accuracy.json").write_text(json.dumps(slim, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
