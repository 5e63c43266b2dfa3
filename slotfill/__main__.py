"""``python -m slotfill COMMAND``: tools around trained runs (each command's code lives in its own module).

python -m slotfill plot RUN_DIR... [-o FILE]     learning curves of one or more runs on one figure
python -m slotfill compare RUN_DIR... [--csv F]  the settings that differ between runs, and their scores
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .cli import friendly_errors


def plot(args: argparse.Namespace) -> int:
    from .plots import learning_curves

    for path in learning_curves(args.runs, args.output, labels=args.labels):
        print(f"wrote {path}")
    return 0


def compare(args: argparse.Namespace) -> int:
    from .compare import compare as table
    from .compare import to_csv, to_markdown
    from .schema import write_atomic

    columns, rows = table(args.runs)
    print(to_markdown(columns, rows), end="")
    if args.csv:
        print(f"wrote {write_atomic(args.csv, to_csv(columns, rows))}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m slotfill", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("plot", help="learning curves (loss, validation F1, intent accuracy) of runs on one figure")
    s.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (with logs/metrics.csv)")
    s.add_argument("-o", "--output", default="learning_curves", help="file name; .png and .svg are written")
    s.add_argument("--labels", nargs="+", help="one legend label per run (default: the folder names)")
    s.set_defaults(func=plot)

    s = sub.add_parser("compare", help="one table: the settings that differ between runs, and their scores")
    s.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (with metrics.json)")
    s.add_argument("--csv", help="also write the table as CSV to this file")
    s.set_defaults(func=compare)
    return p


@friendly_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "labels", None) and len(args.labels) != len(args.runs):
        parser().error(f"--labels: {len(args.labels)} labels for {len(args.runs)} runs")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
