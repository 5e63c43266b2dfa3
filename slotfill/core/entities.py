"""Rasa's entity roles and groups inside one slot type: ``city@departure``, ``city@departure#2``.

A tagger has one label per token, so a role and a group ride in the slot type itself:
``ENTITY[@ROLE][#GROUP]``. The Rasa reader writes them there, the tagger learns them as any
other slot type, and answers split them back into Rasa's ``entity``, ``role`` and ``group``.
"""

from __future__ import annotations

ROLE, GROUP = "@", "#"


def entity_label(entity: str, role: str | None = None, group: str | None = None) -> str:
    """The slot type for an entity with an optional role and group."""
    return entity + (ROLE + role if role else "") + (GROUP + group if group else "")


def entity_parts(slot: str) -> tuple[str, str | None, str | None]:
    """``(entity, role, group)`` of a slot type (role and group None where it has none)."""
    rest, _, group = slot.partition(GROUP)
    entity, _, role = rest.partition(ROLE)
    return entity, role or None, group or None


def bad_name(name: str) -> str | None:
    """What makes ``name`` unusable as an entity, role or group name, or None."""
    if not name.strip():
        return "an empty name"
    for mark in (ROLE, GROUP):
        if mark in name:
            return f"{mark!r} (it separates entity, role and group in a slot type)"
    if any(c.isspace() for c in name):
        return "white space"
    return None
