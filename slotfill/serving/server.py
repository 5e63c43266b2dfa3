"""``serve(cfg)`` behind ``slotfill serve``: check the address, load the model once, run uvicorn."""

from __future__ import annotations

import contextlib
import errno
import inspect
import ipaddress
import json
import logging
import os
import signal
import socket
import sys

from slotfill.core import collector
from slotfill.core.settings import from_mapping, whole_number
from slotfill.errors import ConfigError, SlotfillError, first_line
from slotfill.serving import listeners
from slotfill.serving.app import build, settings
from slotfill.serving.backend import load_backend
from slotfill.serving.connections import Connections
from slotfill.version import __version__

CONFIG_ENV = "SLOTFILL_SERVE_CONFIG"  # the settings each uvicorn worker process rebuilds its app from
# the first uvicorn whose supervisor takes no target (each worker's sockets its own) and stops when a
# worker fails to start (its sources: 0.29 has no SIGNALS, 0.30 to 0.50 need a target; 0.51 is as 0.55)
UVICORN_FLOOR = "0.51"


def supervisor_api() -> tuple[dict, type]:
    """uvicorn's supervisor: its signals and its class; a one-line SlotfillError where the uvicorn
    installed is older than :data:`UVICORN_FLOOR` (an ImportError, the serve extra, where there is none)."""
    import uvicorn

    try:
        from uvicorn.supervisors.multiprocess import SIGNALS, Multiprocess
    except ImportError:
        raise _old_uvicorn(uvicorn) from None
    if "target" in inspect.signature(Multiprocess).parameters:  # a TypeError at workers=N, after the model loaded
        raise _old_uvicorn(uvicorn)
    return SIGNALS, Multiprocess


def _old_uvicorn(uvicorn) -> SlotfillError:
    found, floor = getattr(uvicorn, "__version__", "(version unknown)"), UVICORN_FLOOR
    fix = f"pip install 'uvicorn>={floor}'"
    return SlotfillError(f"uvicorn {found} found; slotfill serve needs uvicorn >= {floor}: {fix}")


SUPERVISOR_SIGNALS, Multiprocess = supervisor_api()


def check_address(host: str, port: int, hold: bool = False, reuse_port: bool | None = None) -> socket.socket | None:
    """A one-line ConfigError unless ``host:port`` can be listened on now (bound and released as uvicorn
    binds). ``hold``: the port stays bound, and the bound socket is returned: the one socket a single
    server listens on, or the port the workers' own sockets share (``reuse_port``, the default with
    ``hold``: :mod:`slotfill.serving.listeners`)."""
    reuse_port = hold if reuse_port is None else reuse_port
    try:
        if reuse_port and port:  # SO_REUSEPORT would share a port another server's workers listen on
            listeners.bind(host, port).close()
        # the port held for the workers without SO_REUSEADDR: Linux lets two SO_REUSEADDR sockets that
        # do not listen share a port, so a second server still loading its model would pass the probe
        sock = listeners.bind(host, port, reuse_port=reuse_port, reuse_addr=not reuse_port)
    except socket.gaierror as e:
        raise ConfigError(f"host={host}: not an address of this machine ({e.strerror})") from None
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port={port}: already in use on {host} (another server?): stop it or give port="
            ) from None
        if e.errno == errno.EACCES:
            raise ConfigError(f"port={port}: permission denied (ports below 1024 need root): give port=") from None
        raise ConfigError(f"host={host} port={port}: cannot listen there ({e.strerror})") from None
    if hold:
        return sock
    sock.close()
    return None


def settled(app):
    """``app``, with every object made so far (the libraries, the model, its vocabularies) moved out
    of the garbage collector's walk: a full collection walked them all while requests waited
    (~170,000 objects with PyTorch: 150 ms a collection; bench/RESULTS.md, "The HTTP parser, the
    event loop and the garbage collector")."""
    collector.settled(collect=True)
    return app


def app_from_env():
    """uvicorn's factory in each worker process (``workers`` > 1); says when its model is loaded.

    A worker that cannot load the model the parent loaded (the file removed or replaced since) says
    so in one line and exits with the start-up failure code: uvicorn's supervisor then stops the
    server, rather than restarting the worker for ever or serving two models on one port."""
    s = json.loads(os.environ[CONFIG_ENV])
    if "parent" in s:  # a parent killed (kill -9) leaves no orphan serving its port
        listeners.exit_with_parent(s["parent"])
    try:
        backend = load_backend(s["ckpt"], s["backend"], s["threads"], s["precision"])
        if backend.card.get("fingerprint") != s.get("fingerprint"):
            raise SlotfillError(f"{s['ckpt']}: another model than the one the server started with: restart it")
    except SlotfillError as e:
        print(f"error: worker {os.getpid()}: {first_line(e)}", file=sys.stderr, flush=True)
        raise SystemExit(listeners.STARTUP_FAILURE) from None
    app = settled(build(s, backend))
    print(f"slotfill: worker {os.getpid()} ready", flush=True)
    return app


