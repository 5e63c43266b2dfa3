"""serving/connections.py: request deadlines, idle keep-alive and the connection limit, on a real uvicorn."""

import asyncio
import socket
import threading
import time

import pytest

from slotfill.errors import ConfigError
from slotfill.serving.connections import Connections
from tests.helpers import free_port

GET = b"GET /ok HTTP/1.1\r\nhost: x\r\n\r\n"


async def app(scope, receive, send):
    """A tiny ASGI app: /slow answers after 0.6 s, anything else at once; a POST reads its whole body."""
    if scope["type"] != "http":
        return
    more = scope["method"] == "POST"
    while more:
        message = await receive()
        more = message.get("more_body", False) and message["type"] == "http.request"
    if scope["path"] == "/slow":
        await asyncio.sleep(0.6)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(params=["httptools", "h11"])
def server(request):
    """uvicorn in a thread with small limits, once with each HTTP parser (both carry the deadline)."""
    import uvicorn

    limits = Connections(max_open=3, request_timeout_s=0.4, keep_alive_s=1.5, http=request.param)
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="error", **limits.uvicorn_options())
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    yield ("127.0.0.1", config.port)
    srv.should_exit = True
    thread.join(timeout=10)


def _connect(address) -> socket.socket:
    return socket.create_connection(address, timeout=5)


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (the socket's timeout bounds the wait)."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"ok"):
        chunk = sock.recv(4096)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


@pytest.mark.slow
def test_a_connection_that_sends_nothing_is_answered_408_and_closed(server):
    started = time.monotonic()
    with _connect(server) as sock:
        data = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 0.4 s" in data
    assert 0.3 < time.monotonic() - started < 3


@pytest.mark.slow
def test_headers_trickled_a_byte_at_a_time_do_not_hold_the_connection(server):
    started = time.monotonic()
    with _connect(server) as sock:
        try:
            for byte in GET[:-2]:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
        except OSError:
            pass  # closed under our feet: what the deadline is for
        data = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 3


@pytest.mark.slow
def test_a_slow_body_is_cut_but_a_slow_answer_is_not(server):
    head = b"POST /ok HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n"
    with _connect(server) as sock:
        sock.sendall(head + b"12345")
        data = _read_all(sock)  # the other five bytes never come
    assert data.startswith(b"HTTP/1.1 408 ")
    with _connect(server) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")  # 0.6 s in the app, over the 0.4 s deadline
        assert _answer(sock).startswith(b"HTTP/1.1 200 ")


@pytest.mark.slow
def test_the_next_request_on_a_kept_alive_connection_has_its_own_deadline(server):
    with _connect(server) as sock:
        sock.sendall(GET)
        assert _answer(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(GET[:10])  # the next request starts, then stalls
        started = time.monotonic()
        data = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 0.4 s" in data
    assert 0.3 < time.monotonic() - started < 3


@pytest.mark.slow
def test_kept_alive_connections_idle_by_keep_alive_s_not_the_request_deadline(server):
    with _connect(server) as sock:
        sock.sendall(GET)
        assert _answer(sock).startswith(b"HTTP/1.1 200 ")
        time.sleep(0.8)  # longer than the request deadline, shorter than keep-alive
        sock.sendall(GET)
        assert _answer(sock).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        assert _read_all(sock) == b""  # closed quietly once idle for keep_alive_s
        assert 1.0 < time.monotonic() - started < 4


@pytest.mark.slow
def test_over_max_open_new_requests_get_503(server):
    held = [_connect(server) for _ in range(3)]
    try:
        for sock in held:
            sock.sendall(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        time.sleep(0.1)
        with _connect(server) as extra:
            extra.sendall(GET)
            assert extra.recv(4096).startswith(b"HTTP/1.1 503 ")
        assert all(_answer(sock).startswith(b"HTTP/1.1 200 ") for sock in held)
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize(
    "values, problem",
    [
        ({"max_open": 0}, "connections.max_open=0: must be a whole number"),
        ({"request_timeout_s": 0}, "connections.request_timeout_s=0: must be a number of seconds above 0"),
        ({"keep_alive_s": "5"}, "connections.keep_alive_s='5'"),
        ({"request_timeout_s": True}, "connections.request_timeout_s=True"),
        ({"keep_alive_s": 1e9}, "at most 3600"),
        ({"http": "h2"}, "connections.http='h2': choose one of auto, httptools, h11"),
        ({"loop": "trio"}, "connections.loop='trio': choose one of auto, uvloop, asyncio"),
    ],
)
def test_bad_connection_settings_are_one_line_errors(values, problem):
    with pytest.raises(ConfigError, match=problem):
        Connections(**values)


def test_auto_takes_the_c_parser_and_loop_where_installed(monkeypatch):
    from slotfill.serving import connections

    options = Connections().uvicorn_options()
    assert (options["loop"], options["http"].func.__name__) == ("uvloop", "DeadlineHttpToolsProtocol")
    assert Connections(http="h11", loop="asyncio").uvicorn_options()["loop"] == "asyncio"
    monkeypatch.setattr(connections, "installed", lambda module: False)
    options = Connections().uvicorn_options()
    assert (options["loop"], options["http"].func) == ("asyncio", connections.DeadlineH11Protocol)
    with pytest.raises(ConfigError, match=r"connections.loop=uvloop: uvloop is not installed: pip install 'slotfill\["):
        Connections(loop="uvloop")
    with pytest.raises(ConfigError, match=r"connections.http=httptools: httptools is not installed"):
        Connections(http="httptools")
