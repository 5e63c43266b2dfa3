"""slotfill predict engine=ray: inputs, shards, errors before work, and the same records as plain predict."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slotfill.core.limits import PREDICT_CHUNK
from slotfill.core.lines import decode_lines
from slotfill.core.sentence_files import ParquetRows, row_ranges
from slotfill.errors import ConfigError, DataError, SlotfillError
from slotfill.integrations import ray_record
from slotfill.integrations.ray_engine import (
    RaySettings,
    Tagging,
    actor_count,
    check_actor_fits,
    chunk_ranges,
    input_files,
    output_folder,
    planned_chunks,
    predict_on_ray,
    progress_line,
    read_back,
    read_range,
    rows_of,
    shard_name,
    split_files,
    write_shard,
)
from tests.conftest import SAMPLE
from tests.helpers import compose_config, examples, one_line_error, run_script


def test_input_is_a_file_a_folder_or_a_glob(tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jsonl").write_text('{"text": "y"}\n')
    (tmp_path / ".hidden").write_text("z\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "index").write_text("z\n")  # under a hidden folder: left out too
    earlier = tmp_path / "tagged"  # an earlier run's output folder: results, not sentences
    earlier.mkdir()
    (earlier / "_slotfill_run.json").write_text("{}")
    (earlier / "part-00000-0000000001.jsonl").write_text('{"text": "x", "source": "a.txt", "line": 1}\n')
    assert input_files(str(tmp_path / "a.txt")) == [str((tmp_path / "a.txt").resolve())]
    assert [Path(p).name for p in input_files(str(tmp_path))] == ["a.txt", "b.jsonl"]
    assert input_files(f"{tmp_path}/./") == input_files(str(tmp_path))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        assert input_files(".") == input_files("./") == input_files(str(tmp_path))  # "." lists "a.txt"
    with pytest.raises(ConfigError, match="tagged: the output folder of an earlier run"):
        input_files(str(earlier))
    with pytest.raises(ConfigError, match=r"part-\*.jsonl: every match is in the output folder of an earlier run"):
        input_files(str(earlier / "part-*.jsonl"))
    assert [Path(p).name for p in input_files(str(tmp_path / "**" / "*.jsonl"))] == ["b.jsonl"]
    assert input_files("http://example.com/logs/") == ["http://example.com/logs/"]  # Ray's to read
    with pytest.raises(ConfigError, match="no such file or folder"):
        input_files(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="no files there"):
        input_files(str(tmp_path / "*.parquet"))


def test_an_existing_name_is_that_file_a_link_is_read_once_and_a_name_must_be_utf8(tmp_path):
    (tmp_path / "q[1].txt").write_text("hi\n")
    (tmp_path / "q1.txt").write_text("x\n")  # what "q[1].txt" read as a glob matches
    assert input_files(str(tmp_path / "q[1].txt")) == [str(tmp_path / "q[1].txt")]
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "a.txt").write_text("hi\n")
    (tmp_path / "links" / "b.txt").symlink_to("a.txt")
    assert input_files(str(tmp_path / "links")) == [str(tmp_path / "links" / "a.txt")]
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / os.fsdecode(b"\xff.txt")).write_text("hi\n")
    with pytest.raises(DataError, match="the file name is not UTF-8: rename the file"):
        input_files(str(odd))


def test_a_cluster_address_nothing_answers_at_is_one_line_at_once():
    from slotfill.integrations.ray_engine import check_reachable
    from tests.helpers import free_port

    for address in (None, "auto", "local"):
        check_reachable(address)  # Ray's to find
    with pytest.raises(ConfigError, match=r"ray.address=127.0.0.1:\d+: cannot join that Ray cluster \(nothing answers"):
        check_reachable(f"127.0.0.1:{free_port()}")
    with pytest.raises(ConfigError, match=r"ray.address=ray://no-such-host.invalid:1: cannot join"):
        check_reachable("ray://no-such-host.invalid:1", timeout=2)
    with pytest.raises(ConfigError, match="expected HOST:PORT, ray://HOST:PORT or auto"):
        check_reachable("bogus")
    with socket.socket() as head:  # something listening: left to ray.init
        head.bind(("127.0.0.1", 0))
        head.listen()
        check_reachable(f"127.0.0.1:{head.getsockname()[1]}")


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.sampled_from(["", "a", "bb c", "\r", "ü x", "{}"]), max_size=30),
    final_newline=st.booleans(),
    bom=st.booleans(),
    size=st.integers(1, 6),
    block=st.integers(1, 25),
)
def test_the_driver_cuts_a_local_file_where_plain_predict_cuts_it(tmp_path, lines, final_newline, bom, size, block):
    """Byte ranges of ``size`` lines each, found ``block`` bytes at a time, read back as the whole file's lines."""
    raw = (b"\xef\xbb\xbf" if bom else b"") + "\n".join(lines).encode() + (b"\n" if final_newline and lines else b"")
    path = tmp_path / "in.txt"
    path.write_bytes(raw)
    ranges, count, _ = chunk_ranges(str(path), size, block)
    got = []
    for first, start, end in ranges:
        assert first == len(got) + 1
        part = rows_of(str(path), read_range(str(path), start, end), first)
        assert len(part) == size or (first, start, end) == ranges[-1]
        got += part
    assert got == decode_lines(raw, path) and count == len(got)


