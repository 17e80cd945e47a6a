"""client-go's rate-limited workqueue, on asyncio.

Controllers put *keys* (``namespace/name``) in the queue, never objects: the worker reads the
current object from the informer cache, so however many events arrive for a key while it
waits, it is synced once, from the newest state. Three sets make that work:

- ``queue``: keys waiting for a worker, in order;
- ``dirty``: keys that need processing (queued, or re-added while being processed);
- ``processing``: keys a worker holds between :meth:`WorkQueue.get` and :meth:`WorkQueue.done`.

:meth:`~WorkQueue.add` of a dirty key does nothing (deduplication). A key added while being
processed only becomes dirty, and :meth:`~WorkQueue.done` puts it back in the queue, so one
key is never handed to two workers at once.

Failures requeue through :meth:`~WorkQueue.add_rate_limited`: the delay is the larger of a
per-key exponential backoff (5 ms doubling to 1000 s, reset by :meth:`~WorkQueue.forget`
after a success) and an overall token bucket (10 qps, burst 100) that bounds the retry rate of
the whole queue. :meth:`~WorkQueue.add_after` holds a key back, keeping only the earliest
deadline per key.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Protocol


class ShutDown(Exception):
    """The queue is shut down and empty: the worker should exit."""


class RateLimiter(Protocol):
    def when(self, item: Hashable) -> float:
        """Seconds to wait before the item may be retried (counts as one more failure)."""

    def forget(self, item: Hashable) -> None:
        """The item succeeded: stop tracking its failures."""

    def num_requeues(self, item: Hashable) -> int: ...


class ItemExponentialFailureRateLimiter:
    """``base * 2**failures`` per item, capped at ``max_delay``."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        if failures > 62:  # 2**63 overflows what client-go computes with; it is capped anyway
            return self.max_delay
        return min(self.base_delay * (2 ** failures), self.max_delay)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """A token bucket shared by every item: ``burst`` retries at once, then ``qps`` per second.

    Each call reserves a token, possibly one that only exists in the future, and returns how
    long until it does (the reservation semantics of Go's ``rate.Limiter``).
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Callable[[], float] = time.monotonic) -> None:
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def when(self, item: Hashable) -> float:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of the limiters asks for."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter() -> MaxOfRateLimiter:
    """client-go's DefaultControllerRateLimiter: 5 ms..1000 s per item, 10 qps burst 100 overall."""
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 1000.0), BucketRateLimiter(10.0, 100))


class WorkQueue:
    """A deduplicating, delaying, rate-limited queue of hashable items (keys).

    Workers loop ``item = await queue.get()`` ... ``queue.done(item)`` (or ``async for item in
    queue``, which ends at shutdown); after a failed sync they call ``add_rate_limited(item)``,
    after a successful one ``forget(item)``. Methods other than :meth:`get` never block.
    """

    def __init__(self, rate_limiter: RateLimiter | None = None, *, name: str = "") -> None:
        self.name = name
        self.rate_limiter = rate_limiter or default_controller_rate_limiter()
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._waiting: dict[Hashable, tuple[float, asyncio.TimerHandle]] = {}
        self._shutting_down = False
        self._drained: asyncio.Event | None = None

    def __len__(self) -> int:
        """Items waiting for a worker (not the ones in progress or held back by add_after)."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, item: Hashable) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return  # done() requeues it
        self._queue.append(item)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    async def get(self) -> Hashable:
        """The next item, waiting for one; raises :class:`ShutDown` once shut down and empty."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                if getter.done() and not getter.cancelled() and self._queue:
                    self._wake_one()  # we were woken for an item we will not take: pass it on
                raise
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: Hashable) -> None:
        """The worker finished with the item; if it was re-added meanwhile, queue it again."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()
        elif not self._processing and self._drained is not None:
            self._drained.set()

    def add_after(self, item: Hashable, delay: float) -> None:
        """Add the item once ``delay`` seconds have passed; the earliest pending deadline wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        loop = asyncio.get_running_loop()
        ready_at = loop.time() + delay
        pending = self._waiting.get(item)
        if pending is not None:
            if pending[0] <= ready_at:
                return
            pending[1].cancel()
        self._waiting[item] = (ready_at, loop.call_at(ready_at, self._ready, item))

    def _ready(self, item: Hashable) -> None:
        self._waiting.pop(item, None)
        self.add(item)

    def add_rate_limited(self, item: Hashable) -> None:
        """Requeue after a failure, as late as the rate limiter says."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: Hashable) -> None:
        """The item synced successfully: its backoff starts again from the base delay."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return self.rate_limiter.num_requeues(item)

    def shutdown(self) -> None:
        """Stop accepting items; idle workers get :class:`ShutDown`, queued items still drain."""
        self._shutting_down = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        for getter in self._getters:
            if not getter.done():
                getter.set_result(None)
        self._getters.clear()

    async def shutdown_with_drain(self) -> None:
        """Shut down, then wait until every item handed to a worker is done."""
        self.shutdown()
        if self._processing:
            self._drained = asyncio.Event()
            await self._drained.wait()

    def __aiter__(self) -> AsyncIterator[Hashable]:
        return self._items()

    async def _items(self) -> AsyncIterator[Hashable]:
        while True:
            try:
                yield await self.get()
            except ShutDown:
                return
