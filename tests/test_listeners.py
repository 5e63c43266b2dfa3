"""serving/listeners.py: each worker listens on a socket of its own, and new connections reach every worker."""

import os
import pickle
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from slotfill.errors import ConfigError
from slotfill.serving import listeners
from slotfill.serving.server import check_address

pytestmark = pytest.mark.skipif(not listeners.SPREAD, reason="no SO_REUSEPORT here: the workers share one socket")


def _accepted(socks: list[socket.socket], connections: int) -> list[int]:
    """How many of ``connections`` new client connections each listening socket accepted."""
    port = socks[0].getsockname()[1]
    counts, clients = [0] * len(socks), []
    with selectors.DefaultSelector() as sel:
        for i, sock in enumerate(socks):
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ, i)
        for _ in range(connections):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        while sum(counts) < connections:
            events = sel.select(timeout=5)
            assert events, f"only {sum(counts)} of {connections} connections accepted"
            for key, _ in events:
                try:
                    conn, _ = key.fileobj.accept()
                except BlockingIOError:
                    continue
                conn.close()
                counts[key.data] += 1
    for c in clients:
        c.close()
    return counts


def test_each_worker_gets_its_own_socket_on_the_held_port_and_a_share_of_new_connections():
    with check_address("127.0.0.1", 0, hold=True) as held:
        port = held.getsockname()[1]
        handed = listeners.WorkerSockets("127.0.0.1", port)
        assert handed == []  # the parent listens on nothing
        workers = [pickle.loads(pickle.dumps(handed)) for _ in range(2)]  # as each worker process unpickles it
        socks = [w[0] for w in workers]
        assert all(len(w) == 1 and s.getsockname()[1] == port for w, s in zip(workers, socks, strict=True))
        assert socks[0].fileno() != socks[1].fileno()
        for s in socks:
            s.listen()
        # 48 connections at once: the parent's held socket takes none, and neither worker is left without
        # (with one shared socket, whichever worker woke first could take them all)
        counts = _accepted(socks, 48)
        assert sum(counts) == 48 and min(counts) >= 8, counts
        for s in socks:
            s.close()


def test_a_port_held_without_reuse_cannot_be_shared():
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(ConfigError, match="already in use"):
            check_address("127.0.0.1", other.getsockname()[1], hold=True)


def test_a_second_server_on_a_held_port_is_refused():
    with check_address("127.0.0.1", 0, hold=True) as held:
        port = held.getsockname()[1]
        (worker,) = pickle.loads(pickle.dumps(listeners.WorkerSockets("127.0.0.1", port)))
        with worker:
            worker.listen()
            with pytest.raises(ConfigError, match="already in use"):
                check_address("127.0.0.1", port)


def test_a_worker_that_cannot_listen_says_so_and_stops_its_supervisor(capsys):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(SystemExit) as stopped:
            listeners.own_socket("127.0.0.1", other.getsockname()[1])
    assert stopped.value.code == listeners.STARTUP_FAILURE
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: a worker cannot listen on 127.0.0.1:") and "\n" not in err


# another program listens on the port between the parent's check and its workers' start
INTRUDER = """
import socket, sys
from slotfill.serving import listeners, server

def check_address(host, port, hold=False, reuse_port=None, checked_by=server.check_address):
    checked_by(host, port)  # free; held then with SO_REUSEADDR, which slotfill's own hold leaves out so that
    held = listeners.bind(host, port, reuse_port=True)  # no other socket binds beside it: here one does
    intruder = socket.socket()
    intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    intruder.bind((host, held.getsockname()[1]))
    intruder.listen()
    check_address.intruder = intruder
    return held

if __name__ == "__main__":
    server.check_address = check_address
    from slotfill.cli.main import main
    sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_serve_exits_non_zero_when_its_workers_cannot_listen(tiny_model_file, tmp_path):
    from tests.helpers import ROOT, free_port

    script = tmp_path / "intruder.py"
    script.write_text(INTRUDER)
    cmd = [sys.executable, str(script), "serve", f"ckpt={tiny_model_file}", f"port={free_port()}", "workers=2"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "error: a worker cannot listen on 127.0.0.1:" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: port=")


def test_a_worker_whose_parent_is_gone_is_told_so(monkeypatch):
    """The fallback where PR_SET_PDEATHSIG cannot be set: a parent killed (kill -9) had left its workers serving."""
    orphaned, ppid = threading.Event(), [4321]
    monkeypatch.setattr(listeners.os, "getppid", lambda: ppid[0])
    watcher = listeners.watch_parent(4321, orphaned.set, interval=0.01)
    assert not orphaned.wait(0.05)  # its parent is there
    ppid[0] = 1  # re-parented: its parent died
    assert orphaned.wait(1)
    watcher.join(1)
    assert not watcher.is_alive()


# a parent that starts a worker and waits to be killed; the worker follows its parent
PARENT = """
import subprocess, sys, time
worker = (
    "import os, time\\n"
    "from slotfill.serving.listeners import exit_with_parent\\n"
    "exit_with_parent(os.getppid())\\n"
    "print(os.getpid(), flush=True)\\n"
    "time.sleep(60)\\n"
)
child = subprocess.Popen([sys.executable, "-c", worker], stdout=sys.stdout)
time.sleep(60)
"""


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie nobody reaps counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_ends_when_its_parent_is_killed(tmp_path):
    from tests.helpers import ROOT

    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    worker = 0
    try:
        worker = int(parent.stdout.readline())  # armed
        assert not _gone(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not _gone(worker) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _gone(worker), "the worker outlived its parent"
    finally:
        parent.kill()
        parent.wait(timeout=10)
        if worker and not _gone(worker):
            os.kill(worker, signal.SIGKILL)
