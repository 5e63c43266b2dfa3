"""Tag sentences: ``python predict.py ckpt=RUN_DIR "flights to boston"``, the same as ``slotfill predict``."""

import sys

from slotfill.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
