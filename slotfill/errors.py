"""Errors a user can act on: the command-line entry points print them on one line."""

from __future__ import annotations

from pathlib import Path


class SlotfillError(Exception):
    """An error caused by the user's input (data, checkpoint, arguments), not by a bug."""


class DataError(SlotfillError):
    """A problem in a data file, located by file and line."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class CheckpointError(SlotfillError):
    """A checkpoint that is missing, corrupt or not a slotfill model."""


class ConfigError(SlotfillError):
    """A setting with a value slotfill cannot use."""


class TrainingDiverged(SlotfillError):
    """The training loss became NaN or infinite: the weights are no longer usable."""
