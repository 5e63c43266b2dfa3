"""Dynamic micro-batching: concurrent requests are tagged together in one call of the model.

Each request puts its texts on an asyncio queue and awaits a future. One consumer task takes
the first waiting request, gathers more for at most ``max_wait_ms`` (or until ``max_batch``
texts), runs the tagger on all of them in a worker thread (the event loop keeps accepting
requests meanwhile) and hands every request its own slice of the results.

The wait is adaptive: with ``in_flight`` (how many requests the server is handling now), the
consumer waits only while some of them have not reached the queue yet, so a lone client pays no
wait at all, and requests that queued while the model was busy are taken without waiting. A lone
sentence while the model is idle (and, with ``clients``, no other client posted lately) is tagged
on the event loop itself, with no hand-off at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from slotfill.core.settings import whole_number

TagFn = Callable[[list[str]], list[dict]]
MAX_WAIT_MS = 5.0  # an upper bound on the added latency a request may pay for batching


class MicroBatcher:
    """Gathers texts from concurrent :meth:`submit` calls into batches of at most ``max_batch``."""

    def __init__(
        self,
        fn: TagFn,
        max_batch: int = 64,
        max_wait_ms: float = 2.0,
        in_flight: Callable[[], int] | None = None,
        clients: Callable[[], int] | None = None,
    ) -> None:
        whole_number(max_batch, "batching.max_batch")
        if not 0 <= max_wait_ms <= MAX_WAIT_MS:
            raise ValueError(f"batching.max_wait_ms={max_wait_ms!r}: must be between 0 and {MAX_WAIT_MS}")
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.in_flight = in_flight
        self.clients = clients  # distinct clients that posted lately (the server's other callers)
        # one thread: the model runs one batch at a time, off the event loop
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slotfill-model")
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._busy = 0  # calls on the model thread now
        self.batches = 0  # counters for /health and tests
        self.texts = 0

    @property
    def enabled(self) -> bool:
        return self.max_batch > 1

    async def run(self, fn: Callable, *args):
        """Run ``fn(*args)`` on the model thread (for requests that are batches already)."""
        loop = asyncio.get_running_loop()
        self._busy += 1
        job = self.executor.submit(fn, *args)
        # counted until the thread is done, even when the request awaiting it is cancelled
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(self._finished))
        return await asyncio.wrap_future(job)

    def count(self, texts: Sequence) -> None:
        """Count one call of the model on ``texts`` (for /health)."""
        self.batches += 1
        self.texts += len(texts)

    def _finished(self) -> None:
        self._busy -= 1

    async def start(self) -> None:
        if self.enabled and self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._consume())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.executor.shutdown(wait=False)

    async def submit(self, texts: Sequence[str]) -> list[dict]:
        """Results for ``texts``, tagged together with whatever else arrives within the wait."""
        texts = list(texts)
        lone = self.in_flight is not None and self.in_flight() <= 1 and not self._busy
        # under load only one request is ever inside the app while each is tagged inline, so
        # in_flight alone would keep every request on this path: no batch would ever form
        lone = lone and (self.clients is None or self.clients() <= 1)
        if lone and len(texts) == 1 and (self._queue is None or self._queue.empty()):
            # a lone sentence on an idle model: tagged on the event loop itself, which has nothing
            # else to do (the hand-off to the model thread cost a fifth of a request's time); a batch
            # goes to the model thread, so that /health and other connections are answered meanwhile
            self.count(texts)
            return self.fn(texts)
        if not self.enabled or self._queue is None:
            self.count(texts)
            return await self.run(self.fn, texts)
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, future))
        return await future

    async def _gather(self) -> list[tuple[list[str], asyncio.Future]]:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        size = len(batch[0][0])
        deadline = loop.time() + self.max_wait
        while size < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                left = deadline - loop.time()
                if left <= 0 or (self.in_flight is not None and self.in_flight() <= len(batch)):
                    break  # out of time, or no other request is on its way
                try:
                    item = await asyncio.wait_for(self._queue.get(), left)
                except asyncio.TimeoutError:
                    break
            batch.append(item)
            size += len(item[0])
        return batch

    async def _consume(self) -> None:
        while True:
            batch = await self._gather()
            texts = [t for item, _ in batch for t in item]
            self.count(texts)
            try:
                results = await self.run(self.fn, texts)
            except Exception as e:  # the requests see the error; the consumer keeps serving
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            start = 0
            for item, future in batch:
                if not future.done():  # a client that went away cancelled its future
                    future.set_result(results[start : start + len(item)])
                start += len(item)
