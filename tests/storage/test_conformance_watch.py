"""Conformance: watch (key, prefix, history, prev_kv, ordering, progress, compaction)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from hyperkube.storage import (
    CompactedError,
    DeleteRequest,
    Event,
    PutRequest,
    Store,
    WatchResponse,
    prefix_end,
)

WAIT = 20.0  # generous bound for an event to arrive; a hang is a failure, not a measurement


async def collect(watch: AsyncIterator[WatchResponse], count: int) -> list[Event]:
    """The next ``count`` events of ``watch`` (progress notifications are skipped)."""
    events: list[Event] = []

    async def run() -> None:
        while len(events) < count:
            response = await anext(watch)
            events.extend(response.events)

    await asyncio.wait_for(run(), WAIT)
    return events


async def test_watch_key_from_a_past_revision(store: Store) -> None:
    await store.put(PutRequest("/w", b"1"))  # 2
    await store.put(PutRequest("/other", b"x"))  # 3
    await store.put(PutRequest("/w", b"2"))  # 4
    await store.delete_range(DeleteRequest("/w"))  # 5
    watch = store.watch("/w", start_revision=2)
    async with contextlib.aclosing(watch):
        events = await collect(watch, 3)
        assert [(e.type, e.kv.key, e.kv.value, e.kv.mod_revision) for e in events] == [
            ("PUT", "/w", b"1", 2), ("PUT", "/w", b"2", 4), ("DELETE", "/w", b"", 5)]
        assert all(e.prev_kv is None for e in events)
        await store.put(PutRequest("/w", b"3"))  # 6, live after the history
        live = await collect(watch, 1)
        assert (live[0].kv.value, live[0].kv.mod_revision, live[0].kv.version) == (b"3", 6, 1)


async def test_watch_prefix_live_with_prev_kv(store: Store) -> None:
    await store.put(PutRequest("/pods/a", b"1"))  # 2
    watch = store.watch("/pods/", prefix_end("/pods/"), start_revision=3, prev_kv=True)
    async with contextlib.aclosing(watch):
        await store.put(PutRequest("/pods/a", b"2"))  # 3
        await store.put(PutRequest("/podsx", b"not in prefix"))  # 4
        await store.txn([], [PutRequest("/pods/b", b"1"), DeleteRequest("/pods/a")])  # 5
        events = await collect(watch, 3)
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in events] == [
        ("PUT", "/pods/a", 3), ("PUT", "/pods/b", 5), ("DELETE", "/pods/a", 5)]
    assert events[0].prev_kv is not None and events[0].prev_kv.value == b"1"
    assert events[1].prev_kv is None
    assert events[2].prev_kv is not None and events[2].prev_kv.value == b"2"
    assert events[2].prev_kv.mod_revision == 3


async def test_watch_from_a_future_revision(store: Store) -> None:
    watch = store.watch("/f/", prefix_end("/f/"), start_revision=4)
    async with contextlib.aclosing(watch):
        for i in range(4):
            await store.put(PutRequest(f"/f/{i}", b"x"))  # 2..5
        events = await collect(watch, 2)
    assert [e.kv.mod_revision for e in events] == [4, 5]


async def test_watch_under_concurrent_writers_is_ordered_without_gaps_or_duplicates(store: Store) -> None:
    writers, per_writer = 8, 40
    start = await store.current_revision() + 1
    watch = store.watch("/cw/", prefix_end("/cw/"), start_revision=start)
    late_watch = None
    async with contextlib.aclosing(watch):

        async def writer(n: int) -> None:
            for i in range(per_writer):
                if i % 3 == 2:
                    await store.delete_range(DeleteRequest(f"/cw/{n}/{i - 1}"))
                else:
                    await store.put(PutRequest(f"/cw/{n}/{i}", b"x"))

        await asyncio.gather(*(writer(n) for n in range(writers)))
        total = writers * per_writer
        events = await collect(watch, total)
        late_watch = store.watch("/cw/", prefix_end("/cw/"), start_revision=start)
        async with contextlib.aclosing(late_watch):
            replay = await collect(late_watch, total)
    revisions = [e.kv.mod_revision for e in events]
    assert revisions == list(range(start, start + total))
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in replay] == [
        (e.type, e.kv.key, e.kv.mod_revision) for e in events]


async def test_progress_notification(store: Store) -> None:
    await store.put(PutRequest("/quiet", b"1"))
    watch = store.watch("/quiet", start_revision=3, progress_notify=True)
    async with contextlib.aclosing(watch):
        response = await asyncio.wait_for(anext(watch), 60)
    assert response.progress and response.events == [] and response.revision >= 2


async def test_watch_at_a_compacted_revision(store: Store) -> None:
    for i in range(5):
        await store.put(PutRequest("/cp", str(i).encode()))  # 2..6
    await store.compact(5)
    watch = store.watch("/cp", start_revision=3)
    with pytest.raises(CompactedError):
        await asyncio.wait_for(anext(watch), WAIT)
    await watch.aclose()  # type: ignore[attr-defined]
    at_compaction = store.watch("/cp", start_revision=5)  # the compact revision itself is kept
    async with contextlib.aclosing(at_compaction):  # type: ignore[type-var]
        events = await collect(at_compaction, 2)
    assert [(e.kv.mod_revision, e.kv.value) for e in events] == [(5, b"3"), (6, b"4")]


async def test_a_slow_consumer_still_gets_every_event_in_order(store: Store) -> None:
    start = await store.current_revision() + 1
    watch = store.watch("/slow/", prefix_end("/slow/"), start_revision=start, prev_kv=True)
    async with contextlib.aclosing(watch):
        first = await asyncio.gather(store.put(PutRequest("/slow/first", b"0")), collect(watch, 1))
        assert first[1][0].kv.mod_revision == start
        for i in range(2500):  # nobody reads the watch meanwhile
            await store.put(PutRequest(f"/slow/{i % 50}", str(i).encode()))
        events = await collect(watch, 2500)
    assert [e.kv.mod_revision for e in events] == list(range(start + 1, start + 2501))
    assert [e.kv.value for e in events] == [str(i).encode() for i in range(2500)]
    assert all((e.prev_kv is None) == (i < 50) for i, e in enumerate(events))
