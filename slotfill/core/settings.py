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


def whole_number(value: object, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` when it is a whole number in ``[minimum, maximum]``; otherwise a one-line error naming ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise ConfigError(f"{name}={value!r}: must be a whole number {bound}")
    return value


def true_or_false(value: object, name: str) -> bool:
    """``value`` when it is true or false; otherwise a one-line error naming ``name`` (``plots=maybe``)."""
    if not isinstance(value, bool):
        quoted = " (unquoted)" if str(value).lower() in ("true", "false") else ""
        raise ConfigError(f"{name}={value!r}: true or false{quoted}")
    return value