class _Supervisor(Multiprocess):
    """uvicorn's supervisor of worker processes, remembering the signal that stopped it, so that
    ``workers=N`` ends as one worker does: Ctrl-C is ``interrupted`` (130), SIGTERM exits 143; a
    worker that dies and is replaced is named on stderr whatever the log level."""

    stopped_by: int | None = None

    def keep_subprocess_alive(self) -> None:
        before = list(self.processes)
        super().keep_subprocess_alive()
        for old, new in zip(before, self.processes, strict=False):
            if new is not old:  # uvicorn replaced it (and says so only at log_level=info)
                code = old.exitcode
                how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
                print(f"slotfill: worker {old.pid} died ({how}); starting another", file=sys.stderr, flush=True)

    def handle_int(self) -> None:
        self.stopped_by = self.stopped_by or signal.SIGINT
        super().handle_int()

    def handle_term(self) -> None:
        self.stopped_by = self.stopped_by or signal.SIGTERM
        super().handle_term()


BACKLOG = 2048  # uvicorn's own default


def _said_by_slotfill(record: logging.LogRecord) -> bool:
    """False for uvicorn's supervisor's lines on a worker that died or failed to start: slotfill says
    those itself (the worker's own error line, :class:`_Supervisor`)."""
    message = record.getMessage()
    return not (message.startswith("Child process [") and message.endswith(("died", "stopping the parent process.")))


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _one_address(host: str, port: int) -> str:
    """The one address a host name stands for: with ``workers`` > 1 each worker listens on one
    socket, so a name for several addresses (``localhost``: 127.0.0.1 and ::1) is refused."""
    if _is_address(host):
        return host
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ConfigError(f"host={host}: not an address of this machine ({e.strerror})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if len(addresses) != 1:
        raise ConfigError(
            f"host={host}: stands for {len(addresses)} addresses ({', '.join(addresses)}): with workers > 1 "
            f"give one of them (host={addresses[0]})"
        )
    return addresses[0]


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _serve_on(sock: socket.socket, config) -> None:
    """uvicorn serving on the socket bound when the address was checked."""
    import uvicorn

    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except OSError as e:  # listen(): another program bound the port too, and listens on it since
        host, port = sock.getsockname()[:2]
        raise SlotfillError(
            f"port={port}: cannot listen on {host} ({e.strerror}): another program took the port?"
        ) from None
    if not server.started:
        raise SlotfillError(f"port={config.port}: the server did not start (its line above says why)")


def serve(cfg) -> None:
    """Check every setting and the address, load the model (a one-line error before listening), run uvicorn."""
    import uvicorn
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    s = settings(cfg)
    workers = whole_number(cfg.get("workers", 1), "workers")
    port = whole_number(cfg.get("port"), "port", minimum=0, maximum=65535)
    host, level = str(cfg.host), str(cfg.get("log_level", "warning"))
    if not host.strip():  # the socket layer reads an empty host as every interface
        raise ConfigError("host=: empty: give host=127.0.0.1 (this machine only) or host=0.0.0.0 (every interface)")
    from uvicorn.config import LOG_LEVELS

    if level not in LOG_LEVELS:  # else uvicorn's KeyError, after the model has loaded
        raise ConfigError(f"log_level={level}: choose one of {', '.join(LOG_LEVELS)}")
    options = from_mapping(Connections, s["connections"], "connections").uvicorn_options()
    if workers > 1:
        host = _one_address(host, port)
    spread = workers > 1 and listeners.SPREAD
    one = workers == 1 and _is_address(host)  # a host name may stand for several addresses: uvicorn binds each
    if spread or one:  # held from here until the server stops: no other program takes it while the model loads
        held = check_address(host, port, hold=True, reuse_port=spread)
        if one:
            held.listen(BACKLOG)  # listening: connections made while the model loads wait for it
    else:  # uvicorn binds: port=0 is chosen here, so that the line below names it
        if port == 0:
            probe = check_address(host, 0, hold=True)
            port = probe.getsockname()[1]
            probe.close()
        held = check_address(host, port)
    with held or contextlib.nullcontext():
        port = held.getsockname()[1] if held else port  # port=0: the free port chosen
        backend = load_backend(s["ckpt"], s["backend"], s["threads"], s["precision"])
        where = _url(host, port)
        line = f"slotfill {__version__}: serving {s['ckpt']} ({backend.name}, {backend.precision}) on {where}"
        if workers > 1:  # the first answers may come before every worker has loaded its copy
            line += f", {workers} workers loading (each says when it is ready)"
        print(line, flush=True)
        if workers == 1:
            config = uvicorn.Config(settled(build(s, backend)), host=host, port=port, log_level=level, **options)
            if held is None:
                uvicorn.run(config.app, host=host, port=port, log_level=level, **options)
            else:
                _serve_on(held, config)
            return
        fingerprint = backend.card.get("fingerprint")
        os.environ[CONFIG_ENV] = json.dumps({**s, "fingerprint": fingerprint, "parent": os.getpid()})
        del backend  # each worker loads its own copy
        app = "slotfill.serving.server:app_from_env"
        if not spread:
            uvicorn.run(app, factory=True, host=host, port=port, workers=workers, log_level=level, **options)
            return
        config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers, log_level=level, **options)
        handlers = {sig: signal.getsignal(sig) for sig in SUPERVISOR_SIGNALS}  # it sets its own
        supervisor = _Supervisor(config, sockets=listeners.WorkerSockets(host, port))
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.addFilter(_said_by_slotfill)
        try:
            supervisor.run()
        finally:
            uvicorn_log.removeFilter(_said_by_slotfill)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
    if listeners.failed_to_start(supervisor):
        raise SlotfillError(f"port={port}: a worker could not start (its line above says why); nothing is served")
    if supervisor.stopped_by is not None:  # as uvicorn's single server does: the signal again, now handled
        signal.raise_signal(supervisor.stopped_by)


__all__ = ["check_address", "serve"]
