"""serving/listeners.py: each worker listens on a socket of its own, and new connections reach every worker."""

import pickle
import selectors
import socket
import subprocess
import sys

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
from slotfill.serving import server

def check_address(host, port, hold=False, reuse_port=None, checked_by=server.check_address):
    held = checked_by(host, port, hold, reuse_port)
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
