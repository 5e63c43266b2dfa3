"""How many intra-op threads a slotfill process runs (``threads=auto`` or a number), and how many
chunks ``predict`` tags at once (``workers=``, :func:`resolve_workers`).

``auto`` is one thread per process, within the CPUs this process may use (its affinity and its
cgroup's CPU quota). One, because at this model's size a second thread bought about 10% on a
quiet 2-core machine and cost 2–20× as soon as anything else ran: OpenMP workers wait at every
operator for a sibling the scheduler has put aside (``bench/threads.py`` measures it). A number
is used as given up to :func:`max_threads`, and a setting that asks for more threads than the
process may use is said once.
"""

from __future__ import annotations

import contextvars
import logging
import numbers
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from slotfill.errors import ConfigError

AUTO = "auto"
log = logging.getLogger(__name__)


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity, bounded by a cgroup CPU quota (v2 or v1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cpus, quota) if quota else cpus)


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """CPUs' worth of a cgroup quota (rounded up), or None when there is none."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]  # v2: "max 100000" or "200000 100000"
        if quota != "max":
            return max(1, -(-int(quota) // int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())  # v1: -1 means none
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return max(1, -(-quota // period)) if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def _count(setting: object, name: str, unit: str) -> int | None:
    """``setting`` as a whole number of at least 1, or None for ``auto``; anything else is a one-line error."""
    if str(setting).strip().lower() == AUTO:
        return None
    if isinstance(setting, bool) or not isinstance(setting, (numbers.Integral, str)):  # numpy's integers too
        raise ConfigError(f"{name}={setting!r}: a whole number of {unit}, or auto")
    try:
        n = int(setting)
    except ValueError:
        raise ConfigError(f"{name}={setting!r}: a whole number of {unit}, or auto") from None
    if n < 1:
        raise ConfigError(f"{name}={setting}: at least 1 (or auto)")
    return n


_said: set[str] = set()


def _warn_once(message: str) -> None:
    """Log ``message`` once per process: a command's checks and its work resolve the same setting."""
    if message not in _said:
        _said.add(message)
        log.warning(message)


def max_threads(cpus: int) -> int:
    """The most intra-op threads a process may ask for on ``cpus`` usable CPUs."""
    # past a few threads per CPU they only wait for each other (bench/threads.py), and a typo is
    # no setting: threads=100000 crashed PyTorch (segfault) and hung ONNX Runtime's session; 64 at
    # least, so that a deliberate over-subscription can still be measured on a small machine
    return max(64, 4 * cpus)


_checked_elsewhere = contextvars.ContextVar("slotfill_threads_checked_elsewhere", default=False)


@contextmanager
def checked_elsewhere() -> Iterator[None]:
    """Within it, :func:`resolve` takes a number without bounding it by this machine's CPUs: one the
    process that started this one checked on its own (Ray's driver, for actors on nodes of other sizes)."""
    token = _checked_elsewhere.set(True)
    try:
        yield
    finally:
        _checked_elsewhere.reset(token)


def resolve(setting: object, processes: int = 1, name: str = "threads") -> int:
    """The intra-op threads of each of ``processes`` processes (DDP ranks, server workers, actors)."""
    n = _count(setting, name, "threads")
    if n is None:
        return 1
    cpus = available_cpus()
    if n > (most := max_threads(cpus)) and not _checked_elsewhere.get():
        raise ConfigError(f"{name}={n}: at most {most} threads on {cpus} usable CPU(s) (or auto)")
    if n > max(1, cpus // max(1, processes)):
        _warn_once(
            f"{name}={n} with {processes} process(es) on {cpus} usable CPU(s): threads will wait for each other; "
            f"{name}=auto runs one each"
        )
    return n


# the network runs outside Python's lock, the rest of a chunk's work inside it: two overlap the
# one with the other; more were never measured (this project's machine has two CPUs)
MAX_AUTO_WORKERS = 2


def resolve_workers(setting: object, threads: int = 1, name: str = "workers") -> int:
    """How many chunks ``predict`` tags at once, each in its own thread of ``threads`` intra-op threads.

    ``auto``: as many as the usable CPUs hold, at most :data:`MAX_AUTO_WORKERS` (one where only one
    CPU is usable). Unlike intra-op threads, workers share no barrier: none waits at every operator
    for a sibling the scheduler has put aside (``bench/stream.py --workers 1 auto`` compares them).
    """
    n = _count(setting, name, "chunks tagged at once")
    cpus = available_cpus()
    if n is None:
        return max(1, min(MAX_AUTO_WORKERS, cpus // max(1, threads)))
    if n * threads > (most := max_threads(cpus)):  # each a thread of its own, and a chunk in memory
        raise ConfigError(f"{name}={n} × threads={threads}: at most {most} threads on {cpus} usable CPU(s) (or auto)")
    if n * threads > cpus:
        _warn_once(f"{name}={n} × threads={threads} on {cpus} usable CPU(s): they will take turns")
    return n


def describe(setting: object, threads: int, processes: int = 1) -> str:
    """The log line that says what the setting gave."""
    many = f", {processes} processes" if processes > 1 else ""
    return f"threads={setting}: {threads} intra-op thread(s) per process ({available_cpus()} usable CPUs{many})"
