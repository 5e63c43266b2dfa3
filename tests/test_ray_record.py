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
    files = [str(tmp_path / "a.txt"), "http://example.com/b.txt"]
    return ray_record.manifest(str(model), files, [(10, 123), None], {"format": "jsonl", **settings})


def test_a_new_run_writes_its_manifest_and_an_empty_done_list(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    expected = _run(tmp_path)
    assert ray_record.start(folder, expected, resume=False, fmt="jsonl") == (set(), 0)
    assert json.loads((folder / ray_record.MANIFEST).read_text()) == expected
    assert (folder / ray_record.DONE).read_text() == ""
    assert expected["files"] == [[str(tmp_path / "a.txt"), 10, 123], ["http://example.com/b.txt", None, None]]
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
    assert ray_record.start(folder, _run(tmp_path, batch_size=128), resume=False, fmt="jsonl") == (set(), 0)
    # no shard yet: a run that failed early leaves its folder free for another; with one, it is that run's
    ray_record.start(folder, expected, resume=False, fmt="jsonl")
    (folder / "part-00000-0000000001.jsonl").write_text("{}\n")
    ray_record.record(folder, "part-00000-0000000001.jsonl", [[0, 1]], 1)
    with pytest.raises(ConfigError, match="holds another run's shards"):
        ray_record.start(folder, expected, resume=False, fmt="jsonl")
    with pytest.raises(ConfigError, match=r"^ray.resume=true: the shards in .* another batch_size \("):
        ray_record.start(folder, _run(tmp_path, batch_size=128), resume=True, fmt="jsonl")
    (tmp_path / "model.onnx").write_bytes(b"another graph")
    with pytest.raises(ConfigError, match="another batch_size, model "):
        ray_record.start(folder, _run(tmp_path, batch_size=128), resume=True, fmt="jsonl")
    (tmp_path / "model.onnx").write_bytes(b"graph")
    expected = _run(tmp_path, batch_size=256)
    (folder / ray_record.MANIFEST).write_text(json.dumps(expected))
    (folder / ray_record.DONE).write_text('oops\n{"shard": "s", "chunks": [], "rows": 0}\n')
    with pytest.raises(DataError, match="_done.jsonl:1: not JSON"):
        ray_record.start(folder, expected, resume=True, fmt="jsonl")
    for entry in ("[1, 2]", '{"shard": "s"}', '{"shard": "s", "chunks": [[0]], "rows": 1}'):
        (folder / ray_record.DONE).write_text(entry + "\n{}\n")
        with pytest.raises(DataError, match="_done.jsonl:1: not a done-list entry"):
            ray_record.start(folder, expected, resume=True, fmt="jsonl")
    (folder / ray_record.MANIFEST).write_text("[]")
    with pytest.raises(DataError, match="not a run manifest"):
        ray_record.start(folder, expected, resume=True, fmt="jsonl")
    (folder / ray_record.MANIFEST).unlink()  # shards of something else, or of a slotfill before manifests
    with pytest.raises(ConfigError, match="holds no slotfill run to finish"):
        ray_record.start(folder, expected, resume=True, fmt="jsonl")


def test_shards_are_known_by_their_exact_names_and_local_parquet_files_are_stamped(tmp_path):
    assert ray_record.is_shard("part-00001-0000002001.jsonl", "jsonl")
    assert ray_record.is_shard("part-00001-0000002001.jsonl.partial", "jsonl")
    for other in ("part-notes.jsonl.bak", "part-00001-0000002001.jsonlines", "part-00001-0000002001.parquet"):
        assert not ray_record.is_shard(other, "jsonl")
    (tmp_path / "m.pt").write_bytes(b"m")
    (tmp_path / "c.parquet").write_bytes(b"p")
    files = [str(tmp_path / "c.parquet"), "http://example.com/c.parquet"]
    recorded = ray_record.manifest(str(tmp_path / "m.pt"), files, [None, None], {})["files"]
    assert recorded[0][1] == 1 and recorded[1] == ["http://example.com/c.parquet", None, None]


def test_a_changed_file_none_of_whose_chunks_were_done_is_tagged_again_and_one_with_chunks_is_named(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    files = [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]

    def expected(b_stamp):
        return ray_record.manifest(str(tmp_path / "m.onnx"), files, [(10, 1), b_stamp], {"format": "jsonl"})

    (tmp_path / "m.onnx").write_bytes(b"graph")
    ray_record.start(folder, expected((5, 1)), resume=False, fmt="jsonl")
    (folder / "part-00000-0000000001.jsonl").write_text("{}\n")
    ray_record.record(folder, "part-00000-0000000001.jsonl", [[0, 1]], 1)  # a.txt's chunk; b.txt failed on a line
    assert ray_record.start(folder, expected((6, 2)), resume=True, fmt="jsonl") == ({(0, 1)}, 1)  # b.txt fixed
    assert json.loads((folder / ray_record.MANIFEST).read_text()) == expected((6, 2))  # the next resume's reference
    (folder / "part-00001-0000000001.jsonl").write_text("{}\n")
    ray_record.record(folder, "part-00001-0000000001.jsonl", [[1, 1]], 1)
    with pytest.raises(ConfigError, match=r"b.txt changed since its first chunks were tagged"):
        ray_record.start(folder, expected((7, 3)), resume=True, fmt="jsonl")
    other = ray_record.manifest(str(tmp_path / "m.onnx"), files[:1], [(10, 1)], {"format": "jsonl"})
    with pytest.raises(ConfigError, match="another files"):  # other inputs: another run
        ray_record.start(folder, other, resume=True, fmt="jsonl")


def test_success_marks_a_finished_run_until_it_is_resumed(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    expected = _run(tmp_path)
    ray_record.start(folder, expected, resume=False, fmt="jsonl")
    (folder / "part-00000-0000000001.jsonl").write_text("{}\n")
    ray_record.record(folder, "part-00000-0000000001.jsonl", [[0, 1]], 1)
    ray_record.finish(folder)
    with pytest.raises(ConfigError, match="holds another run's shards"):
        ray_record.start(folder, expected, resume=False, fmt="jsonl")
    assert ray_record.is_finished(folder)  # a refused run leaves the finished one as it was
    ray_record.start(folder, expected, resume=True, fmt="jsonl")
    assert not ray_record.is_finished(folder)  # until the resumed run ends


def test_an_actor_refuses_a_folder_without_the_drivers_mark_and_the_mark_is_no_run(tmp_path):
    import pickle

    folder = tmp_path / "out"
    folder.mkdir()
    token = ray_record.mark(folder)
    assert not ray_record.holds_a_run(folder)  # a run that fails before its first shard leaves the folder free
    assert ray_record.start(folder, _run(tmp_path), resume=False, fmt="jsonl") == (set(), 0)
    ray_record.check_mark(folder, token)  # the driver's folder, seen
    unshared = r"^output=.*out: node .* does not see the folder the driver writes .*every node shares$"
    with pytest.raises(ray_record.Unshared, match=unshared):
        ray_record.check_mark(folder, "an earlier run's")  # a node's own disk holding an old copy
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ConfigError, match=unshared.replace("out:", "elsewhere:")):
        ray_record.check_mark(tmp_path / "elsewhere", token)
    error = ray_record.Unshared("output=out: not seen")
    error.args = (error.args[0] + "\nFailed to apply UDF transform after 1/1 attempts",)  # Ray Data's note
    assert str(pickle.loads(pickle.dumps(error))) == "output=out: not seen"  # the driver gets one line
