"""The seed's lesson as an experiment: plain RNN vs GRU vs LSTM, one vs two directions and layers.

    python bench/cells.py probe          # long-range probe: F1 by distance cue -> value, rnn vs lstm
    python bench/cells.py gradients      # ||d loss / d x_t|| by distance, rnn vs lstm, early in training
    python bench/cells.py forget-bias    # LSTM forget-gate bias 0 / 1 / 3 / 5: early training curves
    python bench/cells.py grid --datasets atis --seeds 1 --epochs 8   # train.py over cell x direction x layers
    python bench/cells.py report         # bench/results/cells.md from the JSON results present

The first three train small models on generated data (probe) in this process, in
seconds to minutes. ``grid`` runs ``train.py`` (the default model without the mention swap, with ``model.cell``,
``model.bidirectional``, ``model.num_layers`` changed; same epochs, hidden size and optimiser:
the same budget) once per dataset x cell x direction x depth x seed, in ``bench/runs/cells/``;
finished runs are reused unless their config differs from today's. The full grid (ATIS and
SNIPS, 3 seeds) is 72 runs, about 1.5 hours alone on 2 cores with ``--epochs atis=30 snips=10``
(about the same number of training sentences for each); ``--datasets/--seeds/--epochs`` run a
part of it. Every part writes ``bench/results/cells_<part>.json`` and its figure (PNG + SVG), and
``bench/results/cells.md`` is rewritten from whatever results exist, with the options each
part ran with.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's slotfill, not an installed one
sys.path.insert(0, str(ROOT / "bench"))

from common import ENV, finished, train_command  # noqa: E402

RESULTS = ROOT / "bench" / "results"
RUNS = ROOT / "bench" / "runs" / "cells"
COLORS = {"rnn": "tab:red", "gru": "tab:green", "lstm": "tab:blue"}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig, name: str) -> None:
    for fmt in ("png", "svg"):
        fig.savefig(RESULTS / f"{name}.{fmt}", format=fmt)
    print(f"wrote {RESULTS / name}.png/.svg", flush=True)


def _write(part: str, options: dict, data: object, seconds: float) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "command": "python bench/cells.py " + " ".join(sys.argv[1:]),
        "options": options,
        "seconds": round(seconds, 1),
        "results": data,
    }
    (RESULTS / f"cells_{part}.json").write_text(json.dumps(record, indent=1) + "\n")


# ------------------------------------------------------------------ probe
def probe(args) -> None:
    import torch
    from probe import probe_data, probe_model, train_probe

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    ks = list(range(0, args.max_k + 1, args.k_step))
    test = probe_data(args.test_size, ks, seed=10_000)
    out: dict = {}
    for cell in args.cells:
        for seed in range(1, args.seeds + 1):
            model = probe_model(cell, hidden=args.hidden, seed=seed)
            train = probe_data(args.train_size, ks, seed=seed)
            history = train_probe(
                model, train, steps=args.steps, lr=args.lr, seed=seed, every=args.every, valid=test, by_distance=True
            )
            out.setdefault(cell, []).append({"seed": seed, "history": history})
            print(
                f"  probe {cell} seed {seed}: F1 " + " ".join(f"{h['step']}:{h['f1']:.0f}" for h in history), flush=True
            )
    _write(args.name, vars_of(args), out, time.perf_counter() - start)
    shown = show_steps(args)
    fig = _figure(12, 3.8)
    axes = fig.subplots(1, len(shown) + 1)
    for ax, step in zip(axes, shown):
        for cell, runs in out.items():
            for i, r in enumerate(runs):
                (h,) = [h for h in r["history"] if h["step"] == step]
                ks_, f1 = zip(*sorted((int(k), v) for k, v in h["f1_by_k"].items()))
                ax.plot(
                    ks_, f1, marker="o", markersize=2, color=COLORS[cell], alpha=0.7, label=cell if i == 0 else None
                )
        ax.axhline(50, color="grey", linestyle=":", linewidth=1)
        ax.set(
            xlabel="k (filler words between cue and city)",
            ylabel="slot F1 (%)",
            title=f"after {step} steps",
            ylim=(-2, 102),
        )
    ax = axes[-1]
    for cell, runs in out.items():
        for i, r in enumerate(runs):
            steps, vf1 = zip(*[(h["step"], h["f1"]) for h in r["history"]])
            ax.plot(steps, vf1, color=COLORS[cell], alpha=0.7, label=cell if i == 0 else None)
    ax.set(xlabel="training step", ylabel="slot F1, all k (%)", title="learning curves", ylim=(-2, 102))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"Long-range probe: 1-layer left-to-right cells, hidden {args.hidden}, k = 0..{args.max_k}", fontsize=10
    )
    _save(fig, f"cells_{args.name}")


def show_steps(args) -> list[int]:
    """The evaluation steps whose F1-by-k curves the probe figure shows (three by default)."""
    evaluated = list(range(0, args.steps + 1, args.every)) if args.every else [args.steps]
    wanted = getattr(args, "show_steps", None) or [args.steps // 3, 2 * args.steps // 3, args.steps]
    return sorted({min(evaluated, key=lambda s, w=w: abs(s - w)) for w in wanted})


# -------------------------------------------------------------- gradients
def gradients(args) -> None:
    import torch
    from probe import gradient_norms, probe_data, probe_model, train_probe

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    ks = list(range(0, args.max_k + 1, args.k_step))
    fixed = probe_data(args.sentences, [args.length - 5], seed=77)  # 3 prefix words + cue + k fillers + city
    out: dict = {}
    for cell in args.cells:
        model = probe_model(cell, hidden=args.hidden, seed=args.seed)
        train = probe_data(args.train_size, ks, seed=args.seed)
        done = 0
        for step in sorted(set(args.at_steps)):
            train_probe(model, train, steps=step - done, lr=args.lr, seed=args.seed + step)
            done = step
            out.setdefault(cell, {})[step] = gradient_norms(model, fixed)
        print(
            f"  gradients {cell}: "
            + "; ".join(f"step {s}: d=0 {v[0]:.2e}, d={len(v) - 1} {v[-1]:.2e}" for s, v in out[cell].items()),
            flush=True,
        )
    _write("gradients", vars_of(args), out, time.perf_counter() - start)
    fig = _figure(6.5, 4.2)
    ax = fig.subplots()
    styles = ["-", "--", ":", "-."]
    for cell, by_step in out.items():
        for i, (step, norms) in enumerate(sorted(by_step.items())):
            ax.semilogy(
                range(len(norms)),
                [max(n, 1e-30) for n in norms],
                color=COLORS[cell],
                linestyle=styles[i % len(styles)],
                label=f"{cell}, step {step}",
            )
    ax.set(
        xlabel="distance from the loss (tokens)",
        ylabel="median ||d loss / d x_t||",
        title=f"Gradient reaching the input, {args.length}-token sentences",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    _save(fig, "cells_gradients")


# ------------------------------------------------------------ forget bias
def forget_bias(args) -> None:
    import torch
    from probe import probe_data, probe_model, train_probe

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    ks = list(range(args.min_k, args.max_k + 1, args.k_step))
    test = probe_data(args.test_size, ks, seed=10_000)
    out: dict = {}
    for bias in args.biases:
        for seed in range(1, args.seeds + 1):
            model = probe_model("lstm", hidden=args.hidden, forget_bias=bias, seed=seed)
            train = probe_data(args.train_size, ks, seed=seed)
            hist = train_probe(model, train, steps=args.steps, lr=args.lr, seed=seed, every=args.every, valid=test)
            out.setdefault(str(bias), []).append({"seed": seed, "history": hist})
            print(f"  forget bias {bias} seed {seed}: F1 " + " ".join(f"{h['f1']:.0f}" for h in hist), flush=True)
    _write("forget_bias", vars_of(args), out, time.perf_counter() - start)
    fig = _figure(11, 3.8)
    ax1, ax2 = fig.subplots(1, 2)
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for i, (bias, runs) in enumerate(out.items()):
        color = cmap(i / max(len(out) - 1, 1))
        for j, r in enumerate(runs):
            h = r["history"]
            ax1.plot(
                [x["step"] for x in h],
                [x["f1"] for x in h],
                color=color,
                alpha=0.8,
                label=f"forget bias {bias}" if j == 0 else None,
            )
            pts = [(x["step"], x["loss"]) for x in h if not math.isnan(x["loss"])]
            ax2.plot(*zip(*pts), color=color, alpha=0.8, label=f"forget bias {bias}" if j == 0 else None)
    ax1.set(
        xlabel="training step",
        ylabel="slot F1 on the probe test set (%)",
        ylim=(-2, 102),
        title=f"LSTM, k = {args.min_k}..{args.max_k} filler words",
    )
    ax2.set(
        xlabel="training step", ylabel="training loss (mean over the interval)", yscale="log", title="training loss"
    )
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, "cells_forget_bias")


# ------------------------------------------------------------------ grid
def grid_plan(args) -> list[tuple[str, bool, int]]:
    """(cell, bidirectional, layers) of every grid cell, in a fixed order."""
    directions = [d == "bi" for d in args.directions]
    return [
        (c, bi, n) for c in args.cells for bi in (False, True) if bi in directions for n in (1, 2) if n in args.layers
    ]


def grid_name(ds: str, cell: str, bi: bool, layers: int, seed: int, epochs: int) -> str:
    return f"{ds}-{cell}-{'bi' if bi else 'uni'}-{layers}L-e{epochs}-s{seed}"


def grid_epochs(args, ds: str) -> int:
    """Epochs for ``ds``: ``--epochs 30`` for all, or ``--epochs atis=30 snips=10`` per dataset."""
    plain = [int(e) for e in args.epochs if "=" not in e]
    named = dict(e.split("=", 1) for e in args.epochs if "=" in e)
    if ds in named:
        return int(named[ds])
    if plain:
        return plain[-1]
    raise SystemExit(f"--epochs: no value for {ds} (give N or {ds}=N)")


def _train_grid_run(name: str, overrides: list[str], threads: int) -> None:
    run_dir = RUNS / name
    run_dir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with open(run_dir / "train.stdout", "w") as log:
        proc = subprocess.run(
            train_command(run_dir, overrides, threads), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=ENV
        )
    if proc.returncode != 0:
        raise SystemExit(f"run {name} failed; see {run_dir / 'train.stdout'}")
    print(f"  {name}: {time.perf_counter() - t:.0f} s", flush=True)


def grid(args) -> None:
    from concurrent.futures import ThreadPoolExecutor

    start = time.perf_counter()
    plan = []
    for seed in range(1, args.seeds + 1):
        for ds in args.datasets:
            epochs = grid_epochs(args, ds)
            for cell, bi, layers in grid_plan(args):
                plan.append((ds, cell, bi, layers, seed, epochs, grid_name(ds, cell, bi, layers, seed, epochs)))
    overrides = {
        name: [
            f"data={ds}",
            f"model.cell={cell}",
            f"model.bidirectional={str(bi).lower()}",
            f"model.num_layers={layers}",
            f"seed={seed}",
            f"trainer.max_epochs={epochs}",
            "train.mention_swap=0",  # the grid ran before the swap joined the default: the lesson is the cells'
            "plots=false",
        ]
        for ds, cell, bi, layers, seed, epochs, name in plan
    }
    done = {name for name in overrides if finished(RUNS / name, overrides[name], args.threads, args.report_only)}
    todo = [name for name in overrides if name not in done]
    if todo and not args.report_only:
        print(f"{len(todo)} of {len(plan)} runs to train, {args.jobs} at a time", flush=True)
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(_train_grid_run, name, overrides[name], args.threads) for name in todo]
            for f in futures:
                f.result()
        done.update(todo)
    out = []
    for ds, cell, bi, layers, seed, epochs, name in plan:
        metrics = RUNS / name / "metrics.json"
        if name in done:
            m = json.loads(metrics.read_text())
            out.append(
                {
                    "dataset": ds,
                    "cell": cell,
                    "bidirectional": bi,
                    "layers": layers,
                    "seed": seed,
                    "epochs": epochs,
                    "test_f1": m["scores"]["test"]["f1"],
                    "valid_f1": m["scores"]["valid"]["f1"],
                    "train_time_s": m["train_time_s"],
                    "epochs_run": m["epochs"],
                }
            )
    previous = RESULTS / f"cells_{args.name}.json"
    if args.report_only and previous.exists():  # redraw only: keep the command and time that trained
        old = json.loads(previous.read_text())
        previous.write_text(json.dumps({**old, "results": out}, indent=1) + "\n")
    else:
        _write(args.name, vars_of(args), out, time.perf_counter() - start)
    if not out:
        return
    datasets = sorted({r["dataset"] for r in out}, key=args.datasets.index)
    fig = _figure(5.5 * len(datasets), 4)
    axes = fig.subplots(1, len(datasets), squeeze=False)[0]
    variants = [(bi, layers) for bi in (False, True) for layers in (1, 2)]
    for ax, ds in zip(axes, datasets):
        for c, cell in enumerate(("rnn", "gru", "lstm")):
            for v, (bi, layers) in enumerate(variants):
                vals = [
                    r["test_f1"]
                    for r in out
                    if (r["dataset"], r["cell"], r["bidirectional"], r["layers"]) == (ds, cell, bi, layers)
                ]
                if not vals:
                    continue
                x = v + (c - 1) * 0.27
                ax.bar(
                    x,
                    statistics.mean(vals),
                    width=0.27,
                    color=COLORS[cell],
                    label=cell if not any(b.get_label() == cell for b in ax.containers) else None,
                    yerr=statistics.stdev(vals) if len(vals) > 1 else None,
                )
                ax.plot([x] * len(vals), vals, "k.", markersize=3)
        ax.set_xticks(
            range(len(variants)), [f"{'bi' if bi else 'uni'}, {n} layer{'s' * (n > 1)}" for bi, n in variants]
        )
        lo = min(r["test_f1"] for r in out if r["dataset"] == ds)
        ax.set_ylim(max(0, lo - 5), 100)
        ax.set(ylabel="test slot F1 (%)", title=f"{ds}: {grid_epochs(args, ds)} epochs, {args.seeds} seed(s)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, f"cells_{args.name}")


# ----------------------------------------------------------------- report
def report(_args=None) -> None:
    """bench/results/cells.md from the JSON results present."""
    lines = [
        "# Cells: plain RNN vs GRU vs LSTM",
        "",
        "Generated by `python bench/cells.py report` from `bench/results/cells_*.json`; each section names",
        "the command and options that produced it. Machine: 2 shared CPU cores, torch CPU build.",
        "",
    ]
    parts = {f.stem[len("cells_") :]: json.loads(f.read_text()) for f in sorted(RESULTS.glob("cells_*.json"))}
    for gname, g in parts.items():
        if not gname.startswith("grid"):
            continue
        lines += [
            f"## Benchmarks (`{gname}`): test slot F1, %",
            "",
            f"Command: `{g['command']}` ({g['seconds']:.0f} s).",
            "",
            "The default model (`conf/model/bilstm.yaml`, `conf/train.yaml`) without the mention swap, with",
            "only the cell, the directions and the layers changed: word 100 + char-CNN + lexicon features,",
            "hidden 128 per direction, dropout 0.3, word/span/lexicon dropout, no CRF, no intent head; Adam",
            "0.002; early stopping patience 8; the best epoch by validation F1. Epochs: "
            + ", ".join(f"{ds} {e}" for ds, e in sorted({(r["dataset"], r["epochs"]) for r in g["results"]}))
            + ".",
            "",
        ]
        lines += [
            "| dataset | cell | direction | layers | seeds | test F1 | valid F1 | train s |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        keys = sorted(
            {(r["dataset"], r["cell"], r["bidirectional"], r["layers"]) for r in g["results"]},
            key=lambda k: (k[0], ["rnn", "gru", "lstm"].index(k[1]), k[2], k[3]),
        )
        for ds, cell, bi, layers in keys:
            rs = [
                r
                for r in g["results"]
                if (r["dataset"], r["cell"], r["bidirectional"], r["layers"]) == (ds, cell, bi, layers)
            ]
            lines.append(
                f"| {ds} | {cell} | {'bi' if bi else 'uni'} | {layers} | {len(rs)} | "
                f"{_ms([r['test_f1'] for r in rs])} | {_ms([r['valid_f1'] for r in rs])} | "
                f"{statistics.mean(r['train_time_s'] for r in rs):.0f} |"
            )
        lines += ["", f"![{gname}](cells_{gname}.png)", ""]
    for name, p in parts.items():
        if not name.startswith("probe"):
            continue
        o = p["options"]
        steps = show_steps(argparse.Namespace(**o))
        lines += [
            f"## Long-range probe (`{name}`): slot F1 % by k",
            "",
            f"Command: `{p['command']}` ({p['seconds']:.0f} s).",
            "",
            f"`i want to leave|reach <k fillers> CITY`: k in 0..{o['max_k']} (step {o['k_step']}), "
            f"{o['train_size']} training sentences, Adam (lr {o['lr']}, batch 32), 1-layer left-to-right "
            f"cells, hidden {o['hidden']}. 50% is chance (the span found, its type a coin flip).",
            "",
        ]
        ks = sorted({int(k) for runs in p["results"].values() for r in runs for k in r["history"][-1]["f1_by_k"]})
        picks = ks if len(ks) <= 11 else [ks[round(i * (len(ks) - 1) / 10)] for i in range(11)]
        lines += [
            "| cell | seed | step | all k | " + " | ".join(f"k={k}" for k in picks) + " |",
            "|---|---:|---:|---:|" + "---:|" * len(picks),
        ]
        for cell, runs in p["results"].items():
            for r in runs:
                for h in r["history"]:
                    if h["step"] in steps:
                        lines.append(
                            f"| {cell} | {r['seed']} | {h['step']} | {h['f1']:.0f} | "
                            + " | ".join(f"{h['f1_by_k'][str(k)]:.0f}" for k in picks)
                            + " |"
                        )
        lines += ["", f"![{name}](cells_{name}.png)", ""]
    if "gradients" in parts:
        g = parts["gradients"]
        lines += [
            "## Gradient norms by distance",
            "",
            f"Command: `{g['command']}` ({g['seconds']:.0f} s).",
            "",
            "Median over sentences of ||d loss / d x_t|| (loss: the last token's tag only).",
            "",
            "| cell | step | d=0 | d=5 | d=10 | d=20 | d=" + str(g["options"]["length"] - 1) + " |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for cell, by_step in g["results"].items():
            for step, v in by_step.items():
                picks = [v[d] if d < len(v) else float("nan") for d in (0, 5, 10, 20)] + [v[-1]]
                lines.append(f"| {cell} | {step} | " + " | ".join(f"{x:.1e}" for x in picks) + " |")
        lines += ["", "![gradients](cells_gradients.png)", ""]
    if "forget_bias" in parts:
        f = parts["forget_bias"]
        o = f["options"]
        lines += [
            "## LSTM forget-gate bias (probe test slot F1 % during training)",
            "",
            f"Command: `{f['command']}` ({f['seconds']:.0f} s). k = {o['min_k']}..{o['max_k']}.",
            "",
        ]
        steps = [h["step"] for h in next(iter(f["results"].values()))[0]["history"]]
        lines += [
            "| forget bias | seed | " + " | ".join(f"step {s}" for s in steps) + " |",
            "|---:|---:|" + "---:|" * len(steps),
        ]
        for bias, runs in f["results"].items():
            for r in runs:
                lines.append(f"| {bias} | {r['seed']} | " + " | ".join(f"{h['f1']:.0f}" for h in r["history"]) + " |")
        lines += ["", "![forget bias](cells_forget_bias.png)", ""]
    (RESULTS / "cells.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'cells.md'}")


def _ms(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def vars_of(args) -> dict:
    return {k: v for k, v in vars(args).items() if k not in ("func", "out")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="part", required=True)

    s = sub.add_parser("probe", help="F1 by distance between cue and slot value, rnn vs lstm")
    s.add_argument("--cells", nargs="+", default=["rnn", "lstm"])
    s.add_argument("--seeds", type=int, default=3)
    s.add_argument("--max-k", type=int, default=40)
    s.add_argument("--k-step", type=int, default=2)
    s.add_argument("--steps", type=int, default=1500)
    s.add_argument("--every", type=int, default=100)
    s.add_argument("--train-size", type=int, default=4000)
    s.add_argument("--test-size", type=int, default=1050)
    s.add_argument("--hidden", type=int, default=32)
    s.add_argument("--lr", type=float, default=3e-3)
    s.add_argument("--show-steps", type=int, nargs="+", help="steps whose F1-by-k curves are drawn")
    s.add_argument("--name", default="probe", help="results file name (cells_NAME.json/.png): keeps two probes")
    s.set_defaults(func=probe)

    s = sub.add_parser("gradients", help="||d loss/d x_t|| against distance, rnn vs lstm, early in training")
    s.add_argument("--cells", nargs="+", default=["rnn", "lstm"])
    s.add_argument("--length", type=int, default=45, help="tokens per sentence")
    s.add_argument("--sentences", type=int, default=200)
    s.add_argument("--at-steps", type=int, nargs="+", default=[0, 100, 400])
    s.add_argument("--max-k", type=int, default=40)
    s.add_argument("--k-step", type=int, default=2)
    s.add_argument("--train-size", type=int, default=4000)
    s.add_argument("--hidden", type=int, default=32)
    s.add_argument("--lr", type=float, default=3e-3)
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(func=gradients)

    s = sub.add_parser("forget-bias", help="LSTM forget-gate bias 0 vs 1 vs larger: early training curves")
    s.add_argument("--biases", type=float, nargs="+", default=[0.0, 1.0, 3.0, 5.0])
    s.add_argument("--seeds", type=int, default=2)
    s.add_argument("--min-k", type=int, default=10)
    s.add_argument("--max-k", type=int, default=30)
    s.add_argument("--k-step", type=int, default=1)
    s.add_argument("--steps", type=int, default=600)
    s.add_argument("--every", type=int, default=50)
    s.add_argument("--train-size", type=int, default=4000)
    s.add_argument("--test-size", type=int, default=500)
    s.add_argument("--hidden", type=int, default=32)
    s.add_argument("--lr", type=float, default=3e-3)
    s.set_defaults(func=forget_bias)

    s = sub.add_parser("grid", help="train.py over cell x direction x layers x seeds on the benchmarks")
    s.add_argument("--datasets", nargs="+", default=["atis", "snips"])
    s.add_argument("--seeds", type=int, default=3)
    s.add_argument("--epochs", nargs="+", default=["30"], help="N, or DATASET=N per dataset (the same budget)")
    s.add_argument("--jobs", type=int, default=1, help="runs trained at once (each with --threads)")
    s.add_argument("--cells", nargs="+", default=["rnn", "gru", "lstm"], choices=["rnn", "gru", "lstm"])
    s.add_argument("--directions", nargs="+", default=["uni", "bi"], choices=["uni", "bi"])
    s.add_argument("--layers", nargs="+", type=int, default=[1, 2], choices=[1, 2])
    s.add_argument("--report-only", action="store_true", help="tabulate finished runs, train nothing")
    s.add_argument("--name", default="grid", help="results file name (cells_NAME.json/.png): keeps two grids")
    s.set_defaults(func=grid)

    s = sub.add_parser("report", help="bench/results/cells.md from the results present")
    s.set_defaults(func=report)
    for name, sp in sub.choices.items():
        if name != "report":
            sp.add_argument("--threads", type=int, default=2, help="torch threads")
        sp.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: bench/results)")
    args = p.parse_args()
    set_results(args.out)
    args.func(args)
    if args.part != "report":
        report()


def set_results(folder: Path) -> None:
    """Where JSON, figures and cells.md go; grid runs go to ``runs/`` inside it unless it is bench/results."""
    global RESULTS, RUNS
    if folder.resolve() != RESULTS.resolve():
        RUNS = folder / "runs"
    RESULTS = folder
    RESULTS.mkdir(parents=True, exist_ok=True)


if __name__ == "__main__":
    main()
