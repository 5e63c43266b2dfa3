"""Inference of this checkout against another commit's, on the same model, alternated.

    python bench/infer_compare.py --ckpt outputs/DATE/TIME/model.pt --reference 53a7d94 --rounds 5
    python bench/infer_compare.py --ckpt outputs/DATE/TIME/model.pt --reference 53a7d94 --precision fp32

The reference commit is checked out once (``git worktree``) under ``bench/runs/ref-COMMIT`` and
imported from there (``PYTHONPATH``); each round runs one fresh process per side, in turn, with
``--threads`` intra-op threads: batched prediction of the ATIS test sentences through the Python
API (``predict``, batch 256, raw text in, results out) and the p50 of one sentence at a time.
This checkout runs in ``--precision`` (default ``auto``, as users run it: bfloat16 for a model
trained so on a CPU with AMX), the reference in float32. Where both ran float32 they must give the
same results (checked every round); otherwise the confidences differ in their last digits and the
sentences whose tags or intent differ are counted instead. Medians and ratios are printed with the
machine's load and the precision each side ran in, and each round's own batched ratio with their
median (the two sides of a round see the same moment of a VM whose speed swings by the minute).
``--format3``: both sides read a format-3 copy of the model (lexicon entries as lists, the same
weights and fingerprint), for a reference older than format 4 (53a7d94 is); this checkout reads
format 3 too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ENV, ROOT, worktree

CHILD = """
import hashlib, json, sys, time, torch
threads, ckpt, texts_file, precision = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
torch.set_num_threads(threads)
from slotfill.inference.loading import load_tagger
tagger = load_tagger(ckpt, "auto", threads, precision)
texts = open(texts_file, encoding="utf-8").read().splitlines()
tagger.predict(texts[:256], batch_size=256)
start = time.perf_counter()
results = tagger.predict(texts, batch_size=256)
batched = len(texts) / (time.perf_counter() - start)
one = []
for text in texts[:300]:
    t = time.perf_counter()
    tagger.predict(text)
    one.append(time.perf_counter() - t)
one.sort()
answers = json.dumps([[r["tags"], r["intent"], [s["confidence"] for s in r["spans"]]] for r in results])
digest = hashlib.sha256(answers.encode()).hexdigest()
tagged = [hashlib.sha256(json.dumps([r["tags"], r["intent"]]).encode()).hexdigest()[:16] for r in results]
ran = getattr(tagger, "precision", precision)  # older code: what it was asked for
out = {"batched": batched, "p50_ms": one[len(one) // 2] * 1000, "digest": digest, "tagged": tagged, "ran": ran}
print(json.dumps(out))
"""


def measure(tree: Path, ckpt: Path, texts: Path, threads: int, precision: str = "fp32") -> dict:
    env = {**ENV, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(threads), str(ckpt), str(texts), precision],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"{tree}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def format3_copy(ckpt: Path, out: Path) -> Path:
    """``ckpt`` (a model.pt of format 4) written as format 3, which keeps lexicon entries as lists."""
    import torch

    state = torch.load(ckpt, weights_only=True)
    lexicon = state["vocabs"].get("lexicon")
    if lexicon:
        lexicon["entries"] = {t: e.split("\n") if isinstance(e, str) else e for t, e in lexicon["entries"].items()}
    state["format"] = 3
    torch.save(state, out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--reference", required=True, help="the commit to compare with")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "atis")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--format3", action="store_true", help="both sides read a format-3 copy of --ckpt")
    ap.add_argument(
        "--precision", default="auto", choices=("auto", "fp32", "bf16"), help="this checkout's (the reference: fp32)"
    )
    args = ap.parse_args()
    if args.format3:
        args.ckpt = format3_copy(args.ckpt, Path(tempfile.mkdtemp(prefix="infer_compare.")) / "model.pt")
    ref = worktree(args.reference)
    texts = args.data / "test" / "seq.in"
    rows = {"this checkout": [], f"reference {ref.name[4:]}": []}
    print(f"load before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; {args.threads} thread(s)", flush=True)
    for _ in range(args.rounds):
        mine = measure(ROOT, args.ckpt, texts, args.threads, args.precision)
        theirs = measure(ref, args.ckpt, texts, args.threads)
        exact = mine["ran"] == theirs["ran"] == "fp32"
        if exact and mine["digest"] != theirs["digest"]:
            raise SystemExit("the two sides tagged the test sentences differently")
        differ = sum(a != b for a, b in zip(mine["tagged"], theirs["tagged"]))
        if differ:  # bf16: near-ties may fall the other way; said, not hidden
            print(f"{differ} of {len(mine['tagged'])} sentences tagged differently (tags or intent)", flush=True)
        rows["this checkout"].append(mine)
        rows[f"reference {ref.name[4:]}"].append(theirs)
    same = "the same results" if exact else "the same tags and intents unless said above"
    print(f"load after: {os.getloadavg()[0]:.2f}; {same} on both sides in every round")
    print(f"precision: this checkout {mine['ran']}, the reference {theirs['ran']}")
    print("| code | batched sentences/s (median; each round) | one sentence p50 ms (median) |")
    print("|---|---|---:|")
    medians = {}
    for name, runs in rows.items():
        b = [r["batched"] for r in runs]
        p = statistics.median(r["p50_ms"] for r in runs)
        medians[name] = (statistics.median(b), p)
        print(f"| {name} | {medians[name][0]:,.0f} ({', '.join(f'{x:,.0f}' for x in b)}) | {p:.2f} |")
    (mb, mp), (rb, rp) = medians.values()
    print(f"ratio: batched {mb / rb:.2f}×, one sentence {mp / rp:.2f}× the time")
    # the two sides of a round ran one right after the other, so they saw the same moment of the machine
    mine_runs, their_runs = rows.values()
    paired = [a["batched"] / b["batched"] for a, b in zip(mine_runs, their_runs)]
    print(f"round by round: batched {', '.join(f'{x:.2f}' for x in paired)}× (median {statistics.median(paired):.2f}×)")


if __name__ == "__main__":
    main()
