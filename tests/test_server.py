"""serving/server.py: the address is checked, then the model loaded, before uvicorn listens."""

import re
import socket
import subprocess
import sys
import time

import pytest
from omegaconf import OmegaConf

from slotfill.errors import ConfigError
from slotfill.serving.server import check_address, serve
from tests.helpers import ROOT, free_port


@pytest.fixture
def taken_port():
    """A port some other program is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_a_port_in_use_is_a_one_line_error(taken_port):
    with pytest.raises(ConfigError, match=rf"port={taken_port}: already in use on 127.0.0.1.*give port="):
        check_address("127.0.0.1", taken_port)
    check_address("127.0.0.1", free_port())  # a free one passes


def test_an_address_not_of_this_machine_is_a_one_line_error():
    with pytest.raises(ConfigError, match=r"host=no-such-host\.invalid: not an address of this machine"):
        check_address("no-such-host.invalid", free_port())
    with pytest.raises(ConfigError, match=r"host=192\.0\.2\.1 port=\d+: cannot listen there"):
        check_address("192.0.2.1", free_port())  # TEST-NET-1: never this machine's


def test_the_port_is_checked_before_the_model_is_loaded(taken_port, tmp_path):
    cfg = OmegaConf.create({"ckpt": str(tmp_path / "missing.pt"), "host": "127.0.0.1", "port": taken_port})
    with pytest.raises(ConfigError, match="already in use"):  # not the missing model: that would take seconds
        serve(cfg)


@pytest.mark.parametrize(
    "settings, problem",
    [
        ({"connections": {"max_open": -1}}, "connections.max_open=-1"),
        ({"connections": {"timeout": 5}}, r"unknown setting connections.timeout \(known: http, keep_alive_s, loop"),
        ({"limits": {"max_chars": 5}}, r"unknown setting limits.max_chars"),
        ({"port": 70000}, "port=70000: must be a whole number from 0 to 65535"),
        ({"workers": "abc"}, "workers='abc': must be a whole number"),
        ({"host": " "}, "host=: empty: give host=127.0.0.1"),  # the socket layer would listen everywhere
    ],
)
def test_bad_settings_stop_serve_before_anything_listens(settings, problem, tmp_path):
    cfg = OmegaConf.create({"ckpt": str(tmp_path / "missing.pt"), "host": "127.0.0.1", "port": 8000, **settings})
    with pytest.raises(ConfigError, match=problem):
        serve(cfg)


@pytest.mark.slow
def test_slotfill_serve_on_a_taken_port_exits_2_in_one_line_before_loading(taken_port, tiny_model_file):
    started = time.monotonic()
    cmd = [sys.executable, "-m", "slotfill", "serve", f"ckpt={tiny_model_file}", f"port={taken_port}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"error: port={taken_port}: already in use on 127.0.0.1 (another server?): stop it or give port="
    )
    assert "serving" not in proc.stdout  # the model was never loaded
    assert time.monotonic() - started < 30


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_a_settled_app_leaves_everything_loaded_before_out_of_the_collectors_walk():
    """A full collection walks every tracked object; with the model loaded that is ~170,000 (PyTorch)."""
    import gc

    from slotfill.serving.server import settled

    loaded = [[i] for i in range(50_000)]  # stands for the libraries and the model
    app = object()
    try:
        assert settled(app) is app
        assert gc.get_freeze_count() >= len(loaded) and len(gc.get_objects()) < 1_000
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("port", [0, "free"])
def test_the_port_stays_held_while_the_model_loads(port, monkeypatch, tmp_path):
    """No other program can take the port between the check and uvicorn's listening (port=0 included)."""
    from slotfill.serving import server

    checked = []

    def check(host, port, hold=False, reuse_port=None):
        sock = check_address(host, port, hold, reuse_port)
        checked.append(sock.getsockname()[1] if sock else port)
        return sock

    def load_backend(*args):
        with socket.socket() as other, pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", checked[-1]))
        raise ConfigError("stopped here")

    monkeypatch.setattr(server, "check_address", check)
    monkeypatch.setattr(server, "load_backend", load_backend)
    cfg = {"ckpt": str(tmp_path / "model.pt"), "host": "127.0.0.1", "port": free_port() if port == "free" else 0}
    with pytest.raises(ConfigError, match="stopped here"):
        serve(OmegaConf.create(cfg))


