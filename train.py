"""Train a slot tagger: ``python train.py data=atis``, the same as ``slotfill train data=atis``."""

import sys

from slotfill.cli.main import main

if __name__ == "__main__":
    sys.argv.insert(1, "train")  # argv as ``slotfill train`` gets it: the same command, started the same way
    sys.exit(main())
