"""core/limits.py: one text's length and Unicode checks, where every command and the Python API apply them."""

import pytest

from slotfill.core.limits import MAX_TEXT_CHARS, check_text, text_problem
from slotfill.errors import SlotfillError
from tests.helpers import tiny_model


def test_a_text_within_the_limits_passes():
    assert text_problem("flights to boston") is None and check_text("é" * MAX_TEXT_CHARS, "t") == "é" * MAX_TEXT_CHARS


def test_over_long_and_lone_surrogate_texts_are_refused_in_one_line():
    with pytest.raises(SlotfillError, match=r"text 2: 100,001 characters, over the limit of 100,000"):
        check_text("x" * (MAX_TEXT_CHARS + 1), "text 2")
    with pytest.raises(SlotfillError, match=r"holds a lone surrogate \(U\+D800 at character 6\)"):
        check_text("from \ud800 boston", "text 1")


def test_the_python_api_refuses_them_before_tagging():
    from slotfill.inference.tagger import SlotTagger

    tagger = SlotTagger(tiny_model())
    with pytest.raises(SlotfillError, match="text 2: holds a lone surrogate"):
        tagger.predict(["fine", "from \ud800 boston"])
