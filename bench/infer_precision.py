"""float32 against bfloat16 prediction on the same models: the scores, the answers that differ, the speed.

    python bench/infer_precision.py --dataset atis --models bench/runs/accuracy/atis-default-seed?
    python bench/infer_precision.py --dataset snips --models bench/runs/accuracy/snips-default-seed?

Each model is loaded twice in this process, ``precision="fp32"`` and ``precision="bf16"`` (the recurrent
layers in bfloat16, as ``train.precision=bf16`` trains them), one thread. Both tag the test split
(pre-tokenised, as ``slotfill evaluate`` does): slot F1, intent and sentence accuracy of each, and
the tokens and sentences whose tags or intent differ. Then the Python API on the test split's raw
text, batch 256, the two alternated ``--rounds`` times: median sentences/s and their ratio, and
the p50 of one sentence at a time over its first 300 sentences. Writes
``bench/results/infer_precision_DATASET.md`` (and ``.json``) with the machine's load. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from common import ROOT

PRECISIONS = ("fp32", "bf16")


def scores(tagger, tokens: list[list[str]], tags: list[list[str]], intents: list[str]) -> tuple[dict, list[dict]]:
    from slotfill.evaluation.metrics import all_scores

    results = tagger.predict_tokens(tokens, batch_size=256)
    pred_intents = [r["intent"] for r in results] if tagger.predicts_intent else None
    return all_scores(tags, [r["tags"] for r in results], intents, pred_intents), results


def speed(taggers: dict, texts: list[str], rounds: int) -> dict:
    """Median batched sentences/s and one-sentence p50 ms of each tagger, the two alternated."""
    rates: dict[str, list[float]] = {p: [] for p in taggers}
    lone: dict[str, list[float]] = {p: [] for p in taggers}
    for tagger in taggers.values():
        tagger.predict(texts[:256])  # warm: the first call builds what later calls reuse
    for _ in range(rounds):
        for p, tagger in taggers.items():
            start = time.perf_counter()
            tagger.predict(texts, batch_size=256)
            rates[p].append(len(texts) / (time.perf_counter() - start))
            for text in texts[:300]:
                t = time.perf_counter()
                tagger.predict(text)
                lone[p].append(time.perf_counter() - t)
    return {
        p: {
            "rates": [round(r) for r in rates[p]],
            "sent_per_s": statistics.median(rates[p]),
            "one_p50_ms": statistics.median(lone[p]) * 1000,
        }
        for p in taggers
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="atis", choices=["atis", "snips"])
    ap.add_argument("--models", nargs="+", required=True, help="run folders or model.pt files")
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from slotfill.inference.tagger import SlotTagger

    split = args.data_dir / args.dataset / "test"
    lines = (split / "seq.in").read_text(encoding="utf-8").splitlines()
    tokens = [line.split() for line in lines]
    tags = [line.split() for line in (split / "seq.out").read_text(encoding="utf-8").splitlines()]
    intents = (split / "label").read_text(encoding="utf-8").splitlines()
    load_before = os.getloadavg()[0]
    rows = []
    for model in args.models:
        taggers = {p: SlotTagger.load(model, threads=1, precision=p) for p in PRECISIONS}
        got = {p: scores(t, tokens, tags, intents) for p, t in taggers.items()}
        (a, ra), (b, rb) = got["fp32"], got["bf16"]
        tag_diffs = sum(x != y for r, q in zip(ra, rb) for x, y in zip(r["tags"], q["tags"]))
        sent_diffs = sum(r["tags"] != q["tags"] or r["intent"] != q["intent"] for r, q in zip(ra, rb))
        fast = speed(taggers, lines, args.rounds)
        rows.append(
            {
                "model": model,
                "fp32": a,
                "bf16": b,
                "tags_differing": tag_diffs,
                "sentences_differing": sent_diffs,
                "tokens": sum(map(len, tokens)),
                "speed": fast,
            }
        )
        print(
            f"{model}: {tag_diffs} tags, {sent_diffs} sentences differ; "
            f"{fast['bf16']['sent_per_s'] / fast['fp32']['sent_per_s']:.2f}x batched",
            flush=True,
        )
    load_after = os.getloadavg()[0]
    out = ROOT / "bench" / "results" / f"infer_precision_{args.dataset}"
    out.with_suffix(".json").write_text(json.dumps({"rows": rows, "load": [load_before, load_after]}, indent=1))
    lines_md = [
        f"`python bench/infer_precision.py --dataset {args.dataset} --models {' '.join(args.models)} "
        f"--rounds {args.rounds}` ({args.dataset.upper()} test, one thread; load {load_before:.2f} before, "
        f"{load_after:.2f} after)",
        "",
        "| model | slot F1 fp32 / bf16 | intent acc fp32 / bf16 | sentence acc fp32 / bf16 | tags differing | "
        "sentences differing | batched sent/s fp32 / bf16 (ratio) | one sentence p50 ms fp32 / bf16 |",
        "|---|---|---|---|---:|---:|---|---|",
    ]
    for r in rows:
        a, b, s = r["fp32"], r["bf16"], r["speed"]
        ratio = s["bf16"]["sent_per_s"] / s["fp32"]["sent_per_s"]
        lines_md.append(
            f"| {r['model']} | {a['f1']:.2f} / {b['f1']:.2f} | {a.get('intent_accuracy', 0):.2f} / "
            f"{b.get('intent_accuracy', 0):.2f} | {a['sentence_accuracy']:.2f} / {b['sentence_accuracy']:.2f} | "
            f"{r['tags_differing']} of {r['tokens']} | {r['sentences_differing']} of {len(tokens)} | "
            f"{s['fp32']['sent_per_s']:,.0f} / {s['bf16']['sent_per_s']:,.0f} ({ratio:.2f}x) | "
            f"{s['fp32']['one_p50_ms']:.2f} / {s['bf16']['one_p50_ms']:.2f} |"
        )
    ratios = [r["speed"]["bf16"]["sent_per_s"] / r["speed"]["fp32"]["sent_per_s"] for r in rows]
    lines_md += ["", f"Median ratio of batched rates, bf16 / fp32: {statistics.median(ratios):.2f}x."]
    out.with_suffix(".md").write_text("\n".join(lines_md) + "\n")
    print("\n".join(lines_md))


if __name__ == "__main__":
    main()
