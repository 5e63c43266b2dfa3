"""Where batched prediction goes: cProfile of the Python API on the ATIS test sentences.

    python bench/profile_inference.py --ckpt outputs/DATE/TIME/model.pt

One thread, batch 256; prints the median rate of 5 passes, then the functions with the most own
time over 3 more passes (``torch.lstm`` is the network's recurrent part). ``--one``: the same
for one sentence at a time (the first 300 sentences; p50 in milliseconds). Not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from pathlib import Path

from common import ROOT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "atis")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--one", action="store_true", help="one sentence a call instead of batches of 256")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from slotfill.inference.loading import load_tagger

    tagger = load_tagger(args.ckpt, "auto", 1, "fp32")
    texts = (args.data / "test" / "seq.in").read_text(encoding="utf-8").splitlines()
    tagger.predict(texts[:256], batch_size=256)
    if args.one:
        texts = texts[:300]
        times = []
        for text in texts * 2:
            start = time.perf_counter()
            tagger.predict(text)
            times.append(time.perf_counter() - start)
        print(f"one sentence: p50 {statistics.median(times) * 1000:.2f} ms over {len(times)} calls")
        profile = cProfile.Profile()
        profile.enable()
        for text in texts:
            tagger.predict(text)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)
        return
    rates = []
    for _ in range(5):
        start = time.perf_counter()
        tagger.predict(texts, batch_size=256)
        rates.append(len(texts) / (time.perf_counter() - start))
    print(f"{statistics.median(rates):,.0f} sentences/s (median of 5: {', '.join(f'{r:,.0f}' for r in rates)})")
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(3):
        tagger.predict(texts, batch_size=256)
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
