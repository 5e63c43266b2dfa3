"""Where batched prediction goes: cProfile of the Python API on the ATIS test sentences.

    python bench/profile_inference.py --ckpt outputs/DATE/TIME/model.pt

One thread, batch 256; prints the median rate of 5 passes, then the functions with the most own
time over 3 more passes (``torch.lstm`` is the network's recurrent part). ``--one``: the same
for one sentence at a time (the first 300 sentences; p50 in milliseconds). ``--encoders`` (a
``.pt`` model): also the recurrent encoders alone on the same sentence lengths and batches (random
inputs), by the packed path prediction takes and by the fused padded path training takes, against
one whole ``predict`` of the sentences. Not a test.
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
    ap.add_argument("--encoders", action="store_true", help="also time the recurrent encoders alone")
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
    if args.encoders:
        encoders(tagger, texts, statistics.median(rates))
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(3):
        tagger.predict(texts, batch_size=256)
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


def encoders(tagger, texts: list[str], rate: float) -> None:
    """Each recurrent encoder alone over batches of 256 sentences of the test's lengths (longest
    first, as prediction batches them): ms by the packed and the fused padded path, median of 5;
    ``rate``: the whole predict's sentences/s, printed beside them as ms."""
    import torch

    from slotfill.models.encoder import RecurrentEncoder

    lengths = sorted((len(t.split()) for t in texts), reverse=True)
    batches = [torch.tensor(lengths[i : i + 256]) for i in range(0, len(lengths), 256)]
    print(f"whole predict: {len(texts) / rate * 1000:.0f} ms for {len(texts)} sentences")
    for name, enc in tagger.model.net.named_modules():
        if not isinstance(enc, RecurrentEncoder):
            continue
        inputs = [(torch.randn(len(b), int(b[0]), enc.rnn.input_size), b) for b in batches]
        took = {"packed": [], "fused padded": []}
        with torch.no_grad():
            for _ in range(5):
                for path, run in (("packed", enc._packed), ("fused padded", enc._by_layer)):
                    start = time.perf_counter()
                    for x, n in inputs:
                        run(x, n)
                    took[path].append(time.perf_counter() - start)
        cells = ", ".join(f"{path} {statistics.median(t) * 1000:.0f} ms" for path, t in took.items())
        print(f"encoder {name} ({enc.rnn.num_layers} layer(s), hidden {enc.rnn.hidden_size}): {cells}")


if __name__ == "__main__":
    main()
