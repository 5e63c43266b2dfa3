"""Speed benchmark on this machine: training throughput, inference, latency, cold start, memory.

    python bench/speed.py                 # trains the default model and the ATIS preset once each
    python bench/speed.py --skip-train --model outputs/.../model.pt   # inference figures only

Writes ``bench/results/speed.md`` and ``bench/results/speed.json``. Every figure is the median
of several repetitions (``--repeats``); training throughput is the median over full epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ENV, ROOT, train_command

RUNS = ROOT / "bench" / "runs" / "speed"
RESULTS = ROOT / "bench" / "results"
SENTENCE = "i want to leave taipei and arrive in boston on friday morning"
UNRECORDED = "unknown (not recorded)"


def machine() -> dict:
    import torch

    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }


def run_measured(cmd: list[str], stdout, cwd: Path = ROOT) -> tuple[int, float, float]:
    """Run a command in ``cwd``; return its exit status, wall seconds and its own peak RSS in MB (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=stdout, stderr=subprocess.STDOUT, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - start, usage.ru_maxrss / 1024


def train(name: str, overrides: list[str], threads: int) -> dict:
    """One training run in a subprocess; returns its metrics plus peak RSS."""
    out = RUNS / name
    cmd = train_command(out, overrides, threads)
    with open(RUNS / f"{name}.log", "w") as log:
        code, seconds, rss = run_measured(cmd, log)
    if code != 0:
        raise SystemExit(f"training {name} failed; see {RUNS / f'{name}.log'}")
    m = json.loads((out / "metrics.json").read_text())
    m["wall_s"] = round(seconds, 1)
    m["peak_rss_mb"] = round(rss)
    return m


def table(header: list[str], rows: list[list]) -> list[str]:
    """Markdown table lines: the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


# (backend, precision) pairs measured: eager PyTorch and ONNX Runtime, exact and reduced precision
VARIANTS = {
    "eager PyTorch": ("torch", "fp32"),
    "eager PyTorch, bf16": ("torch", "bf16"),
    "ONNX Runtime": ("onnx", "fp32"),
    "ONNX Runtime, int8": ("onnx", "int8"),
}


def inference(model: str, backend: str, precision: str, threads: int, repeats: int, reference: list | None) -> dict:
    """Batched throughput, single-sentence latency, test F1 and tag agreement with ``reference``."""
    import torch

    from slotfill.data.load import data_dir, read_split
    from slotfill.evaluation.metrics import slot_scores
    from slotfill.inference.tagger import SlotTagger

    torch.set_num_threads(threads)
    tagger = SlotTagger.load(model, backend=backend, threads=threads, precision=precision)
    cols = read_split(data_dir() / "atis" / "test")
    sentences = cols["tokens"]
    texts = [" ".join(t) for t in sentences]
    tagger.predict_tokens(sentences[:256], batch_size=256)  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        results = tagger.predict_tokens(sentences, batch_size=256)
        rates.append(len(sentences) / (time.perf_counter() - start))
    tags = [r["tags"] for r in results]
    for t in texts[:20]:
        tagger.predict(t)
    latencies = []
    for _ in range(max(1, repeats // 2)):
        for t in texts[:300]:
            start = time.perf_counter()
            tagger.predict(t)
            latencies.append((time.perf_counter() - start) * 1000)
    reference = reference or tags
    return {
        "batched_sent_per_s": round(statistics.median(rates)),
        "latency_p50_ms": round(percentile(latencies, 50), 2),
        "latency_p99_ms": round(percentile(latencies, 99), 2),
        "test_f1": round(slot_scores(cols["tags"], tags)["f1"], 2),
        "same_tags_as_fp32_pct": round(100 * sum(a == b for a, b in zip(tags, reference)) / len(tags), 2),
        "tags": tags,
    }


def _test_f1(run: dict) -> float:
    """A training row's test slot F1: ``scores.test`` in today's metrics.json, ``test`` in older ones."""
    return (run.get("scores") or {}).get("test", run.get("test", {}))["f1"]


def flops_per_token(cfg: dict, n_tags: int) -> float:
    """Multiply-adds x 2 of one token's forward pass (recurrent layers, char CNN, tag layer)."""
    h, layers, dirs = cfg["hidden_size"], cfg["num_layers"], 2 if cfg["bidirectional"] else 1
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[cfg["cell"]]
    char = cfg["char_filters"] if cfg["char_dim"] > 0 else 0
    total, inp = 0.0, cfg["word_dim"] + char
    for _ in range(layers):
        total += dirs * gates * (inp + h) * h * 2
        inp = dirs * h
    if char:  # one conv per character of a ~7-character word (an upper bound: types are deduplicated)
        total += 7 * cfg["char_kernel"] * cfg["char_dim"] * char * 2
    return total + inp * n_tags * 2


def arithmetic(model: str, threads: int, repeats: int, precision: str = "fp32") -> dict:
    """What the network alone costs: FLOPs per sentence and the forward pass's GFLOP/s here."""
    import torch

    from slotfill.data.load import data_dir, read_split
    from slotfill.inference.tagger import SlotTagger

    torch.set_num_threads(threads)
    tagger = SlotTagger.load(model, precision=precision)
    sentences = read_split(data_dir() / "atis" / "test")["tokens"]
    tokens = sum(len(s) for s in sentences)
    order = sorted(sentences, key=len)
    batches = [tagger.model.encode(order[i : i + 256]) for i in range(0, len(order), 256)]
    times = []
    with torch.inference_mode():
        for _ in range(repeats + 1):
            start = time.perf_counter()
            for b in batches:
                tagger.forward(b)
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times[1:])
    per_token = flops_per_token(tagger.model.config.to_dict(), len(tagger.tags))
    per_sentence = per_token * tokens / len(sentences)
    return {
        "mflop_per_sentence": round(per_sentence / 1e6, 1),
        "network_gflop_per_s": round(per_sentence * len(sentences) / seconds / 1e9, 1),
        "network_only_sent_per_s": round(len(sentences) / seconds),
    }


