"""slotfill against Flair 0.15.1 on the same ATIS data, one thread each, in one run.

    python bench/flair_compare.py --flair-train-sentences 1000 --rounds 3

Flair is installed (once) into its own virtual environment, ``bench/runs/flair-venv``, from the
package registry (``torch==2.13.0`` first, the CPU build this project uses, then
``flair==0.15.1``). Training: slotfill's default ``train.py`` (``--epochs`` epochs, its median
epoch rate) and one Flair epoch (``--flair-train-sentences`` of the training split; 0 for all)
run **at the same time**, one core each. Batched inference: the ATIS test split through
slotfill's Python API (the model that training run wrote, batch 256, in ``--precision``: ``auto``
by default, as users run it) and Flair's ``predict`` (batch 256), **alternated** ``--rounds`` times;
medians. The machine's load and the precision slotfill ran in are printed.
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

from common import ENV, ROOT

VENV = ROOT / "bench" / "runs" / "flair-venv"
SIDE = ROOT / "bench" / "flair_side.py"
SLOTFILL_PREDICT = """
import json, sys, time, torch
torch.set_num_threads(1)
from slotfill.inference.loading import load_tagger
tagger = load_tagger(sys.argv[1], "torch", 1, sys.argv[3])
texts = open(sys.argv[2], encoding="utf-8").read().splitlines()
tagger.predict(texts[:64], batch_size=64)
start = time.perf_counter()
tagger.predict(texts, batch_size=256)
rate = len(texts) / (time.perf_counter() - start)
print(json.dumps({"predict_sent_per_s": rate, "precision": tagger.precision}))
"""


def flair_python() -> Path:
    """The Python of Flair's own environment, created and filled on first use."""
    python = VENV / "bin" / "python"
    if not (VENV / ".installed").exists():
        print(f"installing Flair 0.15.1 into {VENV} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "torch==2.13.0"], check=True)  # the CPU wheel; flair alone pulls a CUDA build
        subprocess.run([*pip, "flair==0.15.1"], check=True)
        (VENV / ".installed").touch()
    return python


def flair(python: Path, mode: str, data: Path, out: Path, sentences: int = 0) -> subprocess.Popen:
    cmd = [str(python), str(SIDE), mode, "--data", str(data), "--threads", "1", "--out", str(out)]
    if sentences:
        cmd += ["--train-sentences", str(sentences)]
    return subprocess.Popen(cmd, env={**ENV, "FLAIR_CACHE_ROOT": str(out.parent / "flair-cache")})


def finish(proc: subprocess.Popen, what: str) -> None:
    if proc.wait() != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "atis")
    ap.add_argument("--epochs", type=int, default=3, help="slotfill epochs, run while Flair trains")
    ap.add_argument("--flair-train-sentences", type=int, default=0, help="0: Flair's epoch is the whole split")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="slotfill's, for inference")
    args = ap.parse_args()
    python = flair_python()
    print(f"load before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="flair_compare.") as tmp:
        tmp = Path(tmp)
        run = tmp / "slotfill-run"
        train = [
            sys.executable,
            str(ROOT / "train.py"),
            f"data.path={args.data}",
            f"trainer.max_epochs={args.epochs}",
            "callbacks.early_stopping.patience=100",
            "threads=1",
            "test_after_fit=false",
            "plots=false",
            "trainer.enable_progress_bar=false",
            f"hydra.run.dir={run}",
        ]
        ours = subprocess.Popen(train, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL)
        theirs = flair(python, "train", args.data, tmp / "flair-train.json", args.flair_train_sentences)
        finish(ours, "slotfill training")
        finish(theirs, "Flair training")
        ours_rate = json.loads((run / "metrics.json").read_text())["train_sent_per_s_median"]
        theirs_fig = json.loads((tmp / "flair-train.json").read_text())
        print(f"load after training: {os.getloadavg()[0]:.2f}", flush=True)

        texts = tmp / "test.txt"
        texts.write_text((args.data / "test" / "seq.in").read_text(encoding="utf-8"), encoding="utf-8")
        ours_pred, theirs_pred = [], []
        for _ in range(args.rounds):
            out = subprocess.run(
                [sys.executable, "-c", SLOTFILL_PREDICT, str(run / "model.pt"), str(texts), args.precision],
                cwd=ROOT,
                env=ENV,
                capture_output=True,
                text=True,
                check=True,
            )
            answer = json.loads(out.stdout.splitlines()[-1])
            ours_pred.append(answer["predict_sent_per_s"])
            finish(flair(python, "predict", args.data, tmp / "flair-predict.json"), "Flair prediction")
            theirs_pred.append(json.loads((tmp / "flair-predict.json").read_text())["predict_sent_per_s"])
            time.sleep(1)
        print(f"load after inference: {os.getloadavg()[0]:.2f}", flush=True)
    print(f"Flair {theirs_fig['flair']}, torch {theirs_fig['torch']} in its environment")
    print(f"slotfill's inference ran in {answer['precision']} (precision={args.precision})")
    print("| measure (ATIS, 1 thread each) | slotfill | Flair 0.15.1 | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| training sentences/s, at the same time (slotfill: median of {args.epochs} epochs; "
        f"Flair: one epoch of {theirs_fig['train_sentences']:,}) | {ours_rate:,.1f} | "
        f"{theirs_fig['train_sent_per_s']:,.1f} | {ours_rate / theirs_fig['train_sent_per_s']:.1f}× |"
    )
    a, b = statistics.median(ours_pred), statistics.median(theirs_pred)
    print(
        f"| batched inference sentences/s, test split, batch 256, alternated (median of {args.rounds}; "
        f"slotfill {', '.join(f'{x:,.0f}' for x in ours_pred)}; Flair {', '.join(f'{x:,.0f}' for x in theirs_pred)}) "
        f"| {a:,.0f} | {b:,.0f} | {a / b:.1f}× |"
    )


if __name__ == "__main__":
    main()
