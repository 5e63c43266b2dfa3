"""Settings dataclasses built from plain mappings (a Hydra group, a checkpoint), unknown keys refused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TypeVar

from slotfill.errors import ConfigError

T = TypeVar("T")


def from_mapping(cls: type[T], values: Mapping, group: str) -> T:
    """``cls(**values)``; a key ``cls`` does not have is a one-line error naming ``group.key``."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        names = ", ".join(f"{group}.{k}" for k in unknown)
        raise ConfigError(f"unknown setting {names} (known: {', '.join(sorted(known))})")
    return cls(**dict(values))
