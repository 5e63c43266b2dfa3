"""Files by path or URL: pyarrow's file systems, the URLs of listed files, a file's stamp and bytes."""

from __future__ import annotations

import urllib.parse

import pytest

from slotfill.core import file_systems
from slotfill.core.file_systems import filesystem, in_folder, open_binary, stamp, url_files
from slotfill.core.sentence_files import ParquetRows, row_ranges
from slotfill.errors import DataError


def test_a_url_pyarrow_reads_is_opened_stamped_and_read_as_the_local_file(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["one", "two", "three"]}), path, row_group_size=2)
    url = f"file://{path}"
    assert stamp(url) == stamp(path)
    with open_binary(url) as f:
        assert f.read() == path.read_bytes()
    ranges, count, found = row_ranges(url, 2)
    assert count == 3 and found == stamp(path)
    assert [ParquetRows(url, found).read(start, end) for _, start, end in ranges] == [["one", "two"], ["three"]]
    assert filesystem("http://example.com/a.txt") is None
    with pytest.raises(DataError, match="http://example.com/a.txt: not a URL pyarrow reads"):
        open_binary("http://example.com/a.txt")
    with pytest.raises(FileNotFoundError):
        stamp(f"file://{tmp_path}/gone.txt")


def test_a_folder_leaves_out_hidden_and_underscore_names_at_any_depth_and_earlier_runs_output():
    base = "bucket/logs"
    paths = [
        f"{base}/a.txt",
        f"{base}/sub/b.jsonl",
        f"{base}/.git/index",  # a hidden folder: its files too, not only hidden names
        f"{base}/.ipynb_checkpoints/q-checkpoint.txt",
        f"{base}/_tmp/c.txt",
        f"{base}/_SUCCESS",
        f"{base}/tagged/_slotfill_run.json",  # an earlier engine=ray run's output folder
        f"{base}/tagged/part-00000-0000000001.jsonl",
        f"{base}/tagged/more/part-00001-0000000001.jsonl",
        f"{base}/tagged_not/d.txt",  # a folder whose name starts like a run's
    ]
    assert in_folder(paths, base) == [f"{base}/a.txt", f"{base}/sub/b.jsonl", f"{base}/tagged_not/d.txt"]
    assert in_folder(paths, base + "/") == in_folder(paths, base)
    assert in_folder(["/.x/a.txt", "/a.txt", "/b_c.txt"], "/") == ["/a.txt", "/b_c.txt"]
    with pytest.raises(ValueError, match="not under"):
        in_folder(["a.txt"], ".")  # paths must carry their folder


def test_listed_files_get_urls_that_resolve_back_to_them_in_a_fresh_process(tmp_path):
    """Spaces, ``%``, ``#`` and ``?`` in names are encoded, the source's query kept; a process that
    never listed the folder (an actor) resolves each URL to the same file."""
    names = ["a b.txt", "q?1#2%41.txt", "sub/c.txt"]
    for name in names:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "index").write_text("x")
    source = f"file://{urllib.parse.quote(str(tmp_path))}?unused=1"
    fs, inside = filesystem(source)
    assert inside == str(tmp_path)
    urls = url_files(source)
    assert urls == [f"file://{urllib.parse.quote(str(tmp_path / n))}?unused=1" for n in names]  # not the hidden one
    hidden = f"file://{urllib.parse.quote(str(tmp_path / '.hidden.txt'))}"
    assert url_files(hidden) == [hidden]  # named, as a local path is
    file_systems._ROOTS.clear()
    for url, name in zip(urls, names, strict=True):
        with open_binary(url) as f:
            assert f.read().decode() == name
    assert filesystem("ftp://example.com/a.txt") is None
    with pytest.raises(DataError, match=r"s3://bucket/x\?bogus=1: cannot read: Unexpected query parameter"):
        filesystem("s3://bucket/x?bogus=1")  # one line, before any network call; never a silent Ray task


def test_a_password_in_a_url_is_refused_a_user_name_is_not():
    from slotfill.errors import ConfigError

    with pytest.raises(ConfigError, match="a password in the URL would be written into every record"):
        url_files("s3://KEY:SECRET@bucket/logs/")
    assert url_files("http://user@example.com/logs.txt") == ["http://user@example.com/logs.txt"]  # Ray Data's


def test_a_listed_path_outside_the_urls_file_system_root_is_an_error_not_a_wrong_url():
    """A bucket's listing names paths under the bucket; one that is not cannot be given a URL."""
    file_systems._ROOTS["s3://bucket?"] = (None, "bucket")  # as filesystem() keeps a bucket's prefix
    assert file_systems._urls("s3://bucket/logs", ["bucket/logs/a b.txt"]) == ["s3://bucket/logs/a%20b.txt"]
    with pytest.raises(DataError, match="s3://bucket/logs: cannot name other/x.txt as a URL under it"):
        file_systems._urls("s3://bucket/logs", ["other/x.txt"])
