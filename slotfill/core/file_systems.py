"""Files by path or URL: pyarrow's file systems for ``s3://``, ``gs://``, ``hdfs://`` and ``file://``
URLs (made once per bucket or host in a process), the URLs of the files listed under one, and a
file's size and time and its bytes, the same calls for a local path (torch-free; pyarrow is
imported only for a URL).
"""

from __future__ import annotations

import errno
import os
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from slotfill.errors import ConfigError, DataError, first_line

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem

# the schemes pyarrow's file systems read (any other URL is Ray Data's to read, whole, in a task)
PYARROW_SCHEMES = frozenset({"s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss", "file"})
# "scheme://host?query" -> (pyarrow's file system, what its paths start with before the URL's path)
_ROOTS: dict[str, tuple] = {}


def filesystem(url: str) -> tuple[FileSystem, str] | None:
    """pyarrow's file system for a URL of one of :data:`PYARROW_SCHEMES` and the path in it (the URL's
    path decoded, as pyarrow decodes it); None for any other scheme (``http://``). Made once per
    bucket or host and query in a process: making one can cost a network call (an S3 bucket's region)."""
    import pyarrow.fs

    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in PYARROW_SCHEMES:
        return None
    root = f"{parts.scheme}://{parts.netloc}?{parts.query}"
    path = urllib.parse.unquote(parts.path)
    path = path.rstrip("/") or path
    if root in _ROOTS:
        fs, prefix = _ROOTS[root]
        return fs, prefix + path
    try:
        fs, inside = pyarrow.fs.FileSystem.from_uri(url)
    except Exception as e:  # a bad URL, or a cloud file system that cannot be reached or set up
        raise DataError(url, None, f"cannot read: {first_line(e)}") from None
    inside = inside.rstrip("/") or inside
    if inside.endswith(path):
        _ROOTS[root] = (fs, inside[: len(inside) - len(path)])  # s3, gs: the bucket; file, hdfs: nothing
    return fs, inside


LEFT_OUT = (".", "_")  # what Arrow's and Spark's dataset readers leave out of a folder: hidden and _ names
RUN_MARK = "_slotfill_run.json"  # in the output folder of a predict engine=ray run (its manifest)


def in_folder(paths: list[str], folder: str) -> list[str]:
    """The ``paths`` listed under ``folder`` that a folder input holds: none under a hidden or ``_`` name
    (the file's or any folder's below ``folder``: ``.git/``, ``_SUCCESS``), and none in the output folder
    of an earlier run (its shards are results, not sentences)."""
    base = folder.rstrip("/") + "/"
    below = {}
    for path in paths:
        if not path.startswith(base):
            raise ValueError(f"{path} is not under {folder}")  # a caller's mistake, not the user's
        below[path] = path[len(base) :].split("/")
    runs = {"/".join(parts[:-1]) for parts in below.values() if parts[-1] == RUN_MARK}
    kept = []
    for path, parts in below.items():
        if any(part.startswith(LEFT_OUT) for part in parts):
            continue
        if any("/".join(parts[:n]) in runs for n in range(len(parts))):
            continue
        kept.append(path)
    return kept


def url_files(source: str) -> list[str]:
    """The files a URL names, as URLs with its host and query, each resolving back to its file: the
    file itself, or the files under a folder (:func:`in_folder`); a URL of another scheme
    (``http://``) as it is, Ray Data's to read."""
    import pyarrow.fs

    if urllib.parse.urlsplit(source).password is not None:
        raise ConfigError(
            f"input={source.split('://')[0]}://...: a password in the URL would be written into every record: "
            "give credentials the file system's usual way (environment, config file)"
        )
    found = filesystem(source)
    if found is None:
        return [source]
    fs, inside = found
    try:
        info = fs.get_file_info(inside)
        if info.type == pyarrow.fs.FileType.NotFound:
            raise ConfigError(f"input={source}: no such file or folder")
        if info.type == pyarrow.fs.FileType.Directory:
            listed = fs.get_file_info(pyarrow.fs.FileSelector(inside, recursive=True))
            files = sorted(in_folder([i.path for i in listed if i.type == pyarrow.fs.FileType.File], inside))
        else:
            files = [info.path]
    except OSError as e:
        raise DataError(source, None, f"cannot read: {first_line(e)}") from None
    if not files:
        raise ConfigError(f"input={source}: no files there to tag")
    return _urls(source, files)


def _urls(url: str, paths: list[str]) -> list[str]:
    """URLs of ``paths`` of the file system :func:`filesystem` made for ``url``, with its host and query."""
    parts = urllib.parse.urlsplit(url)
    root = f"{parts.scheme}://{parts.netloc}?{parts.query}"
    prefix = _ROOTS[root][1] if root in _ROOTS else parts.netloc  # a bucket's root URL: its paths start with it
    urls = []
    for path in paths:
        if not path.startswith(prefix):
            raise DataError(url, None, f"cannot name {path} as a URL under it")
        quoted = urllib.parse.quote(path[len(prefix) :] or "/")
        urls.append(urllib.parse.urlunsplit((parts.scheme, parts.netloc, quoted, parts.query, "")))
    return urls


def is_url(path: str | Path) -> bool:
    return "://" in str(path)


def stamp(path: str | Path) -> tuple[int, int]:
    """A file's size and modification time (a URL's as its file system gives them, 0 when it has
    none): whether it is still the file a run read."""
    if not is_url(path):
        info = os.stat(path)
        return info.st_size, info.st_mtime_ns
    import pyarrow.fs

    fs, inside = _resolved(str(path))
    info = fs.get_file_info(inside)
    if info.type == pyarrow.fs.FileType.NotFound:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    return info.size or 0, info.mtime_ns or 0


def open_binary(path: str | Path) -> BinaryIO:
    """A local file or a URL pyarrow reads, opened for reading bytes (``read``, ``seek``)."""
    if not is_url(path):
        return open(path, "rb")  # the caller closes it
    fs, inside = _resolved(str(path))
    return fs.open_input_file(inside)


def _resolved(url: str) -> tuple:
    found = filesystem(url)
    if found is None:
        raise DataError(url, None, f"not a URL pyarrow reads ({', '.join(sorted(PYARROW_SCHEMES))})")
    return found
