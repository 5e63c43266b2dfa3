"""HTTP load benchmark of ``slotfill serve``: POST /model/parse (Rasa's endpoint), one ATIS test sentence per request.

For each server configuration (eager / ONNX, with / without micro-batching) a server process is
started on a free localhost port; async clients (1 / 8 / 64 by default) each send requests
back to back for ``--seconds`` (aiohttp, the client Rasa's HTTP interpreter uses; ``--client httpx``
for httpx, whose own cost per connection bounds it with many clients); the table gives requests/s,
latency percentiles and how the clients' connections fell on the server's workers. The
in-process batched API (``predict`` on all sentences, batch 256) is measured in the same run:
its sentences/s over the server's requests/s is the serving overhead. The ONNX server's resident
memory and its cold start (process start to first answer) are reported too.

    python bench/serve_load.py --ckpt outputs/.../model.pt [--seconds 3] [--clients 1,8,64]
    python bench/serve_load.py --ckpt .../model.pt --configs onnx-batching --clients 1 --client aiohttp
    python bench/serve_load.py --ckpt .../model.pt --configs onnx-batching-2-workers,onnx-batching-2-workers-h11 \
        --clients 64 --client aiohttp --seconds 10 --rounds 3 --server-only

``--reference COMMIT`` runs each configuration's server from a worktree of that commit too,
right after this checkout's (``--reference-configs``: only these there, the ones whose settings
the reference knows).
``--rounds N`` runs the configurations N times in turn (this VM's speed drifts over minutes, so
configurations are compared within a round) and ends with each cell's median over the rounds.

Not a timed test: numbers depend on the machine (and on what else runs on it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's slotfill, not an installed one
ATIS_TEST = ROOT.parent / "shared" / "data" / "atis" / "test" / "seq.in"
CONFIGS = {  # name: serve settings
    "eager-batching": ["backend=torch"],
    "eager-no-batching": ["backend=torch", "batching.max_batch=1"],
    "eager-batching-2-workers": ["backend=torch", "workers=2"],  # precision=auto: bf16 for a model trained so
    "eager-batching-2-workers-fp32": ["backend=torch", "workers=2", "precision=fp32"],
    "onnx-batching": ["backend=onnx"],
    "onnx-no-batching": ["backend=onnx", "batching.max_batch=1"],
    "onnx-batching-2-workers": ["backend=onnx", "workers=2"],
    # the levers one at a time: the pure-Python HTTP parser, then the pure-Python event loop too
    "onnx-batching-h11": ["backend=onnx", "connections.http=h11"],
    "onnx-batching-h11-asyncio": ["backend=onnx", "connections.http=h11", "connections.loop=asyncio"],
    "onnx-batching-2-workers-h11-asyncio": [
        *("backend=onnx", "workers=2", "connections.http=h11", "connections.loop=asyncio")
    ],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(
    ckpt: str, settings: list[str], threads: int, tree: Path = ROOT
) -> tuple[subprocess.Popen, str, float]:
    """A server process of the checkout ``tree``; its URL and the seconds from process start to the
    first /model/parse answer."""
    port = free_port()
    ckpt = str(Path(ckpt).resolve())
    cmd = [sys.executable, "-m", "slotfill", "serve", f"ckpt={ckpt}", f"port={port}", f"threads={threads}", *settings]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(tree)}

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server failed: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.post(f"{url}/model/parse", json={"text": "flights to boston"}, timeout=2).status_code == 200:
                    started = time.perf_counter() - t0
                    break
            except httpx.TransportError:
                time.sleep(0.02)
            if time.perf_counter() - t0 > 120:
                raise SystemExit("server did not start in 120 s")
        every_worker_up(proc, url, worker_count(settings))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, url, started


def worker_count(settings: list[str]) -> int:
    """The ``workers=N`` among a server's settings (the last one given, as Hydra reads them), else 1."""
    given = [s.split("=", 1)[1] for s in settings if s.lstrip("+").startswith("workers=")]
    return int(given[-1]) if given else 1


def every_worker_up(proc: subprocess.Popen, url: str, n: int, settle_s: float = 5.0, wait_s: float = 60) -> None:
    """Back once each of the ``n`` workers has answered /health (a new connection each time), so the
    clients' connections do not all land on the first worker up; a server whose /health does not
    say which worker answered (an older commit) gets ``settle_s`` instead, said in one line."""
    seen: set[int] = set()
    deadline = time.perf_counter() + wait_s
    while n > 1 and len(seen) < n:
        if proc.poll() is not None or time.perf_counter() > deadline:
            raise SystemExit(f"server: {len(seen)} of {n} workers answered /health in {wait_s:g} s")
        time.sleep(0.05)
        try:
            answer = httpx.get(f"{url}/health", timeout=2)
        except httpx.TransportError:  # a worker restarting
            continue
        if answer.status_code != 200:  # a 503 while connections are full
            continue
        worker = answer.json().get("worker")
        if worker is None:
            print(f"<!-- {url}: /health names no worker (an older server): waited {settle_s:.0f} s instead -->")
            time.sleep(settle_s)
            return
        seen.add(worker)