@pytest.mark.slow
def test_a_host_name_is_served_on_its_addresses(tiny_model_file):
    from tests.helpers import wait_until_serving

    port = free_port()
    cmd = [sys.executable, "-m", "slotfill", "serve", f"ckpt={tiny_model_file}", "host=localhost", f"port={port}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until_serving(proc, f"http://localhost:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_a_worker_that_cannot_load_the_parents_model_stops_the_server_in_one_line(tiny_model_file, monkeypatch, capsys):
    """Restarted for ever with a traceback each time before, or serving another model beside the others."""
    import json

    from slotfill.serving import listeners, server
    from slotfill.serving.app import settings
    from slotfill.serving.backend import load_backend

    s = settings(OmegaConf.create({"ckpt": str(tiny_model_file), "workers": 2}))
    fingerprint = load_backend(tiny_model_file).card["fingerprint"]
    followed = []
    monkeypatch.setattr(listeners, "exit_with_parent", followed.append)
    monkeypatch.setenv(server.CONFIG_ENV, json.dumps({**s, "fingerprint": fingerprint, "parent": 4321}))
    assert server.app_from_env() is not None  # the same model: the worker serves
    assert followed == [4321]  # it ends when its parent does (kill -9 left orphans serving the port)
    for config, problem in (
        ({**s, "fingerprint": "another"}, "another model than the one the server started with"),
        ({**s, "ckpt": str(tiny_model_file) + ".gone", "fingerprint": fingerprint}, "not found"),
    ):
        monkeypatch.setenv(server.CONFIG_ENV, json.dumps(config))
        capsys.readouterr()
        with pytest.raises(SystemExit) as stopped:
            server.app_from_env()
        assert stopped.value.code == listeners.STARTUP_FAILURE  # uvicorn's supervisor stops, never restarts it
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: worker ") and problem in err and "\n" not in err


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_workers_stopped_by_a_signal_end_as_one_worker_does(sig, tiny_model_file, monkeypatch):
    """Ctrl-C is KeyboardInterrupt (``interrupted``, 130) and SIGTERM is SIGTERM again: exit 0 before."""
    import signal

    from slotfill.serving import server

    raised = []
    monkeypatch.delenv(server.CONFIG_ENV, raising=False)  # serve sets it for its workers: gone after the test
    monkeypatch.setattr(server._Supervisor, "run", lambda self: getattr(self, f"handle_{sig[3:].lower()}")())
    monkeypatch.setattr(server.signal, "raise_signal", raised.append)
    before = signal.getsignal(signal.SIGHUP)
    serve(OmegaConf.create({"ckpt": str(tiny_model_file), "host": "127.0.0.1", "port": 0, "workers": 2}))
    assert raised == [getattr(signal, sig)] and signal.getsignal(signal.SIGHUP) == before  # its handlers undone


@pytest.mark.parametrize("supervisors", ["no SIGNALS (0.29)", "a target (0.30 to 0.50)"])
def test_a_uvicorn_older_than_the_code_needs_is_one_line_naming_both_versions(supervisors, monkeypatch):
    """0.29 said "needs uvicorn, which is not installed"; 0.30.6 failed with a TypeError at workers=2."""
    import types

    import uvicorn

    from slotfill.errors import SlotfillError
    from slotfill.serving import server

    old = types.ModuleType("uvicorn.supervisors.multiprocess")
    if supervisors.startswith("a target"):

        class Multiprocess:
            def __init__(self, config, target, sockets):
                pass

        old.SIGNALS, old.Multiprocess = {}, Multiprocess
    monkeypatch.setitem(sys.modules, "uvicorn.supervisors.multiprocess", old)
    monkeypatch.setattr(uvicorn, "__version__", "0.30.6")
    with pytest.raises(SlotfillError, match=r"^uvicorn 0\.30\.6 found; slotfill serve needs uvicorn >= 0\.51: pip"):
        server.supervisor_api()
    monkeypatch.undo()
    assert server.supervisor_api()[1].__name__ == "Multiprocess"  # the installed one passes


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT here: nothing to share")
def test_a_port_another_servers_workers_listen_on_is_refused():
    """Their sockets take SO_REUSEPORT, as ours do: a second workers=N server shared the port silently."""
    with socket.socket() as worker:
        worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        worker.bind(("127.0.0.1", 0))
        worker.listen()
        port = worker.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"port={port}: already in use on 127\.0\.0\.1"):
            check_address("127.0.0.1", port, hold=True, reuse_port=True)


def test_a_port_another_server_holds_while_its_model_loads_is_refused():
    """Held, not yet listening: Linux let a second SO_REUSEADDR socket bind beside it, so two servers'
    workers came to share the port."""
    held = check_address("127.0.0.1", 0, hold=True, reuse_port=True)
    try:
        port = held.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"port={port}: already in use on 127\.0\.0\.1"):
            check_address("127.0.0.1", port, hold=True, reuse_port=True)
        from slotfill.serving import listeners

        listeners.bind("127.0.0.1", port, reuse_port=True).close()  # its own workers still bind beside it
    finally:
        held.close()