@pytest.mark.parametrize(
    "text, block, line",
    [
        ("a\nxxxxxxxxxxx\nb\n", 64, 2),  # inside one read
        ("a\nb\nxxxxxxxxxxx\n", 4, 3),  # over several reads, ended by its newline
        ("a\nb\nc\nxxxxxxxxxxx", 4, 4),  # over several reads, never ended
        ("a\nxxxxxxxxxxxx\nxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", 64, 2),  # two in one read: the first is named
    ],
)
def test_a_line_far_over_the_limit_is_found_while_planning(tmp_path, monkeypatch, text, block, line):
    """A file that lost its line breaks is an error before Ray starts, not a whole file in an actor."""
    monkeypatch.setattr("slotfill.integrations.ray_engine.MAX_LINE_BYTES", 10)
    path = tmp_path / "in.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"in.txt:{line}: over 100,000 characters: one sentence a line"):
        chunk_ranges(str(path), 2, block)
    path.write_text("a\n" + "x" * 10 + "\nb")  # at the limit: the actor's check of characters decides
    assert chunk_ranges(str(path), 2, block=4)[1] == 3


def test_planned_chunks_read_back_with_their_own_line_numbers(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    local = tmp_path / "a.jsonl"
    local.write_text("".join(json.dumps({"text": f"n {n}"}) + "\n" for n in range(PREDICT_CHUNK + 1)) + "{oops\n")
    pq.write_table(pa.table({"text": ["one", "two", "three"]}), tmp_path / "b.parquet")
    files = [str(tmp_path / "b.parquet"), str(local), "http://example.com/c.txt"]
    rows, lines, stamps = planned_chunks(files)
    assert lines == 3 + PREDICT_CHUNK + 2 and stamps[0] is not None and stamps[2] is None
    assert [(r["file"], r["first"], r["start"], r["texts"]) for r in rows] == [
        (0, 1, 0, ""),  # a parquet file's rows
        (1, 1, 0, ""),
        (1, PREDICT_CHUNK + 1, rows[2]["start"], ""),
    ]
    assert ParquetRows(files[0], stamps[0]).read(rows[0]["start"], rows[0]["end"]) == ["one", "two", "three"]
    first, last = (read_range(str(local), r["start"], r["end"], stamps[1]) for r in rows[1:])
    assert rows_of(str(local), first)[-1] == f"n {PREDICT_CHUNK - 1}"
    with pytest.raises(DataError, match=rf"a.jsonl:{PREDICT_CHUNK + 2}: not JSON"):
        rows_of(str(local), last, PREDICT_CHUNK + 1)


@pytest.mark.parametrize("change", ["shorter", "rewritten in place"])
def test_a_file_changed_after_its_chunks_were_found_is_an_error(tmp_path, change):
    """Not lines cut in the wrong places: a log rewritten to the same size is caught by its time."""
    path = tmp_path / "in.txt"
    path.write_text("a\nb\nc\nd\ne\n")
    ranges, _, found = chunk_ranges(str(path), 2)
    path.write_text("a\n" if change == "shorter" else "aa\nb\nc\nd\ne")
    os.utime(path, ns=(found[1] + 10**9, found[1] + 10**9))  # a later time, whatever the clock's grain
    for check in (found, None) if change == "shorter" else (found,):  # shorter: caught without the stamp too
        with pytest.raises(DataError, match="in.txt: changed while it was being tagged"):
            read_range(str(path), ranges[1][1], ranges[1][2], check)


def test_the_progress_line_says_the_share_the_rate_and_the_time_left():
    assert progress_line(250_000, 1_000_000, 0, 50.0) == (
        "ray: 250,000 of 1,000,000 (25%) sentences tagged, 5,000/s, about 2 min 30 s left"
    )
    # resumed: the rate is this run's, the share counts what the earlier run tagged
    assert progress_line(600_000, 1_000_000, 500_000, 20.0).endswith(
        "(60%) sentences tagged, 5,000/s, about 1 min 20 s left"
    )
    assert progress_line(1_000, None, 0, 2.0) == "ray: 1,000 sentences tagged, 500/s"  # URLs: no total
    assert progress_line(10, 10, 0, 1.0) == "ray: 10 of 10 (100%) sentences tagged, 10/s"
    assert progress_line(0, 10, 0, 0.0) == "ray: 0 of 10 (0%) sentences tagged, 0/s"


def test_no_more_actors_than_shards_each_loading_the_model():
    assert [actor_count(4, shards) for shards in (1, 3, 4, 9)] == [1, 3, 4, 4]
    assert actor_count(4, 1, known=False) == 4  # URLs read by tasks: their shards are not counted before


def test_settings_and_output_folder_are_checked(tmp_path):
    for bad in ({"concurrency": 0}, {"concurrency": 1.5}, {"num_cpus": 0}, {"shard_rows": True}, {"resume": "yes"}):
        with pytest.raises(ConfigError, match="ray."):
            RaySettings(**bad)
    with pytest.raises(ConfigError, match="add output=FOLDER"):
        output_folder(None, "jsonl")
    with pytest.raises(ConfigError, match="jsonl or parquet"):
        output_folder(str(tmp_path / "o"), "conll")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "part-00000.jsonl").write_text("{}\n")
    with pytest.raises(ConfigError, match="not empty"):
        output_folder(str(tmp_path / "used"), "jsonl")
    assert not output_folder(str(tmp_path / "new" / "o"), "jsonl", create=False).exists()
    assert output_folder(str(tmp_path / "new" / "o"), "jsonl").is_dir()
    assert RaySettings(shard_rows=1).chunks_per_shard == 1
    assert RaySettings(shard_rows=PREDICT_CHUNK + 1).chunks_per_shard == 2


