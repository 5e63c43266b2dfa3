"""``serve(cfg)`` behind ``slotfill serve``: check the address, load the model once, run uvicorn."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import socket

from slotfill.core import collector
from slotfill.core.settings import from_mapping, whole_number
from slotfill.errors import ConfigError, SlotfillError
from slotfill.serving import listeners
from slotfill.serving.app import build, settings
from slotfill.serving.backend import load_backend
from slotfill.serving.connections import Connections
from slotfill.version import __version__

CONFIG_ENV = "SLOTFILL_SERVE_CONFIG"  # the settings each uvicorn worker process rebuilds its app from


def check_address(host: str, port: int, hold: bool = False, reuse_port: bool | None = None) -> socket.socket | None:
    """A one-line ConfigError unless ``host:port`` can be listened on now (bound and released as uvicorn
    binds). ``hold``: the port stays bound, and the bound socket is returned: the one socket a single
    server listens on, or the port the workers' own sockets share (``reuse_port``, the default with
    ``hold``: :mod:`slotfill.serving.listeners`)."""
    try:
        sock = listeners.bind(host, port, reuse_port=hold if reuse_port is None else reuse_port)
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
    """uvicorn's factory in each worker process (``workers`` > 1); says when its model is loaded."""
    app = settled(build(json.loads(os.environ[CONFIG_ENV])))
    print(f"slotfill: worker {os.getpid()} ready", flush=True)
    return app


BACKLOG = 2048  # uvicorn's own default


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
    from uvicorn.config import LOG_LEVELS

    if level not in LOG_LEVELS:  # else uvicorn's KeyError, after the model has loaded
        raise ConfigError(f"log_level={level}: choose one of {', '.join(LOG_LEVELS)}")
    options = from_mapping(Connections, s["connections"], "connections").uvicorn_options()
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
        line = (
            f"slotfill {__version__}: serving {s['ckpt']} ({backend.name}, {backend.precision}) on http://{host}:{port}"
        )
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
        os.environ[CONFIG_ENV] = json.dumps(s)
        del backend  # each worker loads its own copy
        app = "slotfill.serving.server:app_from_env"
        if not spread:
            uvicorn.run(app, factory=True, host=host, port=port, workers=workers, log_level=level, **options)
            return
        from uvicorn.supervisors import Multiprocess

        config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers, log_level=level, **options)
        supervisor = Multiprocess(config, sockets=listeners.WorkerSockets(host, port))
        supervisor.run()
    if listeners.failed_to_start(supervisor):
        raise SlotfillError(f"port={port}: a worker could not start (its line above says why); nothing is served")


__all__ = ["check_address", "serve"]
