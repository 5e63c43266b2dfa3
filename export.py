"""Export a model to ONNX: ``python export.py ckpt=RUN_DIR``, the same as ``slotfill export``."""

import sys

from slotfill.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
