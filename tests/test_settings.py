"""settings.py: dataclasses from plain mappings, unknown keys named."""

from dataclasses import dataclass

import pytest

from slotfill.core.settings import from_mapping
from slotfill.errors import ConfigError


@dataclass
class Example:
    size: int = 1


def test_known_keys_build_and_unknown_keys_are_named():
    assert from_mapping(Example, {"size": 3}, "group") == Example(3)
    with pytest.raises(ConfigError, match=r"group\.sise .*known: size"):
        from_mapping(Example, {"sise": 3}, "group")
