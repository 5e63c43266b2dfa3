"""serving/server.py: the address is checked, then the model loaded, before uvicorn listens."""

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
    monkeypatch.setenv(server.CONFIG_ENV, json.dumps({**s, "fingerprint": fingerprint}))
    assert server.app_from_env() is not None  # the same model: the worker serves
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