def test_a_url_output_is_refused_not_written_as_a_local_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for create in (False, True):
        with pytest.raises(ConfigError, match=r"^output=s3://my-bucket/tagged/: .*on a file system every node shares"):
            output_folder("s3://my-bucket/tagged/", "jsonl", create=create)
    assert list(tmp_path.iterdir()) == []  # not a folder named "s3:"


def test_an_actor_needing_more_cpus_than_this_machine_has_is_refused_and_on_a_cluster_warned(caplog):
    class Nodes:
        def nodes(self) -> list[dict]:
            return [
                {"Alive": True, "Resources": {"CPU": 2.0, "memory": 1e9}},
                {"Alive": False, "Resources": {"CPU": 8.0}},  # gone
                {"Alive": True, "Resources": {"memory": 1e9}},  # a head node that runs no tasks
            ]

    for fits in (0.5, 1, 2):
        check_actor_fits(Nodes(), fits, None)
    with pytest.raises(ConfigError, match=r"^ray.num_cpus=3: each actor needs more CPUs than this machine has \(2\)"):
        check_actor_fits(Nodes(), 3, None)
    check_actor_fits(Nodes(), 2.5, "auto")  # a cluster joined: an autoscaler may add a node (warned)
    assert "the actors wait for an autoscaler" in caplog.text


class _FakeRay:
    """As much of Ray as :func:`predict_on_ray` touches before the actors start; ``map_batches`` keeps
    what each actor would be built with, and stops the run there."""

    class Stop(Exception):
        pass

    def __init__(self, cpus: float) -> None:
        self.cpus, self.data, self.stopped, self.actor_kwargs = cpus, self, False, None

    def is_initialized(self) -> bool:
        return False

    def init(self, **_) -> None:
        pass

    def shutdown(self) -> None:
        self.stopped = True

    def nodes(self) -> list[dict]:
        return [{"Alive": True, "Resources": {"CPU": self.cpus}}]

    def from_items(self, *_, **__):
        return self

    def ActorPoolStrategy(self, **_) -> None:  # noqa: N802 (Ray's name)
        return None

    def map_batches(self, fn, fn_constructor_kwargs: dict, **_):
        self.actor_kwargs = fn_constructor_kwargs
        raise self.Stop


