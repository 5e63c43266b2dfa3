"""What a training setting costs: short ``train.py`` runs of each variant, alternated, one thread.

    python bench/train_cost.py --table default-intent --rows 1 4 6 7 --epochs 3 --rounds 3
    python bench/train_cost.py --table preset-joint --epochs 2 --rounds 3
    python bench/train_cost.py --reference 93760e3 --epochs 4 --rounds 3
    python bench/train_cost.py --reference 93760e3 --as-users-run --rounds 2
    python bench/train_cost.py --reference 93760e3 --table precision --rows 1 --epochs 4 --rounds 3
    python bench/train_cost.py --reference 93760e3 --together --epochs 4 --rounds 5
    python bench/train_cost.py --table preset-precision --together --epochs 4 --rounds 3

With ``--reference COMMIT...`` the rows are the default training of this checkout and of those commits
(each checked out once under ``bench/runs/ref-COMMIT``), each with its own defaults; settings the
commit does not have yet are left out of its command; a ``--table`` given beside it adds its rows,
run by this checkout. ``--as-users-run`` times plain
``python train.py`` (every default, its own thread count, all epochs, test and figures included).

Each round runs every variant once, in turn, for ``--epochs`` epochs on ATIS (no test, no
figures), so all variants meet the machine's load alike; a run's CPU time is its own process's
(``wait4``), which other processes do not inflate the way they inflate wall time. The table gives
the median over rounds of the fit's wall time (``train_time_s``) and of the process's CPU
seconds, and each variant's ratio to the first row. The machine's load average is printed beside.

On a VM whose speed swings by up to twice within a minute (``python bench/machine_swing.py``),
runs in turn meet different machines; ``--together`` runs a round's variants at the same time
instead, one core each (two variants on two cores), so
that every round compares them on the same machine; its ratios are the medians of each round's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from accuracy import DEFAULT_INTENT
from common import ROOT, checkout_env, worktree

# the ATIS preset without and with the co-interaction of its two tasks (each row pins the setting)
PRESET_JOINT = {
    f"experiment=atis, model.co_interaction={on}": ["experiment=atis", f"model.co_interaction={on}"]
    for on in ("false", "true")
}
# the LSTM layers' training arithmetic (train.precision; auto is bf16 on a CPU with AMX)
PRECISION = {f"train.precision={p}": [f"train.precision={p}"] for p in ("fp32", "bf16")}
# the ATIS preset (which pins fp32) in float32 and with the default's bfloat16 LSTM layers
PRESET_PRECISION = {
    f"experiment=atis, train.precision={p}": ["experiment=atis", f"train.precision={p}"] for p in ("fp32", "auto")
}
TABLES = {
    "default-intent": DEFAULT_INTENT,
    "preset-joint": PRESET_JOINT,
    "precision": PRECISION,
    "preset-precision": PRESET_PRECISION,
}


def short_run(epochs: int) -> list[str]:
    """The settings of a short, timed run: ``epochs`` epochs, one thread, no test, no figures."""
    return [
        f"trainer.max_epochs={epochs}",
        "callbacks.early_stopping.patience=100",
        "test_after_fit=false",
        "plots=false",
        "threads=1",
    ]


def known_to(tree: Path, overrides: list[str]) -> list[str]:
    """The overrides whose top-level setting ``tree``'s ``conf/train.yaml`` has (an older commit lacks newer ones)."""
    import yaml

    keys = set(yaml.safe_load((tree / "conf" / "train.yaml").read_text())) | {"trainer", "callbacks", "data", "model"}
    return [o for o in overrides if o.split("=", 1)[0].split(".", 1)[0] in keys]


def start(overrides: list[str], epochs: int | None, data: list[str], tree: Path = ROOT) -> tuple:
    """Start one training run (``epochs`` None: as users run it); :func:`finish` waits for it."""
    out = tempfile.TemporaryDirectory(prefix="train_cost.")
    settings = known_to(tree, [*data, *overrides, *(short_run(epochs) if epochs else [])])
    cmd = [sys.executable, str(tree / "train.py"), *settings, "trainer.enable_progress_bar=false"]
    cmd.append(f"hydra.run.dir={out.name}")
    proc = subprocess.Popen(cmd, cwd=tree, env=checkout_env(tree), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, cmd, out


def finish(started: tuple) -> tuple[float, float]:
    """``(fit wall seconds, process CPU seconds)`` of a started run."""
    proc, cmd, out = started
    with out:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[1:])} failed: {proc.stderr.read().decode()[-2000:]}")
        metrics = json.loads((Path(out.name) / "metrics.json").read_text())
        return metrics["train_time_s"], usage.ru_utime + usage.ru_stime


