"""Workqueue semantics (client-go's): dedup, one worker per key, backoff, token bucket, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from hyperkube.client import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ShutDown,
    WorkQueue,
    default_controller_rate_limiter,
)


async def test_deduplicates_waiting_items():
    queue = WorkQueue()
    for key in ("default/a", "default/a", "default/b", "default/a"):
        queue.add(key)
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["default/a", "default/b"]
    assert len(queue) == 0


async def test_item_is_never_processed_by_two_workers_at_once():
    queue = WorkQueue()
    queue.add("k")
    first = await queue.get()
    queue.add("k")  # a new event while a worker holds the key: marked dirty, not queued
    queue.add("k")
    assert len(queue) == 0
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not second.done()
    queue.done(first)  # now, and only now, it goes back (once)
    assert await second == "k"
    assert len(queue) == 0
    queue.done("k")
    assert len(queue) == 0  # processed once more, nothing dirty left


async def test_concurrent_workers_see_each_key_alone():
    queue = WorkQueue()
    active: set[str] = set()
    overlaps = []
    processed = []
    enough = asyncio.Event()

    async def worker() -> None:
        async for key in queue:
            if key in active:
                overlaps.append(key)
            active.add(key)
            await asyncio.sleep(0)
            if len(processed) < 30:
                queue.add(key)  # churn: events keep arriving for the key being synced
            await asyncio.sleep(0)
            active.discard(key)
            processed.append(key)
            if len(processed) >= 30:
                enough.set()
            queue.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for key in ("a", "b", "c", "a", "b", "c"):
        queue.add(key)
    await enough.wait()
    queue.shutdown()  # workers drain what is queued, then stop
    await asyncio.gather(*workers)
    assert overlaps == []
    assert set(processed) == {"a", "b", "c"}


async def test_shutdown_wakes_workers_and_drains():
    queue = WorkQueue()
    idle = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.shutdown()
    with pytest.raises(ShutDown):
        await idle
    queue.add("late")  # ignored after shutdown
    assert len(queue) == 0

    queue = WorkQueue()
    queue.add("x")
    queue.add("y")
    item = await queue.get()
    queue.shutdown()
    assert await queue.get() == "y"  # already queued items are still handed out
    drain = asyncio.create_task(queue.shutdown_with_drain())
    await asyncio.sleep(0)
    assert not drain.done()
    queue.done(item)
    queue.done("y")
    await drain
    assert [i async for i in queue] == []


def test_per_item_exponential_backoff():
    limiter = ItemExponentialFailureRateLimiter()
    assert [limiter.when("a") for _ in range(4)] == [0.005, 0.01, 0.02, 0.04]
    assert limiter.when("b") == 0.005
    assert limiter.num_requeues("a") == 4
    for _ in range(100):
        last = limiter.when("a")
    assert last == 1000.0
    limiter.forget("a")
    assert limiter.when("a") == 0.005 and limiter.num_requeues("b") == 1


def test_token_bucket_allows_a_burst_then_qps():
    now = [0.0]
    bucket = BucketRateLimiter(qps=10, burst=100, clock=lambda: now[0])
    assert all(bucket.when(i) == 0.0 for i in range(100))
    assert bucket.when("x") == pytest.approx(0.1)
    assert bucket.when("y") == pytest.approx(0.2)
    now[0] += 1.0  # ten tokens refill, two were already promised
    assert all(bucket.when(i) == 0.0 for i in range(8))
    assert bucket.when("z") == pytest.approx(0.1)


def test_default_limiter_is_the_max_of_both():
    limiter = default_controller_rate_limiter()
    assert limiter.when("a") == 0.005
    for _ in range(200):  # exhaust the burst with other keys
        limiter.when(object())
    assert limiter.when("b") > 5.0  # the bucket now dominates the fresh key's 5 ms
    assert limiter.num_requeues("a") == 1
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


async def test_add_after_and_rate_limited_requeue():
    queue = WorkQueue()
    queue.add_after("now", 0)
    assert len(queue) == 1
    queue.add_after("later", 3600)
    assert len(queue) == 1
    queue.add_after("later", 0.001)  # an earlier deadline replaces the pending one
    assert await queue.get() == "now"
    assert await queue.get() == "later"
    queue.done("later")

    queue.add_rate_limited("flaky")  # 5 ms on the first failure
    assert len(queue) == 0 and queue.num_requeues("flaky") == 1
    assert await queue.get() == "flaky"
    queue.done("flaky")
    queue.forget("flaky")
    assert queue.num_requeues("flaky") == 0

    queue.add_after("never", 3600)
    queue.shutdown()  # pending timers are dropped
    with pytest.raises(ShutDown):
        await queue.get()
