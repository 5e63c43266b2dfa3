"""Train a slot tagger: ``python train.py data=atis``, the same as ``slotfill train data=atis``."""

import sys

from slotfill.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
