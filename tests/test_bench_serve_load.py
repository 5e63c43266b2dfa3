"""bench/serve_load.py: the load starts only once every worker of the server has answered, and says how
the clients' connections fell on the workers."""

import asyncio
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from serve_load import every_worker_up, load, worker_count  # noqa: E402

POST_STATUS = {"status": 200}  # what the fake server answers /model/parse with


class Running:
    """Stands for the server's process: running until told otherwise."""

    def __init__(self, code: int | None = None) -> None:
        self.code = code

    def poll(self) -> int | None:
        return self.code


@pytest.fixture
def health():
    """A fake server whose /health gives the answers queued in ``answers`` (status, body), then the last one again."""
    answers: list[tuple[int, dict | str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = answers.pop(0) if len(answers) > 1 else answers[0]
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(POST_STATUS["status"])
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answers
    server.shutdown()


def test_worker_count_reads_the_last_workers_setting():
    assert worker_count(["backend=onnx"]) == 1
    assert worker_count(["workers=2", "connections.http=h11"]) == 2
    assert worker_count(["workers=2", "++workers=3"]) == 3


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_waits_through_refusals_until_each_worker_has_answered(health):
    url, answers = health
    answers += [(503, "Service Unavailable"), (200, {"worker": 11}), (200, {"worker": 11}), (200, {"worker": 12})]
    every_worker_up(Running(), url, 2, wait_s=10)
    assert len(answers) == 1  # every answer was asked for, the second worker's last


def test_a_server_that_never_shows_its_second_worker_stops_the_benchmark(health):
    url, answers = health
    answers.append((200, {"worker": 11}))
    with pytest.raises(SystemExit, match=r"server: 1 of 2 workers answered /health in 0.2 s"):
        every_worker_up(Running(), url, 2, wait_s=0.2)
    with pytest.raises(SystemExit, match="0 of 2 workers"):
        every_worker_up(Running(code=1), url, 2)  # the server exited


def test_an_older_server_gets_a_fixed_wait_said_in_one_line(health, capsys):
    url, answers = health
    answers.append((200, {"status": "ok"}))
    every_worker_up(Running(), url, 2, settle_s=0.01)
    assert "/health names no worker (an older server): waited 0 s instead" in capsys.readouterr().out


@pytest.mark.slow  # ~0.7-1.1 s
@pytest.mark.parametrize("client", ["httpx", "aiohttp"])
def test_the_load_counts_the_connections_each_worker_holds(health, client):
    url, answers = health
    answers += [(200, {"worker": 11})] * 3 + [(200, {"worker": 12})] + [(200, {"worker": 11})]
    result = asyncio.run(load(url, ["flights to boston"], clients=4, seconds=0.5, client=client))
    assert result["spread"] == "3/1" and result["errors"] == 0 and result["n"] > 0
    answers[:] = [(200, {"status": "ok"})]  # an older server: /health names no worker
    assert asyncio.run(load(url, ["x"], clients=2, seconds=0.1, client=client))["spread"] == "?"


@pytest.mark.slow  # ~0.5 s
def test_refused_requests_are_errors_never_throughput(health, monkeypatch):
    url, answers = health
    answers += [(200, {"worker": 1})]
    monkeypatch.setitem(POST_STATUS, "status", 503)  # every /model/parse refused, fast
    result = asyncio.run(load(url, ["x"], clients=2, seconds=0.2, client="httpx"))
    assert result["n"] == 0 and result["errors"] > 0 and result["rps"] == 0