class _Worker:
    """A worker process as uvicorn's supervisor sees it."""

    started: list = []

    def __init__(self, config=None, sockets=None, pid=0, exitcode=None) -> None:
        self.pid, self.exitcode = pid, exitcode

    def is_alive(self, timeout: float = 5) -> bool:
        return self.exitcode is None

    def kill(self) -> None:
        pass

    def join(self) -> None:
        pass

    def start(self) -> None:
        _Worker.started.append(self)


@pytest.mark.parametrize(
    "exitcode, said",
    [
        (-9, "slotfill: worker 11 died (signal 9); starting another"),
        (1, "slotfill: worker 11 died (exit 1); starting another"),
        (3, ""),  # a worker that could not start: its own line says why, and the server stops
    ],
)
def test_a_worker_that_dies_is_named_whatever_the_log_level(exitcode, said, monkeypatch, capsys):
    """uvicorn says "Child process died" at log_level=info only: the default (warning) said nothing."""
    import threading
    import types

    from uvicorn.supervisors import multiprocess

    from slotfill.serving import server

    monkeypatch.setattr(multiprocess, "Process", _Worker)
    monkeypatch.setattr(_Worker, "started", [])
    supervisor = server._Supervisor.__new__(server._Supervisor)
    supervisor.config = types.SimpleNamespace(timeout_worker_healthcheck=5)
    supervisor.sockets, supervisor.should_exit = [], threading.Event()
    supervisor.processes = [_Worker(pid=10), _Worker(pid=11, exitcode=exitcode)]
    supervisor.keep_subprocess_alive()
    assert capsys.readouterr().err.strip() == said
    assert len(_Worker.started) == (1 if said else 0)


def _serve_with(monkeypatch, run, **cfg) -> None:
    """``serve`` with workers=2, its supervisor's ``run`` replaced: nothing is started."""
    from slotfill.serving import server

    monkeypatch.delenv(server.CONFIG_ENV, raising=False)  # serve sets it for its workers: gone after the test
    monkeypatch.setattr(server._Supervisor, "run", run)
    serve(OmegaConf.create({"host": "127.0.0.1", "port": 0, "workers": 2, **cfg}))


def test_uvicorns_own_line_on_a_worker_that_failed_is_left_out(tiny_model_file, monkeypatch, capsys):
    """The worker's line and slotfill's say it: uvicorn's ERROR line between them was a third."""
    import logging

    def run(self) -> None:
        log = logging.getLogger("uvicorn.error")  # its handler, on stderr, is set when serve builds the config
        log.error("Child process [5] failed to start, stopping the parent process.")
        log.error("Child process [6] died")
        log.error("something else")

    _serve_with(monkeypatch, run, ckpt=str(tiny_model_file))
    logging.getLogger("uvicorn.error").error("Child process [7] died")  # the filter is gone after the run
    err = capsys.readouterr().err
    assert "[5]" not in err and "[6]" not in err and "something else" in err and "[7]" in err


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 here")
def test_an_ipv6_address_is_bracketed_in_the_url(tiny_model_file, monkeypatch, capsys):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("::1 cannot be bound here")
    _serve_with(monkeypatch, lambda self: None, ckpt=str(tiny_model_file), host="::1")
    assert re.search(r"on http://\[::1\]:\d+, 2 workers", capsys.readouterr().out)


@pytest.mark.parametrize(
    "addresses, problem",
    [
        (["127.0.0.1", "::1"], r"host=name\.test: stands for 2 addresses \(127\.0\.0\.1, ::1\): with workers > 1"),
        (["127.0.0.1"], "stopped here"),  # one address: served (on that address), as an address is
    ],
)
def test_a_host_name_for_several_addresses_is_refused_with_workers(addresses, problem, monkeypatch, tmp_path):
    """Each worker listens on one socket: a name bound on its IPv4 address alone, its others left out."""
    from slotfill.serving import server

    def getaddrinfo(host, port, *args, **kwargs):
        assert host == "name.test"
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    checked = []

    def load_backend(*args):
        raise ConfigError("stopped here")

    def check(host, port, hold=False, reuse_port=None):
        checked.append(host)
        return check_address(host, port, hold, reuse_port)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(server, "load_backend", load_backend)
    monkeypatch.setattr(server, "check_address", check)
    cfg = {"ckpt": str(tmp_path / "model.pt"), "host": "name.test", "port": 0, "workers": 2}
    with pytest.raises(ConfigError, match=problem):
        serve(OmegaConf.create(cfg))
    assert checked == ([] if len(addresses) > 1 else ["127.0.0.1"])  # refused before anything listens
