"""Peak memory of reading a parquet input written as one row group: slotfill's reader against pyarrow's defaults.

    python bench/parquet_read.py --rows 1000000 4000000 12000000

For each size, a parquet file of that many generated ATIS-style lines (``bench/stream.py``'s
generator, the lines repeated) in a single row group, the worst case for a reader that holds a
row group's column chunk; then, each in a fresh Python process, every row read in batches of
2,000 rows by ``slotfill.core.sentence_files.iter_parquet`` (plain ``predict``'s and the Ray
actors' reader) and by pyarrow's ``ParquetFile.iter_batches`` with its default buffering. Prints
the peak resident memory and the CPU seconds of each. Not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ENV, ROOT
from stream import generate

PROBE = """
import sys, time
start = time.process_time()
n = 0
if sys.argv[2] == "slotfill":
    from slotfill.core.sentence_files import iter_parquet
    for batch in iter_parquet(sys.argv[1]):
        n += len(batch)
else:
    import pyarrow.parquet as pq
    for batch in pq.ParquetFile(sys.argv[1]).iter_batches(2000, columns=["text"]):
        n += len(batch.column(0).to_pylist())
# VmHWM: this process's own peak (ru_maxrss would carry the parent's from the fork)
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(n, peak // 1024, round(time.process_time() - start, 2))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 4_000_000, 12_000_000])
    args = ap.parse_args()
    import pyarrow as pa
    import pyarrow.parquet as pq

    print(f"load before: {os.getloadavg()[0]:.2f}")
    print("| rows (one row group) | file MB | reader | peak RSS MB | CPU s |")
    print("|---:|---:|---|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="parquet_read.") as tmp:
        lines_file = Path(tmp) / "lines.txt"
        generate(lines_file, min(args.rows))
        lines = lines_file.read_text().splitlines()
        for rows in args.rows:
            path = Path(tmp) / f"{rows}.parquet"
            texts = (lines * -(-rows // len(lines)))[:rows]
            pq.write_table(pa.table({"text": texts}), path, row_group_size=rows)
            del texts
            for reader in ("slotfill", "pyarrow defaults"):
                out = subprocess.run(
                    [sys.executable, "-c", PROBE, str(path), reader.split()[0]],
                    cwd=ROOT,
                    env=ENV,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()
                assert int(out[0]) == rows, out
                print(f"| {rows:,} | {path.stat().st_size / 2**20:.0f} | {reader} | {out[1]} | {out[2]} |", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
