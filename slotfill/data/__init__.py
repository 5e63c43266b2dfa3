"""Slot-filling data: where it is and which split (``load``), one reader/writer per format, checks, conversion."""
