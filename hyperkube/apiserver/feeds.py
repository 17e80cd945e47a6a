"""Fan one store watch per resource out to many HTTP watchers.

A :class:`Feed` owns the single store watch of one key prefix (``/registry/pods/``), turns
each store event into a :class:`Change` (decoded lazily, at most once, and shared read-only
by every watcher) and keeps a short history so a watcher that starts from a recent
resourceVersion is served from memory. Watchers are :class:`Subscription` queues; a
watcher that asks for a revision older than the history gets its own store watch
(:meth:`Hub.subscribe` hides the difference), and that one raises 410 when the store has
compacted it.

Every API server process has its own feeds over the shared store, so watchers on any of
several servers see every write, in revision order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from hyperkube.apiserver import bodies
from hyperkube.machinery import errors
from hyperkube.storage.interface import (
    CompactedError,
    Event,
    KeyValue,
    RangeRequest,
    StorageError,
    Store,
    prefix_end,
)

log = logging.getLogger("hyperkube.apiserver.watch")

HISTORY = 4096  # changes kept per feed for watchers resuming from a recent resourceVersion
MAX_PENDING = 50_000  # a watcher this far behind is cut off (Kubernetes closes slow watchers too)


class Change:
    """One store event, decoded on demand; never mutate what :meth:`obj`/:meth:`old` return."""

    __slots__ = ("revision", "type", "key", "value", "prev_value", "kv", "_obj", "_old", "lines")

    def __init__(self, event: Event) -> None:
        self.kv = event.kv
        self.revision = event.kv.mod_revision
        self.type = event.type
        self.key = event.kv.key
        self.value = event.kv.value if event.type == "PUT" else None
        self.prev_value = event.prev_kv.value if event.prev_kv is not None else None
        self._obj: Any = None
        self._old: Any = None
        self.lines: dict[Any, bytes] = {}  # encoded watch lines, per output format

    def obj(self) -> dict[str, Any] | None:
        """The new object (None for a delete), with resourceVersion set."""
        if self._obj is None and self.value is not None:
            self._obj = _decode(self.value, self.revision)
        return self._obj

    def old(self) -> dict[str, Any] | None:
        """The previous object; for a delete, its last state at the deleting revision."""
        if self._old is None and self.prev_value is not None:
            self._old = _decode(self.prev_value, self.revision)
        return self._old


def _decode(value: bytes, revision: int) -> dict[str, Any] | None:
    try:
        return bodies.decode_stored(value, revision)
    except ValueError:
        return None


class Subscription:
    """The changes after ``after`` for one watcher, queued until it takes them."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.pending: deque[Change] = deque()
        self.wakeup = asyncio.Event()
        self.error: errors.APIError | None = None
        self.feed: Feed | None = None
        self.task: asyncio.Task[None] | None = None
        self.ended = False  # the server is stopping: the watcher should finish its stream
        self.hub: Hub | None = None  # set for watchers with their own store watch

    def end(self) -> None:
        self.ended = True
        self.wakeup.set()

    def offer(self, change: Change) -> None:
        if change.revision <= self.after or self.error is not None:
            return
        self.pending.append(change)
        if len(self.pending) > MAX_PENDING:
            self.pending.clear()
            self.fail(errors.Gone.expired("watcher fell too far behind; start a new watch"))
        self.wakeup.set()

    def fail(self, error: errors.APIError) -> None:
        self.error = error
        self.wakeup.set()

    async def next(self, wait_seconds: float) -> list[Change]:
        """Changes queued so far, waiting up to ``wait_seconds`` for the first."""
        if not self.pending and self.error is None and not self.ended:
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_seconds):
                    await self.wakeup.wait()
        batch = list(self.pending)
        self.pending.clear()
        return batch

    def close(self) -> None:
        if self.feed is not None:
            self.feed.subscribers.discard(self)
        if self.task is not None:
            self.task.cancel()
        if self.hub is not None:
            self.hub.direct.discard(self)


