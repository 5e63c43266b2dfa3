"""A listening socket of its own for each ``slotfill serve`` worker, all on one port (``SO_REUSEPORT``).

uvicorn's workers share the one socket their parent bound, and every idle worker wakes for each
new connection: whichever wins takes more of them (64 clients' connections fell 41/23 on two
workers; bench/RESULTS.md, "Connections spread over the workers"). With a socket per worker the
kernel spreads new connections over the workers by their addresses. The parent binds the port
when it checks it (``slotfill.serving.server.check_address(hold=True)``) and holds it, never
listening (so it is given no connections): ``port=0`` becomes one free
port every worker shares, and programs binding without ``SO_REUSEADDR`` are kept off it. One that
takes the port anyway before the workers listen stops the server in one line (:func:`own_socket`).

A worker also ends when its parent does (:func:`exit_with_parent`): a parent killed with ``kill -9``
runs no clean-up, and its workers went on serving the port as orphans.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start (uvicorn.config.STARTUP_FAILURE)
SPREAD = hasattr(socket, "SO_REUSEPORT")  # Linux and the BSDs; elsewhere the workers share one socket


def bind(host: str, port: int, reuse_port: bool = False, reuse_addr: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``SO_REUSEADDR`` unless not ``reuse_addr``; ``SO_REUSEPORT``
    too if ``reuse_port``); closed again if it cannot be bound."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        if reuse_addr:
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


PR_SET_PDEATHSIG = 1  # linux/prctl.h: the signal the kernel sends this process when its parent dies
PARENT_POLL_S = 1.0  # elsewhere: how often a worker looks whether its parent is still there


def watch_parent(parent: int, on_orphan: Callable[[], None], interval: float = PARENT_POLL_S) -> threading.Thread:
    """A daemon thread calling ``on_orphan`` once this process's parent is no longer ``parent``."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        on_orphan()

    thread = threading.Thread(target=watch, name="slotfill-parent-watch", daemon=True)
    thread.start()
    return thread


def _stop() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # as the supervisor stops a worker: uvicorn shuts down cleanly


def exit_with_parent(parent: int) -> None:
    """In a worker: SIGTERM (uvicorn's clean shutdown) when ``parent``, the supervisor, dies, however it dies.

    Linux's ``PR_SET_PDEATHSIG`` where it can be set, else a thread watching :func:`os.getppid`; a
    parent already gone by then (the worker is re-parented) stops the worker at once."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # died before the signal was armed: the kernel sends none
        _stop()
    elif not armed:
        watch_parent(parent, _stop)


__all__ = ["SPREAD", "WorkerSockets", "bind", "exit_with_parent", "failed_to_start", "watch_parent"]