def test_an_actors_cpus_and_the_shared_folder_are_checked_before_work(tiny_model_file, tmp_path, monkeypatch):
    from slotfill.integrations import ray_engine

    (tmp_path / "in.txt").write_text("flights to boston\nfrom denver\n")

    def run(fake: _FakeRay, out: str, **settings) -> None:
        monkeypatch.setattr(ray_engine, "_ray", lambda: fake)
        predict_on_ray(str(tiny_model_file), str(tmp_path / "in.txt"), out, RaySettings(**settings), {}, progress=print)

    two = _FakeRay(cpus=2)
    with pytest.raises(ConfigError, match=r"^ray.num_cpus=3: .*this machine has \(2\)"):
        run(two, str(tmp_path / "o1"), num_cpus=3)  # Ray would wait for such a node forever
    assert two.stopped and two.actor_kwargs is None
    with pytest.raises(_FakeRay.Stop):
        run(two, str(tmp_path / "o2"), num_cpus=2)
    kwargs = two.actor_kwargs  # each actor checks the driver's mark, so it writes where the driver counts
    assert kwargs["mark"] == (tmp_path / "o2" / ray_record.SHARED).read_text()
    ray_record.mark(tmp_path / "o2")  # the mark of another run: the actor's node sees another folder
    actor = Tagging(**kwargs)
    assert not hasattr(actor, "tagger")  # no model loaded for a folder it cannot write into
    with pytest.raises(ray_record.Unshared, match=r"o2: node .* does not see the folder the driver writes"):
        actor({"file": [0], "first": [1]})


def test_files_are_cut_where_plain_predict_cuts_them():
    lines = [f"line {n}" for n in range(1, PREDICT_CHUNK + 2)]
    raw = ("\n".join(lines) + "\n").encode()
    out = split_files({"path": ["/in/a.txt", "/in/b.txt"], "bytes": [raw, b"x\n"]}, {"/in/a.txt": 0, "/in/b.txt": 1})
    assert out["file"].tolist() == [0, 0, 1] and out["first"].tolist() == [1, PREDICT_CHUNK + 1, 1]
    assert out["start"].tolist() == out["end"].tolist() == [-1, -1, -1]  # texts, not byte ranges
    assert [len(json.loads(t)) for t in out["texts"]] == [PREDICT_CHUNK, 1, 1]
    assert json.loads(out["texts"][1]) == [f"line {PREDICT_CHUNK + 1}"]
    assert shard_name(1, 2001, "jsonl") == "part-00001-0000002001.jsonl"
    assert sorted([shard_name(0, 4001, "jsonl"), shard_name(1, 1, "jsonl"), shard_name(0, 1, "jsonl")]) == [
        shard_name(0, 1, "jsonl"),
        shard_name(0, 4001, "jsonl"),
        shard_name(1, 1, "jsonl"),
    ]