def cold_start(model: str, repeats: int, tree: Path = ROOT) -> dict:
    """``predict.py`` of the checkout ``tree`` on one sentence, ``repeats`` times: median seconds, peak RSS."""
    times, rss = [], []
    for _ in range(repeats):
        code, seconds, peak = run_measured(
            [sys.executable, str(tree / "predict.py"), f"ckpt={model}", SENTENCE], subprocess.DEVNULL, tree
        )
        if code != 0:
            raise SystemExit(f"predict.py ckpt={model} failed with exit status {code}")
        times.append(seconds)
        rss.append(peak)
    return {"predict_cold_start_s": round(statistics.median(times), 2), "predict_peak_rss_mb": round(max(rss))}


def kept_training(previous: dict) -> dict:
    """What a ``--skip-train`` run keeps of the last ``speed.json``: its training rows and their ``train_run``.

    A file written before ``train_run`` existed has no record of where its training ran: its ``machine`` is
    the last run's, which may have measured inference only, so none is made up from it.
    """
    if "train" not in previous:
        return {}
    kept = {"train": previous["train"]}
    if previous.get("train_run"):
        kept["train_run"] = previous["train_run"]
    return kept


def training_source(run: dict | None) -> str:
    """The line of ``speed.md`` that says where kept training rows ran (``run``: their ``train_run``, if any)."""
    if not run:
        return f"Training rows: from an earlier run of `bench/speed.py`; machine {UNRECORDED}."
    where = run.get("machine") or {}
    return (
        f"Training rows: from an earlier run, `{run.get('command')}` — {where.get('cpu', 'machine ' + UNRECORDED)}, "
        f"{where.get('cores', '?')} cores, {run.get('threads', '?')} torch threads"
        f"{', ' + str(where['date']) if where.get('date') else ''}."
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-train", action="store_true", help="measure inference only; keep the last training rows")
    p.add_argument("--model", help="model.pt for the inference figures (default: the default model trained here)")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    RUNS.mkdir(parents=True, exist_ok=True)
    info = machine()
    results: dict = {"machine": info, "threads": args.threads}
    command = shlex.join(["python", "bench/speed.py", *sys.argv[1:]])
    if not args.skip_train:
        results["train"] = {
            "default": train("default", [], args.threads),
            "atis preset": train("atis-preset", ["experiment=atis"], args.threads),
        }
        results["train_run"] = {"machine": info, "threads": args.threads, "command": command}
    elif (RESULTS / "speed.json").is_file():  # keep the training rows of the last full run, and where it ran
        results.update(kept_training(json.loads((RESULTS / "speed.json").read_text())))
    model = args.model or str(RUNS / "default" / "model.pt")
    results["cold_start"] = cold_start(model, args.repeats)
    subprocess.run(
        [sys.executable, str(ROOT / "export.py"), f"ckpt={model}", "check=false"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    results["inference"] = {}
    reference = None
    for label, (backend, precision) in VARIANTS.items():
        m = inference(model, backend, precision, args.threads, args.repeats, reference)
        reference = reference or m["tags"]
        del m["tags"]
        results["inference"][label] = m
    results["arithmetic"] = arithmetic(model, args.threads, args.repeats)
    results["arithmetic_bf16"] = arithmetic(model, args.threads, args.repeats, "bf16")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    lines = [
        "# Speed benchmark",
        "",
        f"Command: `{command}` — "
        f"{info['cpu']}, {info['cores']} cores, "
        f"torch {info['torch']}, {args.threads} torch threads; medians of {args.repeats} repetitions.",
        "",
    ]
    if "train" in results:
        if args.skip_train:
            lines += [training_source(results.get("train_run")), ""]
        lines += table(
            ["training (ATIS)", "sentences/s (median epoch)", "time to val F1 ≥ 95", "wall time", "epochs"]
            + ["test F1", "peak RSS"],
            [
                [name, m.get("train_sent_per_s_median"), f"{m.get('time_to_val_f1_95_s')} s", f"{m['wall_s']} s"]
                + [m["epochs"], f"{_test_f1(m):.2f}", f"{m['peak_rss_mb']} MB"]
                for name, m in results["train"].items()
            ],
        )
        lines.append("")
    lines += table(
        ["inference (ATIS test, 893 sentences, Python API)", "batched sentences/s (batch 256)", "latency p50"]
        + ["latency p99", "test F1", "sentences tagged as fp32 eager"],
        [
            [label, m["batched_sent_per_s"], f"{m['latency_p50_ms']} ms", f"{m['latency_p99_ms']} ms"]
            + [f"{m['test_f1']:.2f}", f"{m['same_tags_as_fp32_pct']:.2f}%"]
            for label, m in results["inference"].items()
        ],
    )
    a = results["arithmetic"]
    lines += [
        "",
        f"Arithmetic: the default network costs {a['mflop_per_sentence']} MFLOP per ATIS test sentence "
        f"(forward pass); the eager forward pass alone runs at {a['network_gflop_per_s']} GFLOP/s here, "
        f"a ceiling of {a['network_only_sent_per_s']} sentences/s before tokenising, decoding and output. "
        f"In bfloat16 it runs at {results['arithmetic_bf16']['network_gflop_per_s']} GFLOP/s, a ceiling of "
        f"{results['arithmetic_bf16']['network_only_sent_per_s']} sentences/s.",
    ]
    cs = results["cold_start"]
    lines += [
        "",
        f"`predict.py` one sentence from a cold start: {cs['predict_cold_start_s']} s; "
        f"peak RSS of prediction: {cs['predict_peak_rss_mb']} MB.",
    ]
    (RESULTS / "speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
