"""lexicon.py: gazetteer lists, longest match per type, and their files."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotfill.core.lexicon import BEGIN, INSIDE, OUT, Lexicon, resolve_list
from slotfill.errors import DataError

LEX = Lexicon({"city": ["Kuala Lumpur", "kuala", "New York", "york", "São Paulo"], "state": ["new york"]})


def _types(tokens, kind):
    k = LEX.types.index(kind)
    return [row[k] for row in LEX.match(tokens)]


def test_longest_match_per_type_with_b_and_i():
    assert _types(["fly", "to", "kuala", "lumpur"], "city") == [OUT, OUT, BEGIN, INSIDE]
    assert _types(["kuala", "york"], "city") == [BEGIN, BEGIN]
    tokens = ["new", "york", "to", "são", "paulo"]
    assert _types(tokens, "city") == [BEGIN, INSIDE, OUT, BEGIN, INSIDE]
    assert _types(tokens, "state") == [BEGIN, INSIDE, OUT, OUT, OUT]
    assert LEX.match([]) == []


def test_entries_are_normalised_like_words():
    assert "kuala lumpur" in LEX.entries["city"] and "são paulo" in LEX.entries["city"]
    assert Lexicon.from_dict(LEX.to_dict()).entries == LEX.entries
    assert Lexicon.from_dict(LEX.to_dict(packed=True)).entries == LEX.entries
    assert LEX.lists("city", ["kuala", "lumpur"]) and not LEX.lists("state", ["kuala", "lumpur"])


@given(st.lists(st.sampled_from(["new", "york", "kuala", "lumpur", "to", "são", "paulo"]), max_size=12))
def test_every_inside_continues_a_match(tokens):
    for k in range(len(LEX.types)):
        column = [row[k] for row in LEX.match(tokens)]
        for prev, cur in zip([OUT, *column], column):
            assert cur != INSIDE or prev in (BEGIN, INSIDE)


def test_list_files_tolerate_blank_lines_and_repeats(tmp_path):
    f = tmp_path / "city.txt"
    f.write_text("taipei\n\nTaipei\n  \ncape town\n")
    lex = Lexicon.read({"city": f})
    assert lex.entries["city"] == ["cape town", "taipei"]


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"ok\nbad \xff\n", "city.txt:2: not valid UTF-8"),
        (b"\n\n", "empty lexicon list"),
        (b"a b c d e f g h i\n", "city.txt:1: entry of 9 words"),
    ],
)
def test_bad_list_files_name_file_and_line(tmp_path, content, problem):
    f = tmp_path / "city.txt"
    f.write_bytes(content)
    with pytest.raises(DataError, match=problem):
        Lexicon.read({"city": f})
    with pytest.raises(DataError, match="model.lexicons.city"):
        Lexicon.read({"city": tmp_path / "missing.txt"})


def test_bundled_lists_resolve_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_list("data/lexicons/city.txt").is_file()