class Feed:
    """The one store watch of a key prefix, its recent history, who listens, and the current
    value of every key under the prefix (``cache``), which serves GETs without a store read."""

    def __init__(self, store: Store, prefix: str) -> None:
        self.store = store
        self.prefix = prefix
        self.subscribers: set[Subscription] = set()
        self.history: deque[Change] = deque()
        self.revision = 0  # every change up to here has been delivered
        self.history_start = 0  # the history holds every change from this revision on
        self.cache: dict[str, Change] = {}  # key -> its latest PUT, decoded lazily and at most once
        self.task: asyncio.Task[None] | None = None

    async def _load(self) -> None:
        """The cache at one revision, from which the watch then continues."""
        result = await self.store.range(RangeRequest(self.prefix, prefix_end(self.prefix)))
        self.cache = {kv.key: Change(Event("PUT", kv)) for kv in result.kvs}
        self.revision = result.revision
        self.history_start = self.revision + 1

    async def start(self) -> None:
        await self._load()
        self.task = asyncio.create_task(self._run(), name=f"watch-feed {self.prefix}")

    async def _run(self) -> None:
        while True:
            try:
                async for response in self.store.watch(self.prefix, prefix_end(self.prefix),
                                                       start_revision=self.revision + 1,
                                                       prev_kv=True, progress_notify=True):
                    for event in response.events:
                        self._deliver(Change(event))
                    if response.progress and response.revision > self.revision:
                        self.revision = response.revision
            except asyncio.CancelledError:
                raise
            except CompactedError as exc:
                log.warning("watch feed %s fell behind compaction: %s", self.prefix, exc)
                for subscription in list(self.subscribers):
                    subscription.fail(errors.Gone.expired(f"too old resource version: {exc.requested} "
                                                          f"({exc.compact_revision})"))
                self.subscribers.clear()
                self.history.clear()
                await self._reload()
            except (StorageError, OSError) as exc:
                log.warning("watch feed %s failed, restarting: %s", self.prefix, exc)
            except Exception:  # a bug must not silently kill every watch of this resource
                log.exception("watch feed %s crashed, restarting", self.prefix)
            await asyncio.sleep(0.2)

    async def _reload(self) -> None:
        while True:
            try:
                return await self._load()
            except StorageError:
                await asyncio.sleep(0.5)

    def _deliver(self, change: Change) -> None:
        if change.type == "PUT":
            self.cache[change.key] = change
        else:
            self.cache.pop(change.key, None)
        if change.revision > self.revision:
            self.revision = change.revision
        self.history.append(change)
        if len(self.history) > HISTORY:
            dropped = self.history.popleft()
            self.history_start = dropped.revision + 1
        for subscription in list(self.subscribers):
            subscription.offer(change)

    def subscribe(self, after: int) -> Subscription | None:
        """A subscription fed from memory, or None when the history no longer reaches ``after``."""
        if after + 1 < self.history_start:
            return None
        subscription = Subscription(after)
        subscription.feed = self
        # no await between registering and back-filling: nothing can slip in between
        self.subscribers.add(subscription)
        if after < self.revision:
            for change in self.history:
                subscription.offer(change)
        return subscription


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a feed that failed to start is retried by the next caller


class Hub:
    """Feeds by key prefix, started on first use; one per API server process."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.feeds: dict[str, Feed] = {}
        self.direct: set[Subscription] = set()
        self.closed = False
        self._starting: dict[str, asyncio.Future[Feed]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()  # feeds being started in the background

    def _started(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        _ignore_result(task)

    def cached(self, prefix: str, key: str, fresh_from: int) -> KeyValue | None:
        """The key's value from the feed's cache, if the feed has seen revision ``fresh_from``
        (this server's last write under the prefix); otherwise None and the caller reads the
        store. The first call for a prefix starts its feed in the background."""
        feed = self.feeds.get(prefix)
        if feed is None:
            if prefix not in self._starting and not self.closed:
                task = asyncio.get_running_loop().create_task(self.feed(prefix))
                self._tasks.add(task)
                task.add_done_callback(self._started)
            return None
        if feed.revision < fresh_from:
            return None
        entry = feed.cache.get(key)
        return entry.kv if entry is not None else None

    def decoded(self, prefix: str, kv: KeyValue) -> dict[str, Any] | None:
        """The shared decoded object of exactly this key and revision, if the cache holds it
        (read-only: Tables and selectors read it, nobody mutates it). Safe from a thread."""
        feed = self.feeds.get(prefix)
        if feed is None:
            return None
        entry = feed.cache.get(kv.key)
        if entry is None or entry.revision != kv.mod_revision:
            return None
        return entry.obj()

    async def feed(self, prefix: str) -> Feed:
        feed = self.feeds.get(prefix)
        if feed is not None:
            return feed
        pending = self._starting.get(prefix)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Feed] = asyncio.get_running_loop().create_future()
        self._starting[prefix] = future
        try:
            feed = Feed(self.store, prefix)
            await feed.start()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters re-raise it
            raise
        finally:
            self._starting.pop(prefix, None)
        self.feeds[prefix] = feed
        future.set_result(feed)
        return feed

    async def subscribe(self, prefix: str, after: int) -> Subscription:
        """Every change under ``prefix`` with a revision above ``after``."""
        feed = await self.feed(prefix)
        subscription = feed.subscribe(after)
        if subscription is not None:
            return subscription
        subscription = Subscription(after)
        subscription.hub = self
        self.direct.add(subscription)
        subscription.task = asyncio.create_task(self._direct(subscription, prefix, after))
        return subscription

    def end_watches(self) -> None:
        """Ask every open watch to finish its stream (the server is stopping)."""
        for feed in self.feeds.values():
            for subscription in list(feed.subscribers):
                subscription.end()
        for subscription in list(self.direct):
            subscription.end()

    async def _direct(self, subscription: Subscription, prefix: str, after: int) -> None:
        """A watcher older than the feed's history: its own store watch from ``after + 1``."""
        try:
            async for response in self.store.watch(prefix, prefix_end(prefix), start_revision=after + 1,
                                                   prev_kv=True):
                for event in response.events:
                    subscription.offer(Change(event))
        except CompactedError as exc:
            subscription.fail(errors.Gone.expired(f"too old resource version: {after} ({exc.compact_revision})"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the watcher gets an ERROR event instead of a hang
            subscription.fail(errors.InternalError(f"watch failed: {exc}"))

    async def close(self) -> None:
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        tasks = [feed.task for feed in self.feeds.values() if feed.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.feeds.clear()
