"""How the server handles connections: how many, how long a request may take to arrive, how long one
idles, and which HTTP parser and event loop read them.

uvicorn's HTTP protocols have a keep-alive timer only between requests: a client that opens a
connection and sends nothing, or sends its headers a byte at a time, holds it for ever (200
such connections stayed open 30 s). :class:`DeadlineH11Protocol` and
:class:`DeadlineHttpToolsProtocol` give every request a deadline from its first byte (or from the
connection opening) until it has arrived in full, and answer 408 when it passes. httptools (a C
parser) serves more requests a second than h11 on the same cores (bench/RESULTS.md, "The HTTP
parser, the event loop and the garbage collector"); ``auto`` takes it, and uvloop, where installed.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is in the serve extra; without it, h11 serves
    HttpToolsProtocol = None

from slotfill.core.settings import whole_number
from slotfill.errors import ConfigError

WAITING = (h11.IDLE, h11.SEND_BODY)  # the client's side: no request yet, or its body still coming
HTTP_CHOICES = ("auto", "httptools", "h11")
LOOP_CHOICES = ("auto", "uvloop", "asyncio")


def installed(module: str) -> bool:
    """Whether ``httptools`` (as uvicorn's protocol) or ``uvloop`` can serve here."""
    if module == "httptools":
        return HttpToolsProtocol is not None
    return importlib.util.find_spec(module) is not None


@dataclass(frozen=True)
class Connections:
    max_open: int = 256  # connections and requests in progress (per worker) before new requests get 503
    request_timeout_s: float = 10.0  # from the first byte (or the connection opening) to the whole request
    keep_alive_s: float = 5.0  # an idle connection between requests is closed after this
    http: str = "auto"  # the HTTP parser: httptools | h11 (auto: httptools where installed)
    loop: str = "auto"  # the event loop: uvloop | asyncio (auto: uvloop where installed)

    def __post_init__(self) -> None:
        whole_number(self.max_open, "connections.max_open")
        for name, choices, extra in (("http", HTTP_CHOICES, "httptools"), ("loop", LOOP_CHOICES, "uvloop")):
            value = getattr(self, name)
            if value not in choices:
                raise ConfigError(f"connections.{name}={value!r}: choose one of {', '.join(choices)}")
            if value == extra and not installed(extra):
                raise ConfigError(
                    f"connections.{name}={extra}: {extra} is not installed: pip install 'slotfill[serve]'"
                )
        for name in ("request_timeout_s", "keep_alive_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
                raise ConfigError(f"connections.{name}={value!r}: must be a number of seconds above 0, at most 3600")

    @property
    def parser(self) -> str:
        """``httptools`` or ``h11``: what ``http`` gives on this machine."""
        return self.http if self.http != "auto" else "httptools" if installed("httptools") else "h11"

    @property
    def event_loop(self) -> str:
        """``uvloop`` or ``asyncio``: what ``loop`` gives on this machine."""
        return self.loop if self.loop != "auto" else "uvloop" if installed("uvloop") else "asyncio"

    def uvicorn_options(self) -> dict:
        """The keyword arguments of ``uvicorn.run`` that apply these settings."""
        protocol = DeadlineHttpToolsProtocol if self.parser == "httptools" else DeadlineH11Protocol
        return {
            "http": functools.partial(protocol, request_timeout_s=float(self.request_timeout_s)),
            "loop": self.event_loop,
            "limit_concurrency": self.max_open + 1,  # uvicorn counts the refused connection itself
            "timeout_keep_alive": self.keep_alive_s,
        }


class _Deadline:
    """A deadline on receiving each request (headers and body) for a uvicorn protocol: armed when the
    connection opens and at each request's first byte, disarmed once the request is in; when it
    passes, 408 (unless an answer has begun) and the connection closed. The protocol arms and
    disarms it and says whether a request is still arriving and whether an answer has begun."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def __init__(self, *args, request_timeout_s: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout_s = request_timeout_s
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _arriving(self) -> bool:
        raise NotImplementedError

    def _answering(self) -> bool:
        raise NotImplementedError

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or not self._arriving():
            return
        if not self._answering():
            message = f"the request did not arrive within {self.request_timeout_s:g} s"
            body = json.dumps({"error": message}).encode()
            head = (
                "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head.encode() + body)
        self.transport.close()


class DeadlineH11Protocol(_Deadline, H11Protocol):
    """uvicorn's h11 protocol with a deadline on receiving each request (headers and body)."""

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state not in WAITING:
            self._disarm()  # the request is in: the time the model takes is not limited here

    def _arriving(self) -> bool:
        return self.conn.their_state in WAITING

    def _answering(self) -> bool:
        return self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE)


if HttpToolsProtocol is not None:

    class DeadlineHttpToolsProtocol(_Deadline, HttpToolsProtocol):
        """uvicorn's httptools protocol with a deadline on receiving each request (headers and body)."""

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._deadline is None:
                self._arm()  # the first byte of the next request on a kept-alive connection

        def on_message_complete(self) -> None:
            self._disarm()  # the request is in: the time the model takes is not limited here
            super().on_message_complete()

        def _arriving(self) -> bool:
            return True  # the deadline is disarmed once the request is in

        def _answering(self) -> bool:
            # the cycle is the last request's until this one's headers are in
            return self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete
