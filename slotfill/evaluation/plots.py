"""Figures (matplotlib, Agg; PNG and SVG): learning curves of runs, and an evaluation's figures.

Only matplotlib's object-oriented API is used (``Figure``, no pyplot): nothing global changes,
no display is needed, and importing slotfill never imports matplotlib.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

from slotfill.core.files import write_atomic
from slotfill.errors import ConfigError, DataError, SlotfillError

FORMATS = ("png", "svg")
STALE_TMP_S = 600  # a figure's temporary file this old was left by a writer killed mid-write
PART = re.compile(r"metrics\.part(\d+)\.csv")  # the log of the epochs before a resume (slotfill.training.run_folder)
CURVES = (  # (column in metrics.csv, axis title)
    ("train/loss", "training loss"),
    ("val/f1", "validation slot F1"),
    ("val/intent_accuracy", "validation intent accuracy"),
)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig, path: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """The figure in each format, each file written whole or not at all (a full disk, a Ctrl-C)."""
    if path.suffix.lower() in (".png", ".svg"):  # only these: "curves_lr0.001" keeps its ".001"
        path = path.with_suffix("")
    written = []
    for fmt in formats:
        out = path.with_name(f"{path.name}.{fmt}")
        for left in out.parent.glob(f".{out.name}.*.tmp"):  # a writer of this figure killed mid-write,
            try:  # not one writing it right now (whose file may be renamed into place meanwhile)
                stale = time.time() - left.stat().st_mtime > STALE_TMP_S
            except FileNotFoundError:
                continue
            if stale:
                left.unlink(missing_ok=True)
        drawn = io.BytesIO()
        fig.savefig(drawn, format=fmt)
        written.append(write_atomic(out, drawn.getvalue()))
    return written


# ------------------------------------------------------------------ runs
def read_epochs(run_dir: str | Path) -> list[dict[str, float]]:
    """One dict per epoch from ``RUN_DIR/logs/metrics.csv``, after the ``metrics.partN.csv`` of the
    epochs before each resume (rows of one epoch merged, so logs written before one-row-per-epoch
    read the same, and an epoch a resume did again reads as it was done last); empty values dropped."""
    logs = Path(run_dir) / "logs"
    numbered = {int(m[1]): p for p in logs.glob("metrics.part*.csv") if (m := PART.fullmatch(p.name))}
    parts = [numbered[n] for n in sorted(numbered)]  # not a copy beside them (metrics.part1.bak.csv)
    by_epoch: dict[int, dict[str, float]] = {}
    for path in [*parts, logs / "metrics.csv"]:
        if not path.is_file():
            continue
        with open(path, newline="") as f:
            for n, row in enumerate(csv.DictReader(f), 2):  # line 1 is the header
                if not row.get("epoch"):
                    continue
                values = {k: _number(v, path, n, k) for k, v in row.items() if k and v not in ("", None)}
                by_epoch.setdefault(int(values["epoch"]), {}).update(values)
    return [by_epoch[e] for e in sorted(by_epoch)]


def _number(value: str, path: Path, line: int, column: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(path, line, f"{column}: {value!r} is not a number") from None


def learning_curves(run_dirs: Sequence[str | Path], out: str | Path, labels: Sequence[str] | None = None) -> list[Path]:
    """Training loss, validation slot F1 and validation intent accuracy per epoch, one line per run.

    ``out`` is the file name, with or without ``.png`` / ``.svg`` (any other suffix is part of the
    name); writes PNG and SVG. A folder (existing, or named with a trailing ``/``) gets
    ``learning_curves.png`` / ``.svg`` inside it. Panels with no data in any run (intent accuracy of
    slot-only models) are left out.
    """
    if labels is not None and len(labels) != len(run_dirs):
        raise ConfigError(f"--labels: {len(labels)} given for {len(run_dirs)} run folder(s): give one label a run")
    runs = [(labels[i] if labels else _label(d, run_dirs), read_epochs(d)) for i, d in enumerate(run_dirs)]
    empty = [str(d) for d, (_, epochs) in zip(run_dirs, runs) if not epochs]
    panels = [(k, title) for k, title in CURVES if any(k in e for _, epochs in runs for e in epochs)]
    if empty or not panels:  # a run left out of a figure silently reads as if it had been drawn
        raise SlotfillError(
            f"{', '.join(empty or map(str, run_dirs))}: no epochs logged (logs/metrics.csv): give run folders "
            "that slotfill train wrote, each with one epoch done"
        )
    fig = _figure(4.2 * len(panels), 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, title) in zip(axes, panels):
        for label, epochs in runs:
            pts = [(e["epoch"], e[key]) for e in epochs if key in e]
            if pts:
                ax.plot(*zip(*pts), marker="o", markersize=3, label=label)
            if key == "train/loss":  # validation loss dashed in the same colour
                val = [(e["epoch"], e["val/loss"]) for e in epochs if "val/loss" in e]
                if val:
                    ax.plot(*zip(*val), linestyle="--", color=ax.lines[-1].get_color(), alpha=0.7)
        ax.set_title(title + (" (dashed: validation)" if key == "train/loss" else ""), fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if len(runs) > 1 or labels:
        axes[0].legend(fontsize=8)
    folder = Path(out).is_dir() or str(out).endswith(("/", os.sep))
    return _save(fig, Path(out) / "learning_curves" if folder else Path(out))


def _label(run_dir: str | Path, all_dirs: Sequence[str | Path]) -> str:
    """The shortest trailing part of the path that tells the runs apart."""
    parts = [Path(d).resolve().parts for d in all_dirs]
    own = Path(run_dir).resolve().parts
    for n in range(1, len(own) + 1):
        if len({p[-n:] for p in parts}) == len(parts):
            return "/".join(own[-n:])
    return str(run_dir)


# ----------------------------------------------------------- evaluation
def per_slot_f1(per_slot: dict[str, dict], out: Path) -> list[Path]:
    """Horizontal bars of F1 per slot type (seqeval's per-slot report), support in the labels, each value
    written at its bar; a slot type at F1 0 gets a red mark and a red value, not an invisible bar."""
    rows = [(k, v) for k, v in per_slot.items() if not k.endswith(" avg")]
    rows.sort(key=lambda kv: (-kv[1]["support"], kv[0]))
    fig = _figure(7, max(2.5, 0.22 * len(rows) + 1))
    ax = fig.subplots()
    names = [f"{k} ({v['support']})" for k, v in rows]
    values = [100 * v["f1-score"] for _, v in rows]
    ax.barh(range(len(rows)), values, color="tab:blue")
    for i, value in enumerate(values):
        zero = value == 0
        if zero:  # a bar of length 0 does not show: a red stub marks the row instead
            ax.barh([i], [0.8], color="tab:red")
        color = "tab:red" if zero else "black"
        ax.text(value + 1, i, f"{value:.1f}", va="center", fontsize=6, color=color)
    ax.set_yticks(range(len(rows)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 108)  # room for the value of a bar at 100
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("F1 (%)  — slot type (gold support)")
    ax.set_title("Per-slot F1 (seqeval, default mode)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, out)


def heatmap(labels: Sequence[str], matrix: Sequence[Sequence[int]], title: str, out: Path, axis: str) -> list[Path]:
    """Counts ``matrix[gold][pred]`` coloured by row share (each gold class sums to 1), counts written in."""
    n = len(labels)
    size = max(4.0, 0.42 * n + 2.5)
    fig = _figure(size + 1.2, size)  # the colour bar's width beside a square matrix
    ax = fig.subplots()
    shares = [[c / max(sum(row), 1) for c in row] for row in matrix]
    im = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel(f"predicted {axis}")
    ax.set_ylabel(f"gold {axis}")
    fig.suptitle(title, fontsize=10)  # over the whole figure: an axes title runs into the colour bar
    if n <= 30:
        for i, row in enumerate(matrix):
            for j, c in enumerate(row):
                if c:
                    ax.text(
                        j,
                        i,
                        str(c),
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if shares[i][j] > 0.5 else "black",
                    )
    fig.colorbar(im, ax=ax, shrink=0.7, label="share of the gold row")
    return _save(fig, out)


def confidence_histogram(calibration: dict[str, dict], out: Path) -> list[Path]:
    """Confidence histograms of correct and wrong predictions, spans and intents side by side."""
    kinds = list(calibration)
    fig = _figure(4.5 * len(kinds), 3.4)
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    for ax, kind in zip(axes, kinds):
        bins = calibration[kind]["bins"]
        edges = [b["low"] for b in bins]
        width = bins[0]["high"] - bins[0]["low"]
        right = [round(b["count"] * (b["accuracy"] or 0)) for b in bins]
        wrong = [b["count"] - r for b, r in zip(bins, right)]
        ax.bar(edges, right, width=width, align="edge", color="tab:green", label="correct")
        ax.bar(edges, wrong, width=width, align="edge", bottom=right, color="tab:red", label="wrong")
        ax.set_yscale("symlog")
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"{kind} confidence")
        ax.set_ylabel("predictions")
        ax.set_title(f"{kind}s: {calibration[kind]['n']} predicted", fontsize=10)
        ax.legend(fontsize=8)
    return _save(fig, out)


def reliability_diagram(calibration: dict[str, dict], out: Path) -> list[Path]:
    """Accuracy against mean confidence per bin (the diagonal is perfect calibration), with ECE."""
    kinds = list(calibration)
    fig = _figure(4.2 * len(kinds), 4.4)
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    for ax, kind in zip(axes, kinds):
        rel = calibration[kind]
        bins = [b for b in rel["bins"] if b["count"]]
        width = rel["bins"][0]["high"] - rel["bins"][0]["low"]
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        ax.bar(
            [b["low"] for b in bins],
            [b["accuracy"] for b in bins],
            width=width,
            align="edge",
            edgecolor="black",
            color="tab:blue",
            alpha=0.7,
            label="accuracy",
        )
        ax.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            "o",
            color="tab:orange",
            markersize=4,
            label="(mean confidence, accuracy)",
        )
        for b in bins:
            ax.annotate(str(b["count"]), (b["low"] + width / 2, 0.02), ha="center", fontsize=6, rotation=90)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(f"{kind} confidence")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{kind}s: ECE {rel['ece']:.2f}% (n={rel['n']})", fontsize=10)
        # below the axes: inside, any corner can hold bars (high accuracy at high confidence)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    return _save(fig, out)


EVALUATION_FIGURES = ("per_slot_f1", "slot_confusion", "intent_confusion", "confidence_histogram", "reliability")


def evaluation_figures(result: dict, out_dir: str | Path, top_k: int = 15) -> list[Path]:
    """Every figure of an evaluation (what :func:`slotfill.evaluation.report.evaluate_predictions` returns)."""
    out_dir = Path(out_dir)
    per_slot, slot_confusion, intent_confusion, histogram, reliability = EVALUATION_FIGURES
    written = per_slot_f1(result["per_slot"], out_dir / per_slot)
    labels, matrix = result["type_matrix"]
    written += heatmap(
        labels,
        matrix,
        f"Slot-type confusions (tokens; O and the top {top_k} gold slot types)",
        out_dir / slot_confusion,
        "slot type",
    )
    if result.get("intent_matrix"):
        labels, matrix = result["intent_matrix"]
        written += heatmap(labels, matrix, "Intent confusions (sentences)", out_dir / intent_confusion, "intent")
    if result.get("calibration"):
        written += confidence_histogram(result["calibration"], out_dir / histogram)
        written += reliability_diagram(result["calibration"], out_dir / reliability)
    return written