def test_shards_are_whole_or_absent(tmp_path):
    import pyarrow.parquet as pq

    rows = [("f", n, json.dumps({"source": "f", "line": n})) for n in (3, 1, 2)]
    assert write_shard(tmp_path / "part-b.jsonl", "jsonl", iter(rows[:1])) == 1
    assert write_shard(tmp_path / "part-a.jsonl", "jsonl", iter(rows[1:])) == 2
    with pytest.raises(SlotfillError, match="not a finished engine=ray run .*ray.resume=true"):
        read_back(tmp_path)  # a folder without _SUCCESS may hold half a run
    ray_record.finish(tmp_path)
    assert [r["line"] for r in read_back(tmp_path)] == [1, 2, 3]
    assert write_shard(tmp_path / "p.parquet", "parquet", iter(rows)) == 3
    assert pq.read_table(tmp_path / "p.parquet").column("line").to_pylist() == [3, 1, 2]

    def failing():  # the tagger fails halfway through the shard
        yield rows[0]
        raise OSError(28, "No space left on device")

    (tmp_path / "x").mkdir()
    with pytest.raises(OSError):
        write_shard(tmp_path / "x" / "part-c.jsonl", "jsonl", failing())
    assert list((tmp_path / "x").iterdir()) == []  # no partial shard left behind


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_the_actor_tags_a_shard_and_keeps_what_it_holds_out_of_full_collections(tiny_model_file, tmp_path):
    """Called in this process as Ray calls it, with chunks cut by a reading task and then with chunks it
    reads itself: unfrozen, Ray's objects made each full collection walk ~290,000."""
    import gc

    import numpy as np

    texts = ["flights to boston", "", "from denver"]
    (tmp_path / "in").mkdir()
    source = tmp_path / "in" / "a.txt"
    source.write_text("\n".join(texts) + "\n")
    batch = split_files({"path": ["/in/a.txt"], "bytes": ["\n".join(texts).encode()]}, {"/in/a.txt": 0})
    planned, _, stamps = planned_chunks([str(source)])  # the same lines, read by the actor
    out = tmp_path / "out"
    out.mkdir()
    gc.unfreeze()  # what other tests in this process froze
    try:
        actor = Tagging(str(tiny_model_file), "torch", 1, "fp32", {}, 256, ["/in/a.txt"], str(out), "jsonl")
        frozen = gc.get_freeze_count()
        assert frozen > 0
        held = [[n] for n in range(5_000)]  # what an actor keeps from call to call
        assert actor(batch)["rows"].tolist() == [3]
        assert gc.get_freeze_count() >= frozen + len(held)
        ray_record.finish(out)  # the actor's shards alone, as a finished run holds them
        records = [(r["source"], r["line"], r["text"]) for r in read_back(out)]
        assert records == [("/in/a.txt", n, text) for n, text in enumerate(texts, 1)]
        actor.sources, actor.stamps = [str(source)], stamps
        as_read = {k: np.array([row[k] for row in planned]) for k in planned[0]}
        assert actor(as_read)["rows"].tolist() == [3]  # overwrites the same shard: named after its first record
    finally:
        gc.unfreeze()
    ray_record.finish(out)  # the actor's shards alone, as a finished run holds them
    records = [(r["source"], r["line"], r["text"]) for r in read_back(out)]
    assert records == [(str(source), n, text) for n, text in enumerate(texts, 1)]


@pytest.mark.slow
def test_an_actor_on_a_smaller_node_takes_the_threads_the_driver_accepted(tiny_model_file, tmp_path, monkeypatch):
    """The actor loaded its model with the threads checked again on its own node: on a node of fewer
    CPUs, refused in its constructor, which Ray reports as ActorDiedError and starts again and again."""
    import gc

    import torch

    from slotfill.core import threads

    monkeypatch.setattr(threads, "available_cpus", lambda: 1)  # at most 64 threads here; the driver's had more
    with pytest.raises(ConfigError, match=r"threads=65: at most 64"):
        threads.resolve(65)  # the bound is kept outside the actor
    before = torch.get_num_threads()
    try:
        actor = Tagging(str(tiny_model_file), "torch", 65, "fp32", {}, 256, ["/in/a.txt"], str(tmp_path), "jsonl")
        assert torch.get_num_threads() == 65 and repr(actor.tagger).endswith("threads=65)")
    finally:
        torch.set_num_threads(before)
        gc.unfreeze()  # what the actor froze
    with pytest.raises(ConfigError, match=r"threads=65: at most 64"):
        threads.resolve(65)