async def load(url: str, sentences: list[str], clients: int, seconds: float, client: str = "aiohttp") -> dict:
    """Each client's requests back to back for ``seconds``: requests/s and latency percentiles of the requests
    answered 200, the others' count (``errors``), and
    ``spread``, how many of the clients' connections each worker holds (from one /health per client,
    all at once, as the connections open)."""
    latencies: list[float] = []
    workers: list[int | None] = []
    errors = 0
    stop = 0.0  # set once the client is ready

    async def run(k: int, post, health) -> None:
        nonlocal errors
        workers.append(await health())
        i = k
        while time.perf_counter() < stop:
            t = time.perf_counter()
            status = await post({"text": sentences[i % len(sentences)], "message_id": str(i)})
            if status == 200:  # a refusal (503, 413) is fast: counted, it would read as throughput
                latencies.append(time.perf_counter() - t)
            else:
                errors += 1
            i += clients

    t0 = time.perf_counter()
    if client == "aiohttp":
        import aiohttp

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:

            async def post(body: dict) -> int:
                async with session.post(f"{url}/model/parse", json=body) as resp:
                    await resp.read()
                    return resp.status

            async def health() -> int | None:
                async with session.get(f"{url}/health") as resp:
                    return (await resp.json(content_type=None)).get("worker")

            t0 = time.perf_counter()
            stop = t0 + seconds
            await asyncio.gather(*(run(k, post, health) for k in range(clients)))
    else:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:

            async def post(body: dict) -> int:
                return (await http.post(f"{url}/model/parse", json=body)).status_code

            async def health() -> int | None:
                return (await http.get(f"{url}/health")).json().get("worker")

            t0 = time.perf_counter()
            stop = t0 + seconds
            await asyncio.gather(*(run(k, post, health) for k in range(clients)))
    wall = time.perf_counter() - t0
    latencies.sort()

    def pct(q: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    counts = sorted(Counter(workers).values(), reverse=True)
    spread = "/".join(map(str, counts)) if None not in workers else "?"  # an older server's /health names none
    return {
        "rps": len(latencies) / wall,
        "p50": pct(0.5),
        "p99": pct(0.99),
        "n": len(latencies),
        "errors": errors,
        "spread": spread,
    }


def in_process(ckpt: str, sentences: list[str], threads: int) -> dict[str, float]:
    """Sentences/s of the batched Python API (batch 256) on every sentence, eager (``precision=auto``, as
    the server runs it) and ONNX."""
    from slotfill.inference.onnx_tagger import OnnxTagger
    from slotfill.inference.tagger import SlotTagger

    out = {}
    for name, tagger in (("eager", SlotTagger.load(ckpt, threads=threads)), ("onnx", OnnxTagger.load(ckpt, threads))):
        tagger.predict(sentences[:256])
        t = time.perf_counter()
        tagger.predict(sentences, batch_size=256)
        out[name] = len(sentences) / (time.perf_counter() - t)
    return out


def asgi_latency(ckpt: str, sentences: list[str], threads: int, n: int = 2000) -> dict[str, float]:
    """Median ms of one /model/parse through the ONNX app called directly (no sockets, no client), and of
    the tagger alone on the same sentences: the server's own cost per lone request."""
    import json

    from slotfill.serving.app import create_app
    from slotfill.serving.backend import load_backend

    backend = load_backend(str(Path(ckpt).with_suffix(".onnx")), "onnx", threads)
    app = create_app(backend)

    async def call(body: bytes) -> int:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/model/parse", "raw_path": b"/model/parse", "query_string": b"",
            "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = []

        async def receive() -> dict:
            if messages:
                return messages.pop()
            await asyncio.sleep(3600)  # no disconnect: the request stays open until answered
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    async def run() -> list[float]:
        startup, events = asyncio.Queue(), asyncio.Queue()
        await startup.put({"type": "lifespan.startup"})
        lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, startup.get, events.put))
        await events.get()
        times = []
        for i in range(n + 200):
            body = json.dumps({"text": sentences[i % len(sentences)], "message_id": str(i)}).encode()
            t = time.perf_counter()
            assert await call(body) == 200
            times.append(time.perf_counter() - t)
        lifespan.cancel()
        return times[200:]

    served = asyncio.run(run())
    alone = []
    for i in range(n):
        t = time.perf_counter()
        backend.predict([sentences[i % len(sentences)]])
        alone.append(time.perf_counter() - t)
    return {"app": 1000 * statistics.median(served), "tagger": 1000 * statistics.median(alone)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="model.pt with model.onnx beside it (slotfill export)")
    ap.add_argument("--sentences", default=str(ATIS_TEST), help="one sentence a line (ATIS test seq.in)")
    ap.add_argument("--clients", default="1,8,64")
    ap.add_argument("--seconds", type=float, default=3.0, help="load per cell")
    ap.add_argument("--threads", type=int, default=1, help="model threads of the server")
    # aiohttp by default: httpx's pool is the bottleneck with 64 concurrent connections here (70-109 requests/s
    # against ~1,500; encode/httpx#3215), so its figures measure the client, not the server
    ap.add_argument("--client", choices=("httpx", "aiohttp"), default="aiohttp", help="the load client's library")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of: " + ", ".join(CONFIGS))
    ap.add_argument("--rounds", type=int, default=1, help="the configurations N times in turn, then medians")
    ap.add_argument("--server-only", action="store_true", help="leave out the in-process API and ASGI timings")
    ap.add_argument("--reference", help="also run configurations' servers from this commit (a worktree), in turn")
    ap.add_argument("--reference-configs", help="the configurations run from --reference (default: all of --configs)")
    args = ap.parse_args()
    sides = [("", ROOT)]
    if args.reference:
        from common import worktree

        sides.append((f" @{args.reference}", worktree(args.reference)))
    sentences = [s.strip() for s in Path(args.sentences).read_text().splitlines() if s.strip()]
    clients = [int(c) for c in args.clients.split(",")]
    print(
        f"# serve load: {len(sentences)} sentences, {os.cpu_count()} CPUs,"
        f" {platform.processor() or platform.machine()},"
        f" {args.client} clients, load average before {os.getloadavg()[0]:.2f}"
    )
    print("\n| server | round | clients | requests/s | p50 ms | p99 ms | requests | errors | connections per worker |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    extra, cells_of = [], {}
    on_reference = set((args.reference_configs or args.configs).split(","))
    runs = [(n + side, t) for n in args.configs.split(",") for side, t in sides if not side or n in on_reference]
    for round_ in range(1, args.rounds + 1):
        for name, tree in runs:
            proc, url, cold = start_server(args.ckpt, CONFIGS[name.split(" @")[0]], args.threads, tree)
            try:
                for c in clients:
                    r = asyncio.run(load(url, sentences, c, args.seconds, args.client))
                    cells_of.setdefault((name, c), []).append(r)
                    cells = f"{r['rps']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['n']:,} | {r['errors']}"
                    cells += f" | {r['spread']}"
                    print(f"| {name} | {round_} | {c} | {cells} |", flush=True)
                rss = rss_mb(proc.pid)
                extra.append(f"- {name}, round {round_}: cold start {cold:.2f} s to the first answer, RSS {rss:.0f} MB")
                print(f"<!-- {extra[-1][2:]} -->", file=sys.stderr, flush=True)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    if args.rounds > 1:
        print(f"\nmedians over {args.rounds} rounds (load average after {os.getloadavg()[0]:.2f}):\n")
        print("| server | clients | requests/s | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|---:|")
        for (name, c), results in cells_of.items():
            med = {k: statistics.median(r[k] for r in results) for k in ("rps", "p50", "p99")}
            print(f"| {name} | {c} | {med['rps']:,.0f} | {med['p50']:.1f} | {med['p99']:.1f} |")
    print("\n" + "\n".join(extra))
    failed = sum(r["errors"] for results in cells_of.values() for r in results)
    if failed:  # the figures count answered requests only; a run with refusals is not the server's rate
        raise SystemExit(f"{failed:,} requests were not answered 200: the figures above count only those that were")
    if args.server_only:
        return
    api = in_process(args.ckpt, sentences, args.threads)
    asgi = asgi_latency(args.ckpt, sentences, args.threads)
    print(f"- in-process batched API (batch 256): eager {api['eager']:,.0f} sentences/s, onnx {api['onnx']:,.0f}")
    print(
        f"- one lone /model/parse through the ONNX app itself (no sockets, no client): {asgi['app']:.2f} ms median;"
        f" the tagger alone on the same sentences: {asgi['tagger']:.2f} ms"
    )


if __name__ == "__main__":
    main()
