from hypothesis import given
from hypothesis import strategies as st

from slotfill.core.entities import bad_name, entity_label, entity_parts

NAMES = st.text(st.characters(blacklist_characters="@#", blacklist_categories=("Z", "C")), min_size=1, max_size=8)


@given(NAMES, st.none() | NAMES, st.none() | NAMES)
def test_a_label_splits_back_into_its_entity_role_and_group(entity, role, group):
    assert entity_parts(entity_label(entity, role, group)) == (entity, role, group)


def test_plain_slot_types_have_no_role_or_group():
    assert entity_parts("fromloc.city_name") == ("fromloc.city_name", None, None)
    assert entity_label("city", "departure", "2") == "city@departure#2"


def test_names_holding_the_separators_are_named():
    assert "'@'" in bad_name("a@b")
    assert "'#'" in bad_name("a#b")
    assert bad_name("new york") == "white space"
    assert bad_name("city") is None