def test_the_actor_reads_a_parquet_file_on_from_call_to_call(tiny_model_file, tmp_path, monkeypatch):
    """Every other shard of a file of one row group, in two calls: the second goes on decoding where the
    first stopped (a fresh reader would decode the group again from its first row)."""
    import gc

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from slotfill.core import sentence_files

    texts = [f"to boston {i}" for i in range(8)]
    source = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": texts}), source)  # one row group
    ranges, _, found = row_ranges(str(source), 2)
    starts, batches = [], sentence_files._batches
    monkeypatch.setattr(sentence_files, "_batches", lambda p, start: starts.append(start) or batches(p, start))
    (tmp_path / "out").mkdir()
    try:
        actor = Tagging(
            str(tiny_model_file), "torch", 1, "fp32", {}, 256, [str(source)], str(tmp_path / "out"), "jsonl", [found]
        )
        for first, start, end in (ranges[0], ranges[2]):
            batch = {"file": [0], "first": [first], "start": [start], "end": [end], "texts": [""]}
            assert actor({k: np.array(v) for k, v in batch.items()})["rows"].tolist() == [2]
    finally:
        gc.unfreeze()
    assert starts == [0]


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_the_actor_reads_a_calls_parquet_rows_at_once(tiny_model_file, tmp_path, monkeypatch):
    """Chunks of one parquet file over row groups of two rows in one call: each run of consecutive
    chunks read at once, each chunk given its own rows, with their line numbers."""
    import gc

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from slotfill.integrations import ray_engine

    texts = ["flights to boston", "", "from denver", "to dallas", "on monday", "x", "y", "z", "boston"]
    source = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": texts}), source, row_group_size=2)
    ranges, _, found = row_ranges(str(source), 2)
    reads, read = [], ray_engine.ParquetRows.read
    monkeypatch.setattr(ray_engine.ParquetRows, "read", lambda self, *a: reads.append(a) or read(self, *a))
    order = [0, 1, 2, 4]  # chunk 4 (rows 8-9) comes without chunk 3: read on its own, not rows 6-8 with it
    columns = {"file": [0] * 4, "first": [ranges[i][0] for i in order], "start": [ranges[i][1] for i in order]}
    batch = {**columns, "end": [ranges[i][2] for i in order], "texts": [""] * 4}
    (tmp_path / "out").mkdir()
    try:
        actor = Tagging(
            str(tiny_model_file), "torch", 1, "fp32", {}, 256, [str(source)], str(tmp_path / "out"), "jsonl", [found]
        )
        assert actor({k: np.array(v) for k, v in batch.items()})["rows"].tolist() == [7]
    finally:
        gc.unfreeze()
    assert reads == [(0, 6), (8, 9)]
    ray_record.finish(tmp_path / "out")  # the actor's shards alone, as a finished run holds them
    records = [(r["source"], r["line"], r["text"]) for r in read_back(tmp_path / "out")]
    assert records == [(str(source), n, text) for n, text in enumerate(texts, 1) if n not in (7, 8)]


def test_urls_pyarrow_reads_are_cut_by_the_driver_and_read_by_the_actors(tiny_model_file, tmp_path):
    """A folder URL (``file://`` here, read by pyarrow as ``s3://`` and ``gs://`` are) is listed, each file
    cut by the driver and read by an actor that makes its file system afresh: the records of the same
    files read locally, under URLs that keep the source's query and encode what a path may hold; a URL
    pyarrow does not read (``http://``) stays a Ray task's."""
    import gc

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from slotfill.core import file_systems

    folder = tmp_path / "in 100%"
    (folder / "sub").mkdir(parents=True)
    texts = ["flights to boston", "", "from denver"]
    names = ["a b.txt", "c.parquet", "q?1#2%41.txt", "sub/d.jsonl"]
    for name in names[::2]:
        (folder / name).write_text("\n".join(texts) + "\n")
    pq.write_table(pa.table({"text": texts}), folder / names[1])
    (folder / names[3]).write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    (folder / ".hidden").write_text("not a sentence\n")
    url = f"file://{urllib.parse.quote(str(folder))}/?unused=1"
    files = input_files(url)
    assert files == [f"file://{urllib.parse.quote(str(folder / n))}?unused=1" for n in names]
    assert input_files(files[2]) == files[2:3]
    assert input_files("http://example.com/logs.txt") == ["http://example.com/logs.txt"]
    with pytest.raises(ConfigError, match="no such file or folder"):
        input_files(f"file://{tmp_path}/missing")
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / ".hidden").write_text("x\n")
    with pytest.raises(ConfigError, match="no files there to tag"):
        input_files(f"file://{tmp_path}/nothing")
    rows, lines, stamps = planned_chunks([*files, "http://example.com/logs.txt"])
    assert lines == 12 and all(stamps[:4]) and stamps[4] is None and len(rows) == 4
    file_systems._ROOTS.clear()  # an actor's process: file systems made from the URLs alone
    (tmp_path / "out").mkdir()
    try:
        actor = Tagging(
            str(tiny_model_file), "torch", 1, "fp32", {}, 256, files, str(tmp_path / "out"), "jsonl", stamps
        )
        assert actor({k: np.array([row[k] for row in rows]) for k in rows[0]})["rows"].tolist() == [12]
    finally:
        gc.unfreeze()
    ray_record.finish(tmp_path / "out")  # the actor's shards alone, as a finished run holds them
    records = [(r["source"], r["line"], r["text"]) for r in read_back(tmp_path / "out")]
    assert records == [(f, n, text) for f in sorted(files) for n, text in enumerate(texts, 1)]


