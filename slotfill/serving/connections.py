"""Connection limits of the server: how many, how long a request may take to arrive, how long one idles.

uvicorn's h11 protocol has a keep-alive timer only between requests: a client that opens a
connection and sends nothing, or sends its headers a byte at a time, holds it for ever (200
such connections stayed open 30 s). :class:`DeadlineH11Protocol` gives every request a deadline
from its first byte (or from the connection opening) until it has arrived in full, and answers
408 when it passes.
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from slotfill.core.settings import whole_number
from slotfill.errors import ConfigError

WAITING = (h11.IDLE, h11.SEND_BODY)  # the client's side: no request yet, or its body still coming


@dataclass(frozen=True)
class Connections:
    max_open: int = 256  # connections and requests in progress (per worker) before new requests get 503
    request_timeout_s: float = 10.0  # from the first byte (or the connection opening) to the whole request
    keep_alive_s: float = 5.0  # an idle connection between requests is closed after this

    def __post_init__(self) -> None:
        whole_number(self.max_open, "connections.max_open")
        for name in ("request_timeout_s", "keep_alive_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
                raise ConfigError(f"connections.{name}={value!r}: must be a number of seconds above 0, at most 3600")

    def uvicorn_options(self) -> dict:
        """The keyword arguments of ``uvicorn.run`` that apply these limits."""
        return {
            "http": functools.partial(DeadlineH11Protocol, request_timeout_s=float(self.request_timeout_s)),
            "limit_concurrency": self.max_open + 1,  # uvicorn counts the refused connection itself
            "timeout_keep_alive": self.keep_alive_s,
        }


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on receiving each request (headers and body)."""

    def __init__(self, *args, request_timeout_s: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout_s = request_timeout_s
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state not in WAITING:
            self._disarm()  # the request is in: the time the model takes is not limited here

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state not in WAITING:
            return
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):  # nothing of an answer sent yet
            message = f"the request did not arrive within {self.request_timeout_s:g} s"
            body = json.dumps({"error": message}).encode()
            head = (
                "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head.encode() + body)
        self.transport.close()
