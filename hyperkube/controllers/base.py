"""The controller shape every controller here shares (client-go's sample-controller).

::

    shared informers (one list+watch per resource, in the InformerFactory)
        │ event handlers: compute the key(s) of the object(s) to revisit
        v
    WorkQueue of keys (deduplicated, rate-limited retries)
        │ N workers
        v
    sync(key): read desired and actual state from the caches, write the difference
               through the client; idempotent and level-triggered, so a repeated or
               missed event costs nothing but one more sync

A subclass declares its informers in ``__init__`` (through ``ctx.factory``), registers
handlers that call :meth:`Controller.enqueue`, and implements :meth:`Controller.sync`.
Raising from ``sync`` requeues the key with backoff; returning normally forgets its failures.
Wiring (flags, the client, leader election) stays in :mod:`hyperkube.controllers.manager`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from hyperkube.client import (
    APIError,
    Client,
    EventRecorder,
    InformerFactory,
    TransportError,
    WorkQueue,
    object_key,
)

log = logging.getLogger("hyperkube.controllers")

Object = dict[str, Any]


@dataclass
class ControllerContext:
    """What every controller is built from: one client, one informer factory, one recorder,
    and the per-controller options (``--concurrent-*-syncs`` and friends)."""

    client: Client
    factory: InformerFactory
    recorder: EventRecorder
    concurrent_syncs: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def workers(self, name: str, default: int = 5) -> int:
        return max(1, int(self.concurrent_syncs.get(name, default)))


class Controller:
    """Base class: a named work queue drained by N workers calling :meth:`sync`."""

    #: the name used by ``--controllers`` (e.g. ``replicaset``)
    name = "controller"
    #: the ``--concurrent-*-syncs`` key and its default
    workers_option = ""
    default_workers = 5

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.queue = WorkQueue(name=self.name)
        self._tasks: list[asyncio.Task[None]] = []

    # -- queueing ---------------------------------------------------------------------------------

    def enqueue(self, key: Hashable) -> None:
        self.queue.add(key)

    def enqueue_after(self, key: Hashable, delay: float) -> None:
        self.queue.add_after(key, delay)

    # -- running ----------------------------------------------------------------------------------

    async def sync(self, key: Any) -> None:  # pragma: no cover - every controller overrides it
        raise NotImplementedError

    async def start(self) -> None:
        """Hook run once the informers have synced, before the workers start."""

    async def run(self, workers: int | None = None) -> None:
        """Run the workers until cancelled (the informers must be started and synced)."""
        if workers is None:
            workers = self.ctx.workers(self.workers_option or self.name, self.default_workers)
        await self.start()
        self._tasks = [asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}") for i in range(workers)]
        try:
            await asyncio.gather(*self._tasks)
        finally:
            self.queue.shutdown()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _worker(self) -> None:
        async for key in self.queue:
            started = time.monotonic()
            try:
                await self.sync(key)
                self.queue.forget(key)
            except asyncio.CancelledError:
                self.queue.done(key)
                raise
            except (APIError, TransportError) as error:
                log.info("%s: sync %s failed: %s; requeued", self.name, key, error)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("%s: sync %s failed; requeued", self.name, key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)
            log.debug("%s: synced %s in %.1f ms", self.name, key, (time.monotonic() - started) * 1000)


class Expectations:
    """How many creations and which deletions a controller is still waiting to *see*.

    After writing N creates, a controller must not count pods from its (lagging) cache again
    until the informer has delivered those N adds, or it would create them twice. ``sync``
    skips managing replicas while :meth:`satisfied` is False; informer handlers call
    :meth:`creation_observed` / :meth:`deletion_observed`. Expectations older than
    ``ttl`` seconds are considered satisfied, so a lost event cannot wedge a controller.
    """

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._adds: dict[str, int] = {}
        self._deletes: dict[str, set[str]] = {}
        self._stamp: dict[str, float] = {}

    def satisfied(self, key: str) -> bool:
        if key not in self._stamp:
            return True
        if self._adds.get(key, 0) <= 0 and not self._deletes.get(key):
            return True
        return time.monotonic() - self._stamp[key] > self.ttl

    def expect_creations(self, key: str, count: int) -> None:
        self._adds[key] = count
        self._deletes.setdefault(key, set())
        self._stamp[key] = time.monotonic()

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self._adds.setdefault(key, 0)
        self._deletes[key] = set(pod_keys)
        self._stamp[key] = time.monotonic()

    def creation_observed(self, key: str) -> None:
        if key in self._adds:
            self._adds[key] -= 1

    def lower_creations(self, key: str, count: int) -> None:
        """``count`` creations were never sent (or failed): stop waiting for them."""
        if key in self._adds:
            self._adds[key] -= count

    def deletion_observed(self, key: str, pod_key: str) -> None:
        pending = self._deletes.get(key)
        if pending is not None:
            pending.discard(pod_key)

    def forget(self, key: str) -> None:
        self._adds.pop(key, None)
        self._deletes.pop(key, None)
        self._stamp.pop(key, None)


def route_owned_pods(controller: Controller, pods: Any, kind: str, expectations: Expectations) -> None:
    """Queue the owner (of ``kind``, by controller reference) of every pod that changes.

    Creations and deletions the owner's last sync expected are recorded in ``expectations``
    first, so the next sync knows its cache has caught up (the client-go pattern).
    """

    def owner_key(pod: Object) -> str | None:
        ref = next((r for r in pod.get("metadata", {}).get("ownerReferences") or []
                    if isinstance(r, dict) and r.get("controller")), None)
        if ref is None or ref.get("kind") != kind:
            return None
        return f"{pod.get('metadata', {}).get('namespace', '')}/{ref.get('name', '')}"

    def added(pod: Object) -> None:
        if (key := owner_key(pod)) is not None:
            expectations.creation_observed(key)
            controller.enqueue(key)

    def updated(_old: Object, new: Object) -> None:
        if (key := owner_key(new)) is not None:
            controller.enqueue(key)

    def deleted(pod: Object) -> None:
        if (key := owner_key(pod)) is not None:
            expectations.deletion_observed(key, object_key(pod))
            controller.enqueue(key)

    pods.add_event_handler(added, updated, deleted)