def test_a_resumed_run_with_nothing_left_ends_before_ray_starts(tiny_model_file, tmp_path, monkeypatch):
    from slotfill.integrations import ray_engine

    class NoRay:
        def is_initialized(self) -> bool:
            return False

        def init(self, **_) -> None:
            raise AssertionError("Ray started")

    monkeypatch.setattr(ray_engine, "_ray", NoRay)
    (tmp_path / "in.txt").write_text("flights to boston\nfrom denver\n")
    out, said = tmp_path / "out", []

    def run(resume: bool) -> int:
        settings = RaySettings(resume=resume)
        return predict_on_ray(
            str(tiny_model_file), str(tmp_path / "in.txt"), str(out), settings, {}, progress=said.append
        )

    with pytest.raises(AssertionError, match="Ray started"):  # a bug of slotfill's would pass as itself
        run(resume=False)  # the manifest is written before Ray starts
    (out / "part-00000-0000000001.jsonl").write_text("{}\n{}\n")
    ray_record.record(out, "part-00000-0000000001.jsonl", [[0, 1]], 2)
    with pytest.raises(ConfigError, match="not empty.*ray.resume=true"):
        run(resume=False)
    assert not ray_record.is_finished(out)
    assert run(resume=True) == 2
    assert said[-1] == f"ray: nothing left to tag; 2 sentences in {out}"
    assert ray_record.is_finished(out)


def test_a_cluster_that_cannot_be_joined_is_one_line_naming_ray_address():
    from slotfill.integrations.ray_engine import start_ray

    class Unreachable:
        stopped = 0

        def shutdown(self) -> None:
            Unreachable.stopped += 1

        def init(self, **_) -> None:
            import warnings

            warnings.warn("Ray's client talks first", stacklevel=1)  # kept off stderr
            raise ConnectionError("Could not find any running Ray instance.\nPlease specify...")

    cannot = r"^ray.address=auto: cannot join that Ray cluster \(Could not find any running Ray instance.\)$"
    with pytest.raises(ConfigError, match=cannot):
        start_ray(Unreachable(), "auto")
    with pytest.raises(SlotfillError, match=r"^a local Ray did not start \(Could not find .*\): join a cluster"):
        start_ray(Unreachable(), None)
    assert Unreachable.stopped == 2  # what half started is stopped


def test_rays_log_level_line_is_kept_off_stderr_and_the_rest_passed_on(capfd):
    from slotfill.core import native_stderr
    from slotfill.integrations.ray_engine import _LOG_LEVEL_LINE

    with native_stderr.filtered(_LOG_LEVEL_LINE, quiet_on_error=True):  # as start_ray holds Ray's start
        os.write(2, b"[2026-12-07 09:04:26,148 I 9036 9036] logging.cc:303: Set ray log level from environment ")
        os.write(2, b"variable RAY_BACKEND_LOG_LEVEL to 3\nsomething else Ray said\n")
    assert capfd.readouterr().err == "something else Ray said\n"


