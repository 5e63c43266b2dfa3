"""Settings dataclasses built from plain mappings (a Hydra group, a checkpoint), unknown keys refused."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import fields
from typing import TypeVar

from slotfill.errors import ConfigError

T = TypeVar("T")


def from_mapping(cls: type[T], values: Mapping, group: str, check_types: bool = True) -> T:
    """``cls(**values)``; a key ``cls`` does not have, or (``check_types``: settings given now, not read
    back from a saved file) a value not of the field's plain type (a word where a number goes), is a
    one-line error naming ``group.key``."""
    known = {f.name: f.type for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        names = ", ".join(f"{group}.{k}" for k in unknown)
        raise ConfigError(f"unknown setting {names} (known: {', '.join(sorted(known))})")
    for key, value in values.items() if check_types else ():
        _check_type(value, str(known[key]), f"{group}.{key}")
    return cls(**dict(values))


# a plain field type, as written in the dataclass (annotations are strings here): what a value may be
_PLAIN = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _check_type(value: object, annotation: str, name: str) -> None:
    kinds = [k.strip() for k in annotation.split("|")]
    if value is None and "None" in kinds:
        return
    plain = [k for k in kinds if k != "None"]
    if len(plain) != 1 or plain[0] not in _PLAIN:
        return  # a richer type (a mapping, a list): checked where it is used
    kind = plain[0]
    allowed = _PLAIN[kind]
    if not isinstance(value, allowed) or (kind != "bool" and isinstance(value, bool)):
        word = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "a word"}[kind]
        raise ConfigError(f"{name}={value!r}: must be {word}")


def whole_number(value: object, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` when it is a whole number in ``[minimum, maximum]``; otherwise a one-line error naming ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)  # numpy's integers too (pandas and Spark hand them out)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise ConfigError(f"{name}={value!r}: must be a whole number {bound}")
    return int(value)


def is_number(value: object) -> bool:
    """An int or a float, and not a bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def true_or_false(value: object, name: str) -> bool:
    """``value`` when it is true or false; otherwise a one-line error naming ``name`` (``plots=maybe``)."""
    if not isinstance(value, bool):
        quoted = " (unquoted)" if str(value).lower() in ("true", "false") else ""
        raise ConfigError(f"{name}={value!r}: true or false{quoted}")
    return value
