"""integrations/ray_record.py: a Ray run's manifest and done-list, and what a resumed run keeps."""

from __future__ import annotations

import json

import pytest

from slotfill.errors import ConfigError, DataError
from slotfill.integrations import ray_record


def _run(tmp_path, **settings):
    model = tmp_path / "model.onnx"
    if not model.exists():
        model.write_bytes(b"graph")
    files = [str(tmp_path / "a.txt"), "s3://bucket/b.txt"]
    return ray_record.manifest(str(model), files, [(10, 123), None], {"format": "jsonl", **settings})


def test_a_new_run_writes_its_manifest_and_an_empty_done_list(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    expected = _run(tmp_path)
    assert ray_record.start(folder, expected, resume=False, fmt="jsonl") == (set(), 0)
    assert json.loads((folder / ray_record.MANIFEST).read_text()) == expected
    assert (folder / ray_record.DONE).read_text() == ""
    assert expected["files"] == [[str(tmp_path / "a.txt"), 10, 123], ["s3://bucket/b.txt", None, None]]
    assert ray_record.start(folder, expected, resume=True, fmt="jsonl") == (set(), 0)  # nothing done yet


def test_a_resumed_run_keeps_the_recorded_shards_and_deletes_the_rest(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    expected = _run(tmp_path)
    ray_record.start(folder, expected, resume=False, fmt="jsonl")
    for name, chunks, rows in (
        ("part-00000-0000000001.jsonl", [[0, 1], [0, 2001]], 4000),
        ("part-x.jsonl", [[1, 1]], 7),
    ):
        (folder / name).write_text("{}\n")
        ray_record.record(folder, name, chunks, rows)
    (folder / "part-00000-0000004001.jsonl").write_text("{}\n")  # finished, never recorded (the driver stopped)
    (folder / "part-00000-0000006001.jsonl.partial").write_text("{")
    (folder / "part-x.jsonl").unlink()  # recorded, then deleted by hand: tagged again
    with (folder / ray_record.DONE).open("a") as f:
        f.write('{"shard": "part-00000-00000')  # cut off mid-write
    done, rows = ray_record.start(folder, expected, resume=True, fmt="jsonl")
    assert done == {(0, 1), (0, 2001)} and rows == 4000
    assert sorted(p.name for p in folder.glob("part-*")) == ["part-00000-0000000001.jsonl"]
    assert len((folder / ray_record.DONE).read_text().splitlines()) == 1  # the torn line is gone, not appended to
    assert ray_record.start(folder, expected, resume=True, fmt="jsonl") == (done, rows)


def test_a_damaged_done_list_or_another_run_is_refused(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    expected = _run(tmp_path, batch_size=256)
    ray_record.start(folder, expected, resume=False, fmt="jsonl")
    with pytest.raises(ConfigError, match=r"^ray.resume=true: the shards in .* another batch_size \("):
        ray_record.start(folder, _run(tmp_path, batch_size=128), resume=True, fmt="jsonl")
    (tmp_path / "model.onnx").write_bytes(b"another graph")
    with pytest.raises(ConfigError, match="another batch_size, model "):
        ray_record.start(folder, _run(tmp_path, batch_size=128), resume=True, fmt="jsonl")
    (folder / ray_record.DONE).write_text('oops\n{"shard": "s", "chunks": [], "rows": 0}\n')
    with pytest.raises(DataError, match="_done.jsonl:1: not JSON"):
        ray_record.start(folder, expected, resume=True, fmt="jsonl")
