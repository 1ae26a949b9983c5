"""The micro-batcher on its own: batches, isolation of a bad item, a full queue, shutdown."""

from __future__ import annotations

import asyncio
import threading

import pytest
from linernotes_serve.batching import MicroBatcher, QueueFull, ShuttingDown


def test_gathers_up_to_max_batch_and_answers_each():
    sizes = []

    def run(items):
        sizes.append(len(items))
        return [item * 10 for item in items]

    async def main():
        batcher = MicroBatcher(run, max_batch=3, max_wait_ms=200, queue_size=16)
        await batcher.start()
        outputs = await asyncio.gather(*(batcher.enqueue(n) for n in range(7)))
        await batcher.stop()
        return outputs

    assert asyncio.run(main()) == [n * 10 for n in range(7)]
    assert sizes == [3, 3, 1]


def test_a_bad_item_fails_alone():
    def run(items):
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]

    async def main():
        batcher = MicroBatcher(run, max_batch=4, max_wait_ms=100)
        await batcher.start()
        outputs = await asyncio.gather(
            *(batcher.enqueue(x) for x in ("a", "bad", "c")), return_exceptions=True
        )
        await batcher.stop()
        return outputs

    a, bad, c = asyncio.run(main())
    assert (a, c) == ("A", "C")
    assert isinstance(bad, ValueError)


def held():
    """A ``run`` that signals ``entered``, then holds each batch until ``gate`` is set."""
    entered, gate = threading.Event(), threading.Event()

    def run(items):
        entered.set()
        gate.wait(10)
        return items

    return run, entered, gate


def test_a_full_queue_refuses_at_once():
    run, entered, gate = held()

    async def main():
        batcher = MicroBatcher(run, max_batch=1, max_wait_ms=0, queue_size=1)
        await batcher.start()
        first = batcher.enqueue(1)
        await asyncio.to_thread(entered.wait, 10)  # the worker holds 1
        second = batcher.enqueue(2)
        await asyncio.sleep(0)
        assert batcher.depth() == 1
        with pytest.raises(QueueFull):
            batcher.enqueue(3)
        gate.set()
        assert (await first, await second) == (1, 2)
        await batcher.stop()

    asyncio.run(main())


def test_a_submission_whose_caller_left_gives_up_its_place():
    run, entered, gate = held()

    async def main():
        batcher = MicroBatcher(run, max_batch=1, max_wait_ms=0, queue_size=1)
        await batcher.start()
        first = batcher.enqueue(1)
        await asyncio.to_thread(entered.wait, 10)  # the worker holds 1
        batcher.enqueue(2).cancel()  # its caller left (e.g. served the fallback)
        third = batcher.enqueue(3)  # takes the place of 2
        with pytest.raises(QueueFull):
            batcher.enqueue(4)
        gate.set()
        assert (await first, await third) == (1, 3)
        await batcher.stop()

    asyncio.run(main())


def test_stop_runs_what_waits_then_refuses():
    gate = threading.Event()

    def run(items):
        gate.wait(10)
        return items

    async def main():
        batcher = MicroBatcher(run, max_batch=1, max_wait_ms=0, queue_size=4)
        await batcher.start()
        waiting = [batcher.enqueue(n) for n in range(3)]
        await asyncio.sleep(0.05)
        stopping = asyncio.ensure_future(batcher.stop())
        await asyncio.sleep(0.05)
        assert not batcher.running
        with pytest.raises(ShuttingDown):
            batcher.enqueue(9)
        gate.set()
        await stopping
        assert [await w for w in waiting] == [0, 1, 2]

    asyncio.run(main())


def test_stop_gives_up_after_its_timeout():
    gate = threading.Event()

    async def main():
        batcher = MicroBatcher(lambda items: gate.wait(10) and items, max_batch=1)
        await batcher.start()
        held = batcher.enqueue(1)
        await asyncio.sleep(0.05)
        await batcher.stop(timeout=0.1)
        with pytest.raises(ShuttingDown):
            await held
        gate.set()

    asyncio.run(main())


def test_rejects_bad_settings():
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(lambda items: items, max_batch=0)
