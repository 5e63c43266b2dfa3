"""A listening socket of its own for each ``slotfill serve`` worker, all on one port (``SO_REUSEPORT``).

uvicorn's workers share the one socket their parent bound, and every idle worker wakes for each
new connection: whichever wins takes more of them (64 clients' connections fell 41/23 on two
workers; bench/RESULTS.md, "Connections spread over the workers"). With a socket per worker the
kernel spreads new connections over the workers by their addresses. The parent binds the port
when it checks it (``slotfill.serving.server.check_address(hold=True)``) and holds it, never
listening (so it is given no connections): ``port=0`` becomes one free
port every worker shares, and programs binding without ``SO_REUSEADDR`` are kept off it. One that
takes the port anyway before the workers listen stops the server in one line (:func:`own_socket`).
"""

from __future__ import annotations

import socket
import sys

STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start (uvicorn.config.STARTUP_FAILURE)
SPREAD = hasattr(socket, "SO_REUSEPORT")  # Linux and the BSDs; elsewhere the workers share one socket


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``SO_REUSEADDR``; ``SO_REUSEPORT`` too if ``reuse_port``);
    closed again if it cannot be bound."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def own_socket(host: str, port: int) -> list[socket.socket]:
    """In a worker: its own socket on ``host:port``, as the list of sockets uvicorn serves on.

    A worker that cannot have one (another program listening there since the parent checked the
    port) says so in one line and exits with uvicorn's start-up failure code: its supervisor then
    stops rather than starting it again and again, and :func:`failed_to_start` tells the parent.
    """
    try:
        return [bind(host, port, reuse_port=True)]
    except OSError as e:
        print(
            f"error: a worker cannot listen on {host}:{port} ({e.strerror}): another program took the port?",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(STARTUP_FAILURE) from None


def failed_to_start(supervisor) -> bool:
    """Whether uvicorn's supervisor stopped because a worker could not start (its exit code)."""
    return any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)


class WorkerSockets(list):
    """The ``sockets`` uvicorn's supervisor hands each worker it starts (or restarts): empty in the
    parent, unpickled in the worker process as a socket of its own (:func:`own_socket`)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.address = (host, port)

    def __reduce__(self):
        return own_socket, self.address


__all__ = ["SPREAD", "WorkerSockets", "bind", "failed_to_start"]
