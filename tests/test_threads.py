import logging

import pytest

from slotfill.core import threads
from slotfill.errors import ConfigError


@pytest.fixture(autouse=True)
def _nothing_said_yet(monkeypatch):
    monkeypatch.setattr(threads, "_said", set())  # each test starts as a fresh process would


def test_auto_is_one_thread_per_process(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 8)
    assert threads.resolve("auto") == 1
    assert threads.resolve("auto", processes=4) == 1


def test_a_number_is_used_as_given_and_oversubscription_is_said(monkeypatch, caplog):
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    with caplog.at_level(logging.WARNING):
        assert threads.resolve(2) == 2
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        assert threads.resolve("2", processes=2) == 2
    assert "threads=2 with 2 process(es) on 2 usable CPU(s)" in caplog.records[0].getMessage()


def test_a_number_checked_by_the_process_that_started_this_one_is_not_bounded_again(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 1)
    with pytest.raises(ConfigError, match=r"threads=65: at most 64 threads on 1 usable CPU"):
        threads.resolve(65)
    with threads.checked_elsewhere():  # a Ray actor, on a node of fewer CPUs than the driver's
        assert threads.resolve(65) == 65
        with pytest.raises(ConfigError, match="threads=0"):
            threads.resolve(0)  # still a count
    with pytest.raises(ConfigError, match=r"threads=65: at most 64"):
        threads.resolve(65)


@pytest.mark.parametrize("bad", [0, -1, "many", 1.5, True, None])
def test_bad_settings_are_one_line(bad):
    with pytest.raises(ConfigError, match="threads="):
        threads.resolve(bad)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs' worth: two threads may run
        ({"cpu.max": "50000 100000\n"}, 1),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),
        ({}, None),
    ],
)
def test_cgroup_quotas_v1_and_v2(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert threads._cgroup_quota(tmp_path) == expected


def test_usable_cpus_never_exceed_the_affinity(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0})
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: 4)
    assert threads.available_cpus() == 1


def test_auto_workers_fill_the_usable_cpus_up_to_two(monkeypatch):
    for cpus, intra, expected in [(8, 1, 2), (2, 1, 2), (1, 1, 1), (2, 2, 1), (3, 2, 1)]:
        monkeypatch.setattr(threads, "available_cpus", lambda cpus=cpus: cpus)
        assert threads.resolve_workers("auto", intra) == expected, (cpus, intra)


def test_worker_numbers_are_used_as_given_and_oversubscription_is_said(monkeypatch, caplog):
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    with caplog.at_level(logging.WARNING):
        assert threads.resolve_workers("2") == 2
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        assert threads.resolve_workers(3, threads=1) == 3
    assert "workers=3 × threads=1 on 2 usable CPU(s)" in caplog.records[0].getMessage()


@pytest.mark.parametrize("bad", [0, -1, "many", 1.5, True, None])
def test_bad_worker_settings_are_one_line(bad):
    with pytest.raises(ConfigError, match="workers="):
        threads.resolve_workers(bad)


def test_a_setting_resolved_again_in_one_process_is_said_once(monkeypatch, caplog):
    """A command's checks and its work both resolve ``threads`` (predict: four times): one warning."""
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            assert threads.resolve(4) == 4 and threads.resolve_workers(3, threads=4) == 3
    assert [r.getMessage().split(" ")[0] for r in caplog.records] == ["threads=4", "workers=3"]


def test_a_thread_count_past_the_bound_is_refused_in_one_line_not_a_crash(monkeypatch, caplog):
    """threads=100000 segfaulted PyTorch and threads=4096 hung ONNX Runtime's session."""
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    for bad in (65, "100000", 4096):
        with pytest.raises(ConfigError, match=rf"^threads={int(bad)}: at most 64 threads on 2 usable CPU\(s\)"):
            threads.resolve(bad)
    with caplog.at_level(logging.WARNING):
        assert threads.resolve(64) == 64  # over-subscribed but allowed: said, not refused
    assert "threads=64 with 1 process(es)" in caplog.records[0].getMessage()
    monkeypatch.setattr(threads, "available_cpus", lambda: 32)
    assert threads.resolve(128) == 128 and threads.max_threads(32) == 128
    with pytest.raises(ConfigError, match="threads=129: at most 128"):
        threads.resolve(129)


def test_workers_past_the_bound_are_refused_as_threads_are(monkeypatch):
    """Each worker is a thread of its own with a chunk in memory: workers=100000 is a typo, not a setting."""
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    with pytest.raises(ConfigError, match=r"^workers=100000 × threads=1: at most 64 threads"):
        threads.resolve_workers(100000)
    with pytest.raises(ConfigError, match=r"^workers=20 × threads=4: at most 64"):
        threads.resolve_workers(20, threads=4)
    assert threads.resolve_workers(16, threads=4) == 16  # 64: over-subscribed, said, allowed