def run(overrides: list[str], epochs: int | None, data: list[str], tree: Path = ROOT) -> tuple[float, float]:
    """``(fit wall seconds, process CPU seconds)`` of one training run (``epochs`` None: as users run it)."""
    return finish(start(overrides, epochs, data, tree))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", choices=TABLES, help="rows to time (default: default-intent, or none with --reference)")
    p.add_argument("--rows", type=int, nargs="+", help="rows of the table (1 = first; default: all)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", default="atis", choices=("atis", "snips"))
    p.add_argument("--reference", nargs="+", help="commits: compare the default training of this checkout with theirs")
    p.add_argument("--as-users-run", action="store_true", help="plain python train.py (all epochs, own threads)")
    p.add_argument(
        "--together", action="store_true", help="run a round's variants at the same time (as many as there are cores)"
    )
    args = p.parse_args()
    if args.together and args.as_users_run:
        p.error("--together times one-thread runs: not with --as-users-run (its own thread count)")
    if args.reference:
        trees = {"this checkout": ROOT, **{f"{commit} (reference)": worktree(commit) for commit in args.reference}}
        rows = [(label, []) for label in trees]
    else:
        trees, rows = {}, []
    table = args.table or (None if args.reference else "default-intent")
    if table:
        chosen = list(TABLES[table].items())
        chosen = [chosen[n - 1] for n in args.rows] if args.rows else chosen
        rows[1:1] = chosen
    if args.together and len(rows) > (os.cpu_count() or 1):  # more would time the overload, not the variants
        p.error(f"--together runs every variant on a core of its own: {len(rows)} variants, {os.cpu_count()} cores")
    epochs = None if args.as_users_run else args.epochs
    data = [] if args.data == "atis" else [f"data={args.data}"]
    times: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in rows}
    loads = []
    for r in range(args.rounds):
        if args.together:  # every variant at once, one core each: each meets the same machine
            began = time.perf_counter()
            started = [(label, start(overrides, epochs, data, trees.get(label, ROOT))) for label, overrides in rows]
            for label, run_ in started:
                times[label].append(finish(run_))
            loads.append(os.getloadavg()[0])
            took = time.perf_counter() - began
            for label, _ in rows:
                wall, cpu = times[label][-1]
                print(f"round {r + 1}: {label}: fit {wall:.1f} s, CPU {cpu:.1f} s ({took:.0f} s, together)")
            continue
        for label, overrides in rows:
            began = time.perf_counter()
            times[label].append(run(overrides, epochs, data, trees.get(label, ROOT)))
            loads.append(os.getloadavg()[0])
            wall, cpu = times[label][-1]
            print(f"round {r + 1}: {label}: fit {wall:.1f} s, CPU {cpu:.1f} s ({time.perf_counter() - began:.0f} s)")
    command = "python bench/train_cost.py " + " ".join(sys.argv[1:])
    print(f"\nCommand: `{command}`; load average during the runs {min(loads):.1f}–{max(loads):.1f}.\n")
    print("| variant | fit s (median) | CPU s (median) | fit × first | CPU × first |")
    print("|---|---:|---:|---:|---:|")
    base_wall = statistics.median(w for w, _ in times[rows[0][0]])
    base_cpu = statistics.median(c for _, c in times[rows[0][0]])
    first = rows[0][0]
    for label, _ in rows:
        wall = statistics.median(w for w, _ in times[label])
        cpu = statistics.median(c for _, c in times[label])
        if args.together:  # the median of the rounds' own ratios: each round ran both on one machine
            fit_x = statistics.median(a[0] / b[0] for a, b in zip(times[label], times[first]))
            cpu_x = statistics.median(a[1] / b[1] for a, b in zip(times[label], times[first]))
        else:
            fit_x, cpu_x = wall / base_wall, cpu / base_cpu
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {fit_x:.2f} | {cpu_x:.2f} |")


if __name__ == "__main__":
    main()
