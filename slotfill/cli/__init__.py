"""The command line: one entry (``slotfill COMMAND``), its commands, option checks, streams and console text."""
