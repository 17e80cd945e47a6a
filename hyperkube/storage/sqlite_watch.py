"""Watch fan-out of the SQLite store, on the event loop.

Every committed revision reaches :meth:`WatchHub.deliver` exactly once and in order (the
writer and the poller post through one :class:`~.sqlite_writer.Delivery`). A watcher
registers with the hub when it is created and remembers the hub's revision at that moment
(``upto``): every later revision will be offered to it live; the revisions from its start
revision up to ``upto`` it reads from the log on a reader thread before yielding anything
live. So a watcher sees each revision once, in order, whether it starts in the past, now or
in the future. A consumer that falls more than ``MAX_PENDING`` responses behind goes back to
reading the log (from its first undelivered revision up to the hub's), so memory stays
bounded and nothing is lost, unless compaction overtakes it (then CompactedError, as etcd).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Callable

from .interface import Event, StorageError, WatchResponse
from .sqlite_reads import KeyMatcher

HistoryReader = Callable[[int, int, KeyMatcher], Awaitable[list[tuple[int, list[Event]]]]]
HISTORY_CHUNK = 5000  # revisions read from the log per step of a catch-up
MAX_PENDING = 1000  # responses queued for a slow consumer before it falls back to the log


class WatchHub:
    def __init__(self, revision: int) -> None:
        self.revision = revision
        # weak: a watch its consumer dropped without aclose() (a cancelled task abandoning
        # its ``async for``) must not stay registered and keep filtering events forever
        self.watchers: weakref.WeakSet[SQLiteWatch] = weakref.WeakSet()

    def deliver(self, batches: list[tuple[int, list[Event]]]) -> None:
        for revision, _events in batches:
            if revision > self.revision:
                self.revision = revision
        for watcher in list(self.watchers):
            watcher.offer(batches, self.revision)

    def close(self) -> None:
        for watcher in list(self.watchers):
            watcher.close()


class SQLiteWatch:
    """The async iterator :meth:`SQLiteStore.watch` returns; ``aclose()`` cancels it."""

    def __init__(self, hub: WatchHub, read_history: HistoryReader, key: str, range_end: str | None,
                 start_revision: int, prev_kv: bool, progress_interval: float | None) -> None:
        self.hub = hub
        self.read_history = read_history
        self.matcher = KeyMatcher(key, range_end)
        self.prev_kv = prev_kv
        self.progress_interval = progress_interval
        self.upto = hub.revision
        self.start = start_revision if start_revision > 0 else self.upto + 1
        self.history_from: int | None = self.start if self.start <= self.upto else None
        self.pending: deque[WatchResponse] = deque()
        self.wakeup = asyncio.Event()
        self.closed = False
        self.error: StorageError | None = None
        hub.watchers.add(self)

    def _select(self, batches: list[tuple[int, list[Event]]]) -> list[Event]:
        selected: list[Event] = []
        matcher, start, prev_kv = self.matcher, self.start, self.prev_kv
        for revision, events in batches:
            if revision < start:
                continue
            for event in events:
                if matcher(event.kv.key):
                    if not prev_kv and event.prev_kv is not None:
                        event = Event(event.type, event.kv)
                    selected.append(event)
        return selected

    def offer(self, batches: list[tuple[int, list[Event]]], header: int) -> None:
        if batches and batches[0][0] <= self.upto:  # the log read covers these
            batches = [b for b in batches if b[0] > self.upto]
        events = self._select(batches)
        if not events:
            return
        if len(self.pending) >= MAX_PENDING:
            self._fall_behind(header)
            return
        self.pending.append(WatchResponse(header, events))
        self.wakeup.set()

    def _fall_behind(self, header: int) -> None:
        """A consumer too slow for the live stream: drop what is queued and read it from the
        log later, as a watch from the past does, instead of queueing without limit."""
        if self.history_from is None:
            self.history_from = self.pending[0].events[0].kv.mod_revision
        self.upto = header
        self.pending.clear()
        self.wakeup.set()

    def close(self) -> None:
        self.closed = True
        self.hub.watchers.discard(self)
        self.wakeup.set()

    def __aiter__(self) -> SQLiteWatch:
        return self

    async def aclose(self) -> None:
        self.close()

    async def __anext__(self) -> WatchResponse:
        while self.history_from is not None:
            start = self.history_from
            end = min(start + HISTORY_CHUNK - 1, self.upto)
            try:
                batches = await self.read_history(start - 1, end, self.matcher)
            except StorageError:
                self.close()
                raise
            self.history_from = end + 1 if end < self.upto else None
            events = self._select(batches)
            if events:
                return WatchResponse(self.upto, events)
        while not self.pending:
            if self.closed:
                raise StopAsyncIteration
            self.wakeup.clear()
            if self.progress_interval is None:
                await self.wakeup.wait()
                continue
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
                # arrives as the event fires, leaving the watcher's task running forever.
                async with asyncio.timeout(self.progress_interval):
                    await self.wakeup.wait()
            except TimeoutError:
                if not self.pending and not self.closed:
                    return WatchResponse(self.hub.revision, [], progress=True)
        if len(self.pending) == 1:
            return self.pending.popleft()
        events: list[Event] = []
        header = 0
        while self.pending:
            response = self.pending.popleft()
            events.extend(response.events)
            header = response.revision
        return WatchResponse(header, events)
