"""The scheduling queue: pending pod keys in three places, as kube-scheduler keeps them.

- **active**: a heap ordered by priority (highest first), then creation time (oldest
  first); :meth:`SchedulingQueue.pop` takes from here;
- **backoff**: pods that failed recently wait out their backoff (1 s doubling per failed
  attempt, at most 10 s) before they return to active;
- **unschedulable**: pods no node could take. They stay until the cluster changes (a node
  added or updated, a pod deleted: :meth:`move_all_to_active`), then go through backoff; a
  pod left there for ``flush_after`` seconds is retried anyway, in case an event was missed.

The queue holds keys plus the sort fields; the scheduler reads the pod itself from its
informer when it pops the key. A key is in at most one place at a time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class QueuedPod:
    key: str
    priority: int
    created: str  # RFC 3339 sorts as text
    attempts: int = 0
    since: float = 0.0  # when it entered its current place
    backoff_until: float = 0.0


class SchedulingQueue:
    def __init__(self, *, backoff_initial: float = 1.0, backoff_max: float = 10.0, flush_after: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.flush_after = flush_after
        self._clock = clock
        self._seq = itertools.count()
        self._active: list[tuple[int, str, int, str]] = []  # (-priority, created, seq, key)
        self._active_entries: dict[str, int] = {}  # key -> seq of its live heap entry
        self._backoff: dict[str, QueuedPod] = {}
        self._unschedulable: dict[str, QueuedPod] = {}
        self._pods: dict[str, QueuedPod] = {}
        self._in_flight: set[str] = set()
        self._moved_while_in_flight = False
        self._wakeup = asyncio.Event()
        self._closed = False
        #: no parked pod is due before this time, so pops need not look at them until then
        self._next_due = float("inf")

    def __len__(self) -> int:
        return len(self._pods)

    def __contains__(self, key: object) -> bool:
        return key in self._pods

    @property
    def active_count(self) -> int:
        return len(self._active_entries)

    @property
    def backoff_count(self) -> int:
        return len(self._backoff)

    @property
    def unschedulable_count(self) -> int:
        return len(self._unschedulable)

    # -- adding ----------------------------------------------------------------------------------

    def add(self, key: str, priority: int, created: str) -> None:
        """A pending pod was seen (added or changed). A pod in the unschedulable set whose spec
        may have changed goes back through backoff; one already queued keeps its place."""
        entry = self._pods.get(key)
        if entry is None:
            entry = self._pods[key] = QueuedPod(key, priority, created, since=self._clock())
            if key not in self._in_flight:
                self._push_active(entry)
            return
        changed = entry.priority != priority
        entry.priority, entry.created = priority, created
        if key in self._unschedulable:
            del self._unschedulable[key]
            self._to_backoff_or_active(entry)
        elif key in self._active_entries and changed:
            self._push_active(entry)

    def _push_active(self, entry: QueuedPod) -> None:
        seq = next(self._seq)
        self._active_entries[entry.key] = seq
        heapq.heappush(self._active, (-entry.priority, entry.created, seq, entry.key))
        self._wakeup.set()

    def _to_backoff_or_active(self, entry: QueuedPod) -> None:
        now = self._clock()
        entry.since = now
        if entry.backoff_until > now:
            self._backoff[entry.key] = entry
            self._next_due = min(self._next_due, entry.backoff_until)
            self._wakeup.set()  # pop() recomputes how long to sleep
        else:
            self._push_active(entry)

    def delete(self, key: str) -> None:
        """The pod was bound or deleted: it leaves the queue wherever it is."""
        self._pods.pop(key, None)
        self._active_entries.pop(key, None)
        self._backoff.pop(key, None)
        self._unschedulable.pop(key, None)

    # -- results of an attempt ---------------------------------------------------------------------

    def _backoff_for(self, entry: QueuedPod) -> float:
        return min(self.backoff_initial * (2 ** max(entry.attempts - 1, 0)), self.backoff_max)

    def done(self, key: str) -> None:
        """The attempt for ``key`` ended with the pod assumed onto a node."""
        self._in_flight.discard(key)

    def unschedulable(self, key: str) -> None:
        """No node fits: park the pod until the cluster changes (or, if it changed during the
        attempt, retry after backoff straight away)."""
        self._in_flight.discard(key)
        entry = self._pods.get(key)
        if entry is None:
            return
        entry.attempts += 1
        entry.backoff_until = self._clock() + self._backoff_for(entry)
        if self._moved_while_in_flight:
            self._to_backoff_or_active(entry)
        else:
            entry.since = self._clock()
            self._unschedulable[key] = entry
            self._next_due = min(self._next_due, entry.since + self.flush_after)

    def retry(self, key: str) -> None:
        """An error (not a misfit), or a failed binding: retry after backoff."""
        self._in_flight.discard(key)
        entry = self._pods.get(key)
        if entry is None:
            return
        entry.attempts += 1
        entry.backoff_until = self._clock() + self._backoff_for(entry)
        self._active_entries.pop(key, None)
        self._unschedulable.pop(key, None)
        self._to_backoff_or_active(entry)

    def move_all_to_active(self) -> None:
        """The cluster changed: every unschedulable pod may fit now."""
        if self._in_flight:
            self._moved_while_in_flight = True
        parked, self._unschedulable = self._unschedulable, {}
        for entry in parked.values():
            self._to_backoff_or_active(entry)

    # -- taking ----------------------------------------------------------------------------------

    def _flush(self) -> float | None:
        """Move due pods to active; return seconds until the next one is due (None: never)."""
        now = self._clock()
        if now < self._next_due:
            return self._next_due - now if self._next_due != float("inf") else None
        self._next_due = float("inf")  # lowered again by pods parked during this flush
        next_due: float | None = None
        for key, entry in list(self._backoff.items()):
            if entry.backoff_until <= now:
                del self._backoff[key]
                self._push_active(entry)
            else:
                wait = entry.backoff_until - now
                next_due = wait if next_due is None else min(next_due, wait)
        for key, entry in list(self._unschedulable.items()):
            due = entry.since + self.flush_after
            if due <= now:
                del self._unschedulable[key]
                self._to_backoff_or_active(entry)
            else:
                next_due = due - now if next_due is None else min(next_due, due - now)
        if next_due is not None:
            self._next_due = min(self._next_due, now + next_due)
        return None if self._next_due == float("inf") else self._next_due - now

    def pop_nowait(self) -> str | None:
        if self._backoff or self._unschedulable:
            self._flush()
        while self._active:
            _, _, seq, key = heapq.heappop(self._active)
            if self._active_entries.get(key) == seq:
                del self._active_entries[key]
                self._in_flight.add(key)
                if len(self._in_flight) == 1:
                    self._moved_while_in_flight = False
                return key
        return None

    async def pop(self) -> str:
        """The next pod to schedule; waits for one. The caller reports back with
        :meth:`done`, :meth:`unschedulable` or :meth:`retry`."""
        while True:
            if self._closed:
                raise asyncio.CancelledError
            key = self.pop_nowait()
            if key is not None:
                return key
            self._wakeup.clear()
            wait = self._flush() if (self._backoff or self._unschedulable) else None
            if self._active:
                continue
            try:
                async with asyncio.timeout(wait):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    def attempts(self, key: str) -> int:
        entry = self._pods.get(key)
        return entry.attempts if entry is not None else 0
