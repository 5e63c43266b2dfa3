"""Evaluate a model: ``python evaluate.py ckpt=RUN_DIR data=atis``, the same as ``slotfill evaluate``."""

import sys

from slotfill.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