@pytest.mark.slow
def test_cli_errors_come_before_ray_starts(tiny_model_file, tmp_path, capsys):
    """The settings' errors in this process (``slotfill predict``'s entry), the model's in a real one."""
    from slotfill.cli.main import main

    def predict(*args: str) -> subprocess.CompletedProcess:
        try:
            code = main(["predict", f"ckpt={tiny_model_file}", "engine=ray", *args])
        except SystemExit as e:  # an error: one line, then exit, as in the process
            code = e.code
        ray = sys.modules.get("ray")
        assert ray is None or not ray.is_initialized()  # refused before Ray started
        return subprocess.CompletedProcess(args, code, *capsys.readouterr())

    one_line_error(predict("hello"), "engine=ray tags files: add input=")
    one_line_error(predict(f"input={tmp_path}/nothing*.txt", f"output={tmp_path}/o"), "no files there to tag")
    (tmp_path / "empty.txt").write_text("")
    one_line_error(predict(f"input={tmp_path}/empty.txt", f"output={tmp_path}/o"), "no lines to tag")
    assert not (tmp_path / "o").exists()
    (tmp_path / "in.txt").write_text("hello\n")
    one_line_error(predict(f"input={tmp_path}/in.txt"), "add output=FOLDER")
    one_line_error(predict(f"input={tmp_path}/in.txt", "ray.actors=2"), "unknown setting ray.actors")
    bad_model = tmp_path / "model.pt"
    bad_model.write_bytes(b"not a model")
    proc = run_script(
        "predict.py", [f"ckpt={bad_model}", "engine=ray", f"input={tmp_path}/in.txt", f"output={tmp_path}/o"]
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "model.pt" in proc.stderr
    assert not (tmp_path / "o").exists()  # nothing written for a model that does not load


@pytest.mark.slow
def test_two_actors_give_the_records_of_plain_predict(trained_sample, tmp_path):
    """A few thousand lines in four files (text, jsonl, parquet, a folder) through 2 local actors, each
    file read by the actors in the byte ranges (parquet: row ranges) the driver found. A bad line in a
    fifth file stops the first run in one line; fixed, the run is resumed (two Ray starts in all)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sentences = (SAMPLE / "train" / "seq.in").read_text().splitlines()
    lines = [
        f"{s} {w}".strip() for w in ("", "please", "tomorrow", "on monday") for s in sentences
    ] * 24  # two chunks a file
    inputs = tmp_path / "in"
    (inputs / "more").mkdir(parents=True)
    half = len(lines) // 2
    (inputs / "a.txt").write_text("\n".join(lines[:half]) + "\n\n")  # an empty line is tagged too
    (inputs / "more" / "b.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in lines[half:]))
    few = lines[: PREDICT_CHUNK + 300]  # two chunks, over row groups of 700 rows
    pq.write_table(pa.table({"text": few}), inputs / "c.parquet", row_group_size=700)
    bad = inputs / "d.txt"
    bad.write_bytes(b"flights to boston\nfrom \xff denver\n")
    ckpt = trained_sample["model_file"]

    on_ray = [
        f"ckpt={ckpt}",
        "engine=ray",
        f"input={inputs}",
        f"output={tmp_path}/out",
        "ray.concurrency=2",
        "batch_size=128",
        "ray.shard_rows=1000",
    ]
    # a bad line is found by the actor that reads it: one line naming its file and line, as plain predict says it
    proc = run_script("predict.py", on_ray, timeout=600)
    counts = (half + 1, len(few), 2, len(lines) - half)  # a.txt, c.parquet, d.txt, more/b.jsonl: the files' order
    chunks = sum(-(-n // PREDICT_CHUNK) for n in counts)
    planned = f"ray: {sum(counts):,} lines in 4 files, {chunks} chunks to tag"
    assert planned in proc.stderr and "read by Ray tasks" not in proc.stderr
    said = [line for line in proc.stderr.splitlines() if not line.startswith("ray: ")]  # the progress lines
    expected = f"error: {bad}:2: not valid UTF-8 (byte 0xff at column 6): save the file as UTF-8"
    assert proc.returncode == 2 and said == [expected], proc.stderr
    assert not ray_record.is_finished(tmp_path / "out")

    # the file fixed, the run is finished: the fixed file (none of its chunks done) is tagged in full; a shard
    # written but never recorded (the driver stopped first) is tagged again, once; a stray one does not survive
    bad.write_text("flights to boston\nfrom denver\n")
    done = tmp_path / "out" / "_done.jsonl"
    recorded = done.read_text().splitlines()
    done.write_text("".join(line + "\n" for line in recorded[:-1]))
    stray = tmp_path / "out" / "part-00099-0000000001.jsonl"
    stray.write_text(json.dumps({"source": "elsewhere", "line": 1}) + "\n")
    proc = run_script("predict.py", [*on_ray, "ray.resume=true"], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = read_back(tmp_path / "out")
    shards = sorted(p.name for p in (tmp_path / "out").glob("part-*.jsonl"))
    assert shards == [
        f"part-{f:05d}-{first:010d}.jsonl" for f, n in enumerate(counts) for first in range(1, n + 1, PREDICT_CHUNK)
    ]
    assert not list((tmp_path / "out").glob("*.partial")) and not stray.exists()

    from slotfill.cli.jobs import predict  # plain predict, in this process

    plain = []
    for source in (inputs / "a.txt", inputs / "more" / "b.jsonl", inputs / "c.parquet", bad):  # read alike
        out = tmp_path / f"plain-{source.name}"
        args = [f"ckpt={ckpt}", f"input={source}", "format=jsonl", "batch_size=128", f"output={out}"]
        predict(compose_config(args, tmp_path, config_name="predict"))
        lines_out = out.read_text().splitlines()
        plain += [{"source": str(source.resolve()), "line": n, **json.loads(r)} for n, r in enumerate(lines_out, 1)]
    assert len(records) == sum(counts)
    assert records == sorted(plain, key=lambda r: (r["source"], r["line"]))
