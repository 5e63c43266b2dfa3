"""Files slotfill ships: the Hydra configs, the sample data set and the default lexicons.

In a git checkout they live at the repository's top level (``conf/``, ``data/sample``,
``data/lexicons``); an installed wheel carries them inside the package as ``slotfill/conf`` and
``slotfill/share/{sample,lexicons}`` (pyproject.toml maps them). Both layouts resolve here.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # slotfill/, above core/
CHECKOUT = PACKAGE.parent
SHIPPED_DATA = ("sample", "lexicons")  # the folders of data/ that the wheel carries


def in_checkout() -> bool:
    """Whether slotfill runs from a git checkout (its ``conf/`` beside the package), not an install."""
    return (CHECKOUT / "conf").is_dir()


def conf_dir() -> Path:
    """The Hydra config folder: ``slotfill/conf`` when installed, else the checkout's ``conf/``."""
    installed = PACKAGE / "conf"
    return installed if (installed / "train.yaml").is_file() else CHECKOUT / "conf"


def shipped(path: str | Path) -> Path | None:
    """A relative path under ``data/`` that slotfill ships (``data/sample``, ``data/lexicons/city.txt``),
    as it exists in this checkout or installation; None when it is not one of those."""
    p = Path(path)
    if p.is_absolute():
        return None
    checkout_copy = CHECKOUT / p
    if checkout_copy.exists() and in_checkout():
        return checkout_copy
    parts = p.parts
    if len(parts) >= 2 and parts[0] == "data" and parts[1] in SHIPPED_DATA:
        installed = PACKAGE.joinpath("share", *parts[1:])
        if installed.exists():
            return installed
    return None


def resolve(path: str | Path) -> Path:
    """``path`` as given when it exists (from the working directory), else the shipped copy, else as given."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return shipped(p) or p
