"""serving/batcher.py: concurrent submissions are tagged together, bounded in size and wait."""

import asyncio

import pytest

from slotfill.errors import ConfigError
from slotfill.serving.batcher import MicroBatcher


def _fake():
    calls = []

    def fn(texts):
        calls.append(list(texts))
        return [{"text": t} for t in texts]

    return fn, calls


async def _many(batcher, n):
    await batcher.start()
    try:
        return await asyncio.gather(*(batcher.submit([f"s{i}"]) for i in range(n)))
    finally:
        await batcher.stop()


def test_concurrent_requests_share_a_batch_and_get_their_own_results():
    fn, calls = _fake()
    results = asyncio.run(_many(MicroBatcher(fn, max_batch=64, max_wait_ms=5), 20))
    assert [r[0]["text"] for r in results] == [f"s{i}" for i in range(20)]
    assert len(calls) < 20 and sum(len(c) for c in calls) == 20


def test_a_lone_request_does_not_wait():
    import time

    fn, calls = _fake()

    async def one():
        b = MicroBatcher(fn, max_batch=64, max_wait_ms=5, in_flight=lambda: 1)
        await b.start()
        try:
            t = time.perf_counter()
            await b.submit(["a"])
            return time.perf_counter() - t
        finally:
            await b.stop()

    assert asyncio.run(one()) < 0.5 and calls == [["a"]]


@pytest.mark.slow  # ~0.7-1.1 s
def test_a_lone_request_on_an_idle_model_is_tagged_on_the_event_loop():
    import threading

    threads = []

    def fn(texts):
        threads.append(threading.current_thread())
        return [{"text": t} for t in texts]

    async def run(in_flight, clients=None):
        b = MicroBatcher(fn, max_batch=64, max_wait_ms=5, in_flight=lambda: in_flight, clients=clients)
        await b.start()
        try:
            await b.submit(["a"])
            slow = asyncio.create_task(b.run(lambda: __import__("time").sleep(0.2)))
            await asyncio.sleep(0.05)  # the model thread is busy now: the next request must wait for it
            await b.submit(["b"])
            await slow
            await b.submit(["c"])  # idle again
            await b.submit(["d", "e"])  # a batch: on the model thread, the event loop answers meanwhile
        finally:
            await b.stop()

    asyncio.run(run(1))
    main = threading.main_thread()
    assert [t is main for t in threads] == [True, False, True, False]
    threads.clear()
    asyncio.run(run(2))  # another request in flight: every text goes to the model thread
    assert not any(t is main for t in threads)
    threads.clear()
    # the only request inside the app, but other clients posted lately: their requests wait in
    # their sockets while this one is tagged, so it is queued for a batch, not tagged inline
    asyncio.run(run(1, clients=lambda: 5))
    assert not any(t is main for t in threads)
    threads.clear()
    asyncio.run(run(1, clients=lambda: 1))
    assert [t is main for t in threads] == [True, False, True, False]


def test_batches_are_bounded():
    fn, calls = _fake()
    asyncio.run(_many(MicroBatcher(fn, max_batch=4, max_wait_ms=5), 10))
    assert max(len(c) for c in calls) <= 4 and sum(len(c) for c in calls) == 10


def test_batching_off_tags_each_request_alone():
    fn, calls = _fake()
    asyncio.run(_many(MicroBatcher(fn, max_batch=1), 5))
    assert [len(c) for c in calls] == [1] * 5


def test_an_error_reaches_the_requests_and_the_consumer_goes_on():
    state = {"fail": True}

    def fn(texts):
        if state.pop("fail", False):
            raise RuntimeError("boom")
        return [{"text": t} for t in texts]

    async def scenario():
        b = MicroBatcher(fn, max_batch=8, max_wait_ms=0)
        await b.start()
        try:
            with pytest.raises(RuntimeError):
                await b.submit(["a"])
            return await b.submit(["b"])
        finally:
            await b.stop()

    assert asyncio.run(scenario()) == [{"text": "b"}]


@pytest.mark.parametrize("kw", [{"max_batch": 0}, {"max_wait_ms": 6}, {"max_wait_ms": -1}, {"max_batch": 2.5}])
def test_bad_settings(kw):
    with pytest.raises((ValueError, ConfigError)):
        MicroBatcher(lambda t: t, **kw)
