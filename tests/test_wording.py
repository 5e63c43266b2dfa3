"""core/wording.py: counts and verbs worded as people read them."""

from slotfill.core.wording import counted, verb


def test_a_count_and_its_verb_agree():
    assert counted(1, "sentence") == "1 sentence" and counted(2000, "line") == "2,000 lines"
    assert [verb(1, w) for w in ("has", "occurs", "is")] == ["has", "occurs", "is"]
    assert [verb(n, w) for n, w in ((0, "has"), (2, "occurs"), (3, "is"), (2, "was"))] == [
        "have",
        "occur",
        "are",
        "were",
    ]
