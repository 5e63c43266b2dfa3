"""Which test intents two groups of models get wrong: the mean count of wrong intents a model, by gold intent.

    python bench/intent_errors.py \
        --group bucketed bench/runs/accuracy-bucketed/atis-default-seed{1,2,3,4,6,7,8} \
        --group kept bench/runs/accuracy/atis-default-seed{1,2,3,4,6,7,8}

Each run folder's ``model.pt`` tags the test split of ``--dataset`` (the Python API, batch 256, one
thread); a sentence counts as wrong when its predicted intent (a ``#``-joined set) is not exactly
the gold one. Prints, per group, the wrong intents a model, then the gold intents ordered by how
many more the first group gets wrong than the second. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

from common import ROOT


def wrong_intents(model: Path, tokens: list, gold: list) -> Counter:
    """How many test sentences of each gold intent ``model`` tags with another intent."""
    from slotfill.inference.tagger import SlotTagger

    out = SlotTagger.load(model).predict_tokens(tokens, batch_size=256)
    return Counter(g for o, g in zip(out, gold) if o["intent"] != g)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--group", nargs="+", action="append", required=True, metavar=("LABEL", "RUN_DIR"))
    p.add_argument("--dataset", default="atis")
    p.add_argument("--top", type=int, default=12)
    args = p.parse_args()
    if len(args.group) < 2 or any(len(g) < 2 for g in args.group):
        p.error("give two --group LABEL RUN_DIR... (each with at least one run folder)")
    import torch

    sys.path.insert(0, str(ROOT))
    from slotfill.data.load import read_split

    torch.set_num_threads(1)
    split = read_split(ROOT.parent / "shared" / "data" / args.dataset / "test")
    counts = {}
    for label, *runs in args.group:
        per_model = [wrong_intents(Path(run) / "model.pt", split["tokens"], split["intent"]) for run in runs]
        counts[label] = (len(runs), sum(per_model, Counter()))
        total = [sum(c.values()) for c in per_model]
        print(f"{label}: {statistics.mean(total):.1f} wrong test intents a model ({len(runs)} models: {total})")
    (first, (n1, c1)), (second, (n2, c2)) = list(counts.items())[:2]
    gold = sorted(set(c1) | set(c2), key=lambda g: -(c1[g] / n1 - c2[g] / n2))
    print(f"gold intent: wrong a model, {first} against {second}")
    for g in gold[: args.top]:
        print(f"  {g:40s} {c1[g] / n1:5.1f} {c2[g] / n2:5.1f}")


if __name__ == "__main__":
    main()
