"""schema.py: format numbers, atomic writes and the metrics record shared by train and evaluate."""

import pytest

from slotfill.core.files import write_atomic, write_json
from slotfill.core.schema import CARD_KEYS, FORMAT_VERSION, check_format, metrics_record, no_model_in, run_record
from slotfill.errors import CheckpointError, SlotfillError


def test_check_format():
    assert check_format(1, "f") == 1 and check_format(FORMAT_VERSION, "f") == FORMAT_VERSION
    with pytest.raises(CheckpointError, match=f"format {FORMAT_VERSION + 1}.*up to {FORMAT_VERSION}"):
        check_format(FORMAT_VERSION + 1, "f")
    with pytest.raises(CheckpointError, match="unknown file format"):
        check_format("2", "f")


def test_write_atomic_replaces_whole_files_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    write_json(path, {"a": 1})
    write_atomic(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]


def test_write_atomic_into_an_unwritable_place_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SlotfillError, match="cannot write"):
        write_atomic(blocker / "x.json", "data")


def test_metrics_record_has_the_card_keys_and_scores_by_split():
    card = {k: k for k in CARD_KEYS} | {"format": FORMAT_VERSION}
    record = metrics_record("evaluate", card, {"test": {"f1": 1.0}}, data="x")
    assert set(CARD_KEYS) <= set(record) and record["kind"] == "evaluate"
    assert record["scores"] == {"test": {"f1": 1.0}} and record["data"] == "x"


@pytest.mark.parametrize("text", ["[1, 2]", '"completed"', "{not json", ""])
def test_run_record_of_a_record_that_is_not_a_mapping_is_none(tmp_path, text):
    """A run.json edited into a list or a string is no record: readers say "not a run", not AttributeError."""
    (tmp_path / "run.json").write_text(text)
    assert run_record(tmp_path) is None
    assert "a folder without model.pt" in no_model_in(tmp_path, "give a model file")


def test_run_record_reads_a_run_folders_record(tmp_path):
    write_json(tmp_path / "run.json", {"status": "completed"})
    assert run_record(tmp_path) == {"status": "completed"}
    assert run_record(tmp_path / "elsewhere") is None
