"""``python -m slotfill COMMAND``: the same entry as the installed ``slotfill`` command."""

import sys

from slotfill.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
