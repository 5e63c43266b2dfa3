"""Tag sentences: ``python predict.py ckpt=RUN_DIR "flights to boston"``, the same as ``slotfill predict``."""

import sys

from slotfill.cli.main import main

if __name__ == "__main__":
    sys.argv.insert(1, "predict")  # argv as ``slotfill predict`` gets it: the same command, started the same way
    sys.exit(main())
