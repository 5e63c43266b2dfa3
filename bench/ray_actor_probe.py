"""The tagger alone in a bare Ray actor against the same tagger in the driver, alternated.

    python bench/ray_actor_probe.py --ckpt outputs/DATE/TIME/model.onnx --lines 20000

Generated lines (``bench/stream.py``'s generator), tagged in chunks of 2,000 (``batch_size=512``)
and written as JSON strings, twice on each side; prints sentences/s and what the actor runs
with (``OMP_NUM_THREADS``, CPU affinity, niceness). Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from stream import generate

from slotfill.core.limits import PREDICT_CHUNK
from slotfill.inference.loading import load_tagger


def rate(tagger, texts: list[str]) -> float:
    start = time.perf_counter()
    for s in range(0, len(texts), PREDICT_CHUNK):
        for result in tagger.predict(texts[s : s + PREDICT_CHUNK], batch_size=512):
            json.dumps(result, ensure_ascii=False)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--lines", type=int, default=20_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ray_actor_probe.") as tmp:
        source = Path(tmp) / "lines.txt"
        generate(source, args.lines)
        texts = source.read_text(encoding="utf-8").splitlines()
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")

    @ray.remote(num_cpus=1)
    class Probe:
        def __init__(self, ckpt: str) -> None:
            self.tagger = load_tagger(ckpt, "auto", 1, "fp32")

        def run(self, texts: list[str]) -> tuple[float, str | None, list[int], int]:
            return (
                rate(self.tagger, texts),
                os.environ.get("OMP_NUM_THREADS"),
                sorted(os.sched_getaffinity(0)),
                os.nice(0),
            )

    driver = load_tagger(args.ckpt, "auto", 1, "fp32")
    actor = Probe.remote(str(args.ckpt))
    for _ in range(2):
        print(f"driver: {rate(driver, texts):,.0f} sentences/s (nice {os.nice(0)})", flush=True)
        r, omp, cpus, nice = ray.get(actor.run.remote(texts))
        print(f"actor:  {r:,.0f} sentences/s (OMP_NUM_THREADS={omp}, CPUs {cpus}, nice {nice})", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
