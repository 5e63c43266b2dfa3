"""Request limits and the JSON error responses of the server."""

from __future__ import annotations

import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from slotfill.core.settings import whole_number

# a client that posted this recently is one whose next request is on its way: with two or more
# of them a request is not alone, even when it is the only one inside the app (tagging a request
# on the event loop keeps the others waiting in their sockets, uncounted)
RECENT_S = 0.05
MAX_SEEN = 1024  # client addresses remembered before the quiet ones are forgotten


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 1_000_000
    max_text_chars: int = 2000
    max_batch: int = 256  # texts or sentences in one POST /predict
    max_tokens: int = 512  # tokens of one pre-tokenised sentence
    # characters x nbest of one request asking for alternatives: one text of max_text_chars at nbest 20.
    # Alternatives cost a pass that grows with the text; unbounded, one request of max_batch such texts
    # held a worker's one model thread (and its shutdown) for minutes
    max_nbest_chars: int = 40_000

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            whole_number(value, f"limits.{name}")


class ApiError(Exception):
    """A refused request: ``status`` and a one-line ``message`` sent as ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _send_json(send, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _replaying(message: dict, receive):
    """An ASGI ``receive`` that gives ``message`` (a body already read) first, then ``receive``'s."""
    replayed = False

    async def replay():
        nonlocal replayed
        if not replayed:
            replayed = True
            return message
        return await receive()

    return replay


class BodyLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` with 413, declared or streamed.

    ``active`` counts the POST requests in progress (the micro-batcher's ``in_flight``), and
    :meth:`clients` the clients that posted lately: the ones about to send again.
    """

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.active = 0
        self._seen: dict = {}  # client address -> when it last posted

    def clients(self) -> int:
        """Distinct clients that posted within the last :data:`RECENT_S` seconds."""
        cutoff = time.monotonic() - RECENT_S
        self._seen = {k: t for k, t in self._seen.items() if t >= cutoff}
        return len(self._seen)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        self.active += 1
        self._seen[scope.get("client")] = time.monotonic()
        if len(self._seen) > MAX_SEEN:  # clients() forgets the quiet ones, but under steady load no one asks
            self.clients()
        try:
            await self._limited(scope, receive, send)
        finally:
            self.active -= 1

    async def _limited(self, scope, receive, send) -> None:
        too_big = {"error": f"request body over {self.max_bytes} bytes"}
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_json(send, 400, {"error": "bad Content-Length header"})
                return
            if int(declared) > self.max_bytes:
                await _send_json(send, 413, too_big)
                return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await _send_json(send, 413, too_big)
                return
        message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replaying(message, receive), send)


class JsonBodies:
    """ASGI middleware: every POST body is read as JSON, whatever its content type.

    ``curl -d '{"text": ...}'`` sends ``application/x-www-form-urlencoded``; Rasa's server reads
    such a body as JSON all the same, and so does slotfill.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


class TokenGuard:
    """ASGI middleware: with a token set, the API answers only requests that carry it (else 401).

    The token comes as Rasa's clients send it (``?token=...``, or a ``"token"`` key in the JSON
    body, as Rasa's HTTP interpreter does) or as ``Authorization: Bearer ...``. ``OPEN`` paths
    (liveness, the pages, the schema) stay open. Inside :class:`BodyLimit`: the body is bounded.
    """

    OPEN = ("/health", "/", "/docs", "/openapi.json")

    def __init__(self, app, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope, receive, send) -> None:
        if not self.token or scope["type"] != "http" or scope.get("path") in self.OPEN:
            await self.app(scope, receive, send)
            return
        given = self._given(scope)
        if scope.get("method") == "POST":
            message = await receive()  # BodyLimit replays the whole body in one message
            given += self._in_body(message.get("body", b""))
            receive = _replaying(message, receive)
        expected = self.token.encode()
        if not any(hmac.compare_digest(g, expected) for g in given):
            await _send_json(send, 401, {"error": "missing or wrong token: add ?token=... (auth_token)"})
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _given(scope) -> list[bytes]:
        """The tokens a request carries, as the UTF-8 bytes compared with the server's (the header's as sent, too)."""
        query = parse_qs((scope.get("query_string") or b"").decode("latin-1")).get("token", [])
        given = [_utf8(t) for t in query]
        bearer = dict(scope.get("headers") or []).get(b"authorization", b"")
        if bearer[:7].lower() == b"bearer ":
            raw = bearer[7:].strip()
            # a client sends a non-ASCII token as UTF-8 (curl) or, up to U+00FF, as one Latin-1 byte a
            # character (browsers' fetch, http.client, requests): either spelling matches
            given += [raw, raw.decode("latin-1").encode("utf-8")]
        return given

    @staticmethod
    def _in_body(body: bytes) -> list[bytes]:
        try:
            token = json.loads(body).get("token")
        except (ValueError, AttributeError, RecursionError):
            return []
        return [_utf8(token)] if isinstance(token, str) else []


def _utf8(token: str) -> bytes:
    # surrogatepass: a lone surrogate in a client's token is a wrong token (401), not a crash
    return token.encode("utf-8", "surrogatepass")
