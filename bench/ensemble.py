"""Ensembles and distillation: k seeds of a model as one ensemble, and single models distilled from it.

    python bench/ensemble.py                                    # ATIS preset: 5 members, 3 students
    python bench/ensemble.py --members 5 --students 3 --dataset atis --jobs 2
    python bench/ensemble.py --members 5 --students 0           # the ensemble alone
    python bench/ensemble.py --model default --students 3       # the default model (plain train.py)
    python bench/ensemble.py --model default --students 3 --distill-temperature 2
    python bench/ensemble.py --model default --students 3 --variant heavy --control \
        --student-settings "train.word_dropout=0.15 train.mention_swap=0.6"

1. Seeds 1..k of the preset (``--model preset``: the runs of ``bench/accuracy.py --tables
   presets``) or of the default (``--model default``: ``--tables default``), trained here if
   missing, reused if finished, are combined by ``slotfill ensemble`` into one model file;
2. that file is scored by ``slotfill evaluate`` on the validation and test splits, and so is
   every member (the single-model row is the members' mean);
3. students ``train.py <the members' settings> train.distill_from=<ensemble> seed=s`` (s = 1..n)
   are trained, selected on validation like any run, and tested; with ``--student-reference
   COMMIT`` as many students are trained by that commit's code too (a worktree, the same settings
   and teacher), for what a change to distillation did; with ``--student-settings`` the students
   train with those overrides too (runs named by ``--variant``), and ``--control`` trains as many
   models with the same overrides and no teacher, for what the overrides alone do;
4. batched inference (the test split, the Python API, one thread) of a member and of the
   ensemble, alternated, gives the ensemble's cost; a student has a member's architecture, so
   its speed is a member's.

Writes the table to ``bench/results/ensemble_<dataset>_<members>.md`` (the default's:
``ensemble_<dataset>_default_<members>_w<weight>.md``, ``..._t<temperature>.md`` at a temperature
other than 1) and prints it. Selection uses the
validation split only; the test split is scored once per model.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from accuracy import RUNS, mean_std, run_one
from common import ENV, ROOT, worktree

RESULTS = ROOT / "bench" / "results"
METRICS = (("slot F1", "f1"), ("intent acc", "intent_accuracy"), ("sentence acc", "sentence_accuracy"))


def evaluate(model: Path, dataset: str, split: str, out: Path) -> dict:
    """``slotfill evaluate`` of one model on one split of ``dataset`` (reused when done): its scores."""
    metrics = out / "metrics.json"
    done = metrics.exists() and metrics.stat().st_mtime >= model.stat().st_mtime
    if not done or json.loads(metrics.read_text()).get("data") != f"{dataset}/{split}":
        cmd = [sys.executable, str(ROOT / "evaluate.py"), f"ckpt={model}", f"data={dataset}", f"split={split}"]
        cmd += ["plots=false", "threads=1", f"hydra.run.dir={out}"]
        print("$", " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, cwd=ROOT, env=ENV, check=True, stdout=subprocess.DEVNULL)
    return json.loads(metrics.read_text())["scores"][split]


def scores_of(model: Path, name: str, dataset: str) -> dict:
    folder = RUNS / "evaluations"
    return {split: evaluate(model, dataset, split, folder / f"{name}-{split}") for split in ("valid", "test")}


def speed(models: dict[str, Path], dataset: str, rounds: int = 3) -> dict[str, float]:
    """Sentences per second of batched tagging of the data set's test split, one thread, models alternated."""
    import torch

    sys.path.insert(0, str(ROOT))
    from slotfill.data.load import read_split
    from slotfill.inference.tagger import SlotTagger

    torch.set_num_threads(1)
    tokens = read_split(ROOT.parent / "shared" / "data" / dataset / "test")["tokens"]
    taggers = {name: SlotTagger.load(path) for name, path in models.items()}  # precision=auto, as users run them
    rates: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, tagger in taggers.items():
            start = time.perf_counter()
            tagger.predict_tokens(tokens, batch_size=256)
            rates[name].append(len(tokens) / (time.perf_counter() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="atis", choices=("atis", "snips"))
    p.add_argument("--model", default="preset", choices=("preset", "default"), help="experiment=DATASET or the default")
    p.add_argument("--members", type=int, default=5, help="seeds 1..k of the model in the ensemble")
    p.add_argument("--students", type=int, default=3, help="distilled models (seeds 1..n)")
    p.add_argument("--distill-weight", type=float, default=0.5)
    p.add_argument("--distill-temperature", type=float, default=1.0, help="train.distill_temperature (softmax models)")
    p.add_argument("--jobs", type=int, default=2, help="training runs at once (1 thread each)")
    p.add_argument("--student-reference", help="also train the students with this commit's code (a worktree)")
    p.add_argument("--student-settings", default="", help="more overrides for the students (one string)")
    p.add_argument("--variant", help="a name for --student-settings: in the runs' and the table's names")
    p.add_argument("--control", action="store_true", help="also train as many models with them, no teacher")
    p.add_argument("--replace", action="store_true", help="write over a table another command wrote")
    args = p.parse_args()
    temperature = f"{args.distill_temperature:g}"  # what names the runs is what trains them
    if not args.distill_temperature > 0:
        p.error(f"--distill-temperature {temperature}: must be above 0")
    if temperature != "1" and args.model == "preset":
        p.error("--distill-temperature: the presets have a CRF, whose marginals take no temperature (--model default)")
    extra = args.student_settings.split()
    if bool(extra) != bool(args.variant) or (args.control and not extra):
        p.error("--student-settings and --variant go together (and --control needs them)")
    sys.path.insert(0, str(ROOT))
    ds = args.dataset
    kind = args.model
    # the members' settings: the names and overrides of bench/accuracy.py's runs, so finished ones are reused
    if kind == "preset":
        settings, described = [f"experiment={ds}"], f"experiment={ds}"
    else:
        settings = [] if ds == "atis" else [f"data={ds}"]
        described = "python train.py" + (f" data={ds}" if settings else "")
    heat = temperature != "1"  # T = 1 runs keep the names they had before the setting
    tag = f"w{args.distill_weight}" + (f"-t{temperature}" if heat else "") + (f"-{args.variant}" if extra else "")
    command = (
        f"python bench/ensemble.py --dataset {ds} --model {kind} --members {args.members} --students {args.students} "
        f"--distill-weight {args.distill_weight}"
        + (f" --distill-temperature {temperature}" if heat else "")
        + f" --jobs {args.jobs}"
        + (f" --student-reference {args.student_reference}" if args.student_reference else "")
        + (f' --variant {args.variant} --student-settings "{args.student_settings}"' if extra else "")
        + (" --control" if args.control else "")
    )
    # the preset's tables keep the names they were first written under
    name = (
        f"ensemble_{ds}_{args.members}.md"
        if kind == "preset"
        else f"ensemble_{ds}_{kind}_{args.members}_{tag.replace('-', '_')}.md"
    )
    out = RESULTS / name
    written = _command_in(out)
    if written is not None and _settings(p, written) != _settings(p, command) and not args.replace:
        # before hours of training, not after; --jobs shapes only the training times
        raise SystemExit(
            f"error: {out} holds the table of `{written or 'an unknown command'}`: --replace to write over it, "
            "or rename it first"
        )
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # trains the members that are missing
        list(
            pool.map(lambda s: run_one(f"{ds}-{kind}-seed{s}", [*settings, f"seed={s}"], 1), range(1, args.members + 1))
        )
    ensemble = RUNS / f"{ds}-{kind}-ensemble{args.members}.pt"
    # from the run folders: a member's metrics.json names where it was trained (a worktree, maybe gone since)
    member_files = [str(RUNS / f"{ds}-{kind}-seed{s}" / "model.pt") for s in range(1, args.members + 1)]
    if not ensemble.exists() or any(Path(f).stat().st_mtime > ensemble.stat().st_mtime for f in member_files):
        cmd = [sys.executable, "-m", "slotfill", "ensemble", *member_files, "-o", str(ensemble)]
        subprocess.run(cmd, cwd=ROOT, env=ENV, check=True)
    weight = [f"train.distill_weight={args.distill_weight}"]
    weight += [f"train.distill_temperature={temperature}"] if heat else []
    students = [(f"{ds}-{kind}-distilled{args.members}-{tag}-seed{s}", s) for s in range(1, args.students + 1)]
    controls = [(f"{ds}-{kind}-{args.variant}-seed{s}", s) for s in range(1, args.students + 1)] if args.control else []
    teacher = [f"train.distill_from={ensemble}", *weight]
    runs = [(name, s, teacher) for name, s in students] + [(name, s, []) for name, s in controls]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        done = list(pool.map(lambda r: run_one(r[0], [*settings, *extra, *r[2], f"seed={r[1]}"], 1), runs))
    trained, trained_controls = done[: len(students)], done[len(students) :]
    reference = []
    if args.student_reference:
        tree = worktree(args.student_reference)
        at = tree.name.removeprefix("ref-")
        reference = [(f"{name}@{at}", s) for name, s in students]
        overrides = [*settings, *extra, f"train.distill_from={ensemble}", *weight]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            there = pool.map(lambda ns: run_one(ns[0], [*overrides, f"seed={ns[1]}"], 1, tree=tree), reference)
            trained_there = list(there)
    at = (f", temperature {temperature}" if heat else "") + (f", `{args.student_settings}`" if extra else "")
    rows = {
        f"one model (`{described}`, the members' mean)": [
            scores_of(Path(f), f"{ds}-{kind}-seed{s}", ds) for s, f in enumerate(member_files, 1)
        ],
        f"ensemble of its {args.members} seeds (`slotfill ensemble`)": [scores_of(ensemble, ensemble.stem, ds)],
    }
    if students:
        rows[f"distilled from the ensemble (`train.distill_from`, weight {args.distill_weight}{at})"] = [
            scores_of(Path(t["model_file"]), name, ds) for t, (name, _) in zip(trained, students)
        ]
    if controls:
        rows[f"no teacher, `{args.student_settings}`"] = [
            scores_of(Path(t["model_file"]), name, ds) for t, (name, _) in zip(trained_controls, controls)
        ]
    if reference:
        same = "the same teacher, weight and temperature" if heat else "the same teacher and weight"
        rows[f"distilled by the code of {args.student_reference} ({same})"] = [
            scores_of(Path(t["model_file"]), name, ds) for t, (name, _) in zip(trained_there, reference)
        ]
    rates = speed({"one model": Path(member_files[0]), "ensemble": ensemble}, ds)
    lines = [
        f"## Ensemble and distillation ({ds.upper()})",
        "",
        f"Command: `{command}`. Test-set mean ± std over the models of a row (validation columns: the same "
        f"models on the validation split, where each run selected its checkpoint); {os.cpu_count()} cores, "
        f"{args.jobs} training runs at a time with 1 thread each.",
        "",
        "| model | models | slot F1 | intent acc | sentence acc | valid slot F1 | valid intent acc "
        "| valid sentence acc |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, results in rows.items():
        test = [mean_std([r["test"][k] for r in results]) for _, k in METRICS]
        valid = [mean_std([r["valid"][k] for r in results]) for _, k in METRICS]
        lines.append(f"| {label} | {len(results)} | {' | '.join(test)} | {' | '.join(valid)} |")
    lines += [
        "",
        f"Batched inference ({ds.upper()} test, Python API, batch 256, 1 thread, median of 3 alternated rounds, "
        f"load {os.getloadavg()[0]:.1f}): one model "
        f"{rates['one model']:,.0f} sentences/s, the ensemble {rates['ensemble']:,.0f} "
        f"({rates['one model'] / rates['ensemble']:.1f}x the time); a distilled model has one model's size and speed.",
        "",
    ]
    text = "\n".join(lines)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


def _settings(parser: argparse.ArgumentParser, command: str) -> dict | None:
    """What a ``python bench/ensemble.py ...`` command line sets that shapes its table (not ``--jobs``)."""
    try:
        args = vars(parser.parse_args(shlex.split(command)[2:]))
    except SystemExit:  # not a command this script reads
        return None
    return {k: v for k, v in args.items() if k not in ("jobs", "replace")}


def _command_in(table: Path) -> str | None:
    """The command a results table says it came from (its ``Command: `...``` line), or None."""
    if not table.exists():
        return None
    found = re.search(r"^Command: `([^`]*)`", table.read_text(), re.M)
    return found.group(1) if found else ""


if __name__ == "__main__":
    main()
