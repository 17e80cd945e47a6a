"""The scheduling queue on its own, with a hand-driven clock."""

from __future__ import annotations

import asyncio

from hyperkube.scheduler.queue import SchedulingQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_priority_first_then_creation_time():
    queue = SchedulingQueue(clock=Clock())
    queue.add("ns/late-low", 0, "2024-01-01T00:00:02Z")
    queue.add("ns/early-low", 0, "2024-01-01T00:00:01Z")
    queue.add("ns/high", 100, "2024-01-01T00:00:09Z")
    assert [queue.pop_nowait() for _ in range(3)] == ["ns/high", "ns/early-low", "ns/late-low"]
    assert queue.pop_nowait() is None


def test_unschedulable_pods_wait_for_a_cluster_change_then_back_off():
    clock = Clock()
    queue = SchedulingQueue(clock=clock, backoff_initial=1.0, backoff_max=10.0, flush_after=60.0)
    queue.add("ns/p", 0, "t")
    assert queue.pop_nowait() == "ns/p"
    queue.unschedulable("ns/p")
    assert queue.unschedulable_count == 1
    clock.now += 5
    assert queue.pop_nowait() is None  # nothing changed: it stays parked
    queue.move_all_to_active()
    assert queue.pop_nowait() == "ns/p"  # its 1 s backoff has passed
    queue.unschedulable("ns/p")
    queue.move_all_to_active()
    assert queue.backoff_count == 1  # second failure: 2 s of backoff
    clock.now += 1.9
    assert queue.pop_nowait() is None
    clock.now += 0.2
    assert queue.pop_nowait() == "ns/p"


def test_backoff_doubles_from_one_second_up_to_ten():
    clock = Clock()
    queue = SchedulingQueue(clock=clock, backoff_initial=1.0, backoff_max=10.0)
    queue.add("ns/p", 0, "t")
    seen = []
    assert queue.pop_nowait() == "ns/p"
    for _ in range(6):
        queue.retry("ns/p")  # each attempt fails again
        start = clock.now
        while queue.pop_nowait() is None:
            clock.now += 0.25
        seen.append(clock.now - start)
    assert seen == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_parked_pods_are_retried_after_the_flush_interval():
    clock = Clock()
    queue = SchedulingQueue(clock=clock, flush_after=60.0)
    queue.add("ns/p", 0, "t")
    queue.pop_nowait()
    queue.unschedulable("ns/p")
    clock.now += 59
    assert queue.pop_nowait() is None
    clock.now += 2
    assert queue.pop_nowait() == "ns/p"


def test_a_change_during_the_attempt_is_not_lost():
    queue = SchedulingQueue(clock=Clock())
    queue.add("ns/p", 0, "t")
    assert queue.pop_nowait() == "ns/p"
    queue.move_all_to_active()  # a node arrived while the pod was being tried
    queue.unschedulable("ns/p")
    assert queue.unschedulable_count == 0
    assert queue.backoff_count == 1


def test_deleted_pods_leave_every_place():
    queue = SchedulingQueue(clock=Clock())
    for name in ("a", "b", "c"):
        queue.add(f"ns/{name}", 0, name)
    queue.pop_nowait()
    queue.unschedulable("ns/a")
    queue.delete("ns/a")
    queue.delete("ns/b")
    assert queue.pop_nowait() == "ns/c"
    queue.move_all_to_active()
    assert queue.pop_nowait() is None
    assert len(queue) == 1  # c is in flight until it is bound (deleted) or requeued


async def test_pop_waits_for_a_pod():
    queue = SchedulingQueue()
    waiter = asyncio.ensure_future(queue.pop())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    queue.add("ns/p", 0, "t")
    assert await asyncio.wait_for(waiter, 5) == "ns/p"


def test_pods_flushed_from_the_parked_set_into_backoff_are_not_forgotten():
    clock = Clock()
    queue = SchedulingQueue(clock=clock, backoff_initial=10.0, backoff_max=10.0, flush_after=5.0)
    queue.add("ns/p", 0, "t")
    queue.pop_nowait()
    queue.unschedulable("ns/p")  # backoff until +10, flushed from the parked set at +5
    clock.now += 6
    assert queue.pop_nowait() is None
    assert queue.backoff_count == 1
    clock.now += 4.5
    assert queue.pop_nowait() == "ns/p"
