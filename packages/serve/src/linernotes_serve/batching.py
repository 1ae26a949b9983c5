"""Micro-batching: concurrent requests gathered into one batch for one worker.

Submissions wait on a bounded asyncio queue. One worker takes the first
waiting item, gathers more until it holds ``max_batch`` or ``max_wait_ms`` have
passed, and runs them as one call in a thread, off the event loop. A full
queue refuses new work at once (:class:`QueueFull`) instead of growing a backlog.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

_STOP = object()
"""Put on the queue by :meth:`MicroBatcher.stop`: the worker ends after the batch before it."""


class QueueFull(Exception):
    """The batch queue is full; the caller should retry later."""


class ShuttingDown(Exception):
    """The batcher stopped before the submission was run."""


class MicroBatcher:
    """Runs ``run(items) -> outputs`` (one output per item, in order) on batches of submissions.

    If a batch fails, each of its items is run alone, so one bad item fails
    only its own submission.
    """

    def __init__(
        self,
        run: Callable[[list[Any]], Sequence[Any]],
        max_batch: int = 8,
        max_wait_ms: float = 10.0,
        queue_size: int = 64,
    ):
        if max_batch < 1 or queue_size < 1 or max_wait_ms < 0:
            raise ValueError("max_batch and queue_size must be at least 1, max_wait_ms >= 0")
        self.run = run
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.queue_size = queue_size
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._closing = False
        self._batch: list[tuple[Any, asyncio.Future]] = []  # the batch being run

    @property
    def running(self) -> bool:
        """Whether the worker is running and takes submissions."""
        return self._worker is not None and not self._worker.done() and not self._closing

    def depth(self) -> int:
        """Submissions waiting for the worker."""
        return self._queue.qsize() if self._queue is not None else 0

    async def start(self) -> None:
        """Start the worker on the running event loop."""
        self._queue = asyncio.Queue(self.queue_size)
        self._closing = False
        self._worker = asyncio.create_task(self._work(), name="linernotes-batcher")

    async def stop(self, timeout: float = 30.0) -> None:
        """Refuse new submissions, run the waiting ones (for at most ``timeout`` seconds),
        then stop the worker; submissions still unanswered fail with :class:`ShuttingDown`."""
        if self._worker is None:
            return
        self._closing = True
        try:
            async with asyncio.timeout(timeout):
                await self._queue.put(_STOP)
                await self._worker
        except TimeoutError:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        left = list(self._batch)
        while not self._queue.empty():
            left.append(self._queue.get_nowait())
        for entry in left:
            if entry is not _STOP and not entry[1].done():
                entry[1].set_exception(ShuttingDown("the server is shutting down"))

    def enqueue(self, item: Any) -> asyncio.Future:
        """Queue ``item``; the future gets its output (or exception). Raises
        :class:`QueueFull` at once if the queue is full, :class:`ShuttingDown` if stopped."""
        if not self.running:
            raise ShuttingDown("the server is not taking requests")
        future = asyncio.get_running_loop().create_future()
        if self._queue.full():
            self._purge()
        try:
            self._queue.put_nowait((item, future))
        except asyncio.QueueFull:
            raise QueueFull(f"{self.queue_size} requests are waiting already") from None
        return future

    def _purge(self) -> None:
        """Drop the waiting submissions whose callers no longer wait (their futures are done,
        e.g. cancelled), so that they hold no place in the queue."""
        waiting = [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        for entry in waiting:
            if entry is _STOP or not entry[1].done():
                self._queue.put_nowait(entry)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            entry = await self._queue.get()
            if entry is _STOP:
                return
            self._batch = [entry]
            deadline = loop.time() + self.max_wait
            while len(self._batch) < self.max_batch:
                if self._queue.empty():
                    try:
                        async with asyncio.timeout(max(deadline - loop.time(), 0)):
                            entry = await self._queue.get()
                    except TimeoutError:
                        break
                else:
                    entry = self._queue.get_nowait()
                if entry is _STOP:
                    stopping = True
                    break
                self._batch.append(entry)
            live = [(item, f) for item, f in self._batch if not f.done()]  # callers that left
            if live:
                outputs = await asyncio.to_thread(self._run_batch, [item for item, _ in live])
                for (_, future), output in zip(live, outputs, strict=True):
                    if future.done():
                        continue
                    if isinstance(output, Exception):
                        future.set_exception(output)
                    else:
                        future.set_result(output)
            self._batch = []

    def _run_batch(self, items: list[Any]) -> list[Any]:
        """The outputs of ``items``, or each item's exception if the batch fails."""
        try:
            return list(self.run(items))
        except Exception as e:
            if len(items) == 1:
                return [e]
        outputs: list[Any] = []
        for item in items:
            try:
                outputs.extend(self.run([item]))
            except Exception as e:
                outputs.append(e)
        return outputs
