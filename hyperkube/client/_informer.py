"""Shared informers: list, then watch, into a local cache, and tell handlers what changed.

The loop (one task per informer)::

    list (paged) ──> replace the cache, diff it ──> add/update/delete handlers ──> synced
      ^                                                                          │
      │ 410 Gone: relist at once                                                 v
      │ other API errors: relist after a backoff (0.8 s doubling to 30 s)  watch from the list's
      └─────────────────────────────────────────────────────────────────── resourceVersion; a stream
                                                                          that ends, or a lost
                                                                          connection (after a backoff),
                                                                          resumes from the last event
                                                                          or BOOKMARK without a relist

Handlers may be plain functions or coroutines; they run in order in the informer's task, so
they should be quick (typically ``queue.add(key)``). A handler added after objects arrived
first gets an ``on_add`` for each of them. Every ``resync_period`` seconds every cached object
is delivered again as ``on_update(obj, obj)``, so level-triggered controllers revisit
everything even when no event arrives.

:class:`InformerFactory` keeps one informer per resource, namespace and selectors in a
process, so the scheduler and ten controllers share one pod watch.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hyperkube.client._cache import Indexer, IndexFunc, Object
from hyperkube.client._client import Client, _selector
from hyperkube.client._resources import GroupVersionResource, ResourceLike, object_key, resource_of
from hyperkube.client._transport import TransportError
from hyperkube.machinery.errors import APIError, Gone

log = logging.getLogger("hyperkube.client.informer")

Handler = Callable[..., Any]


@dataclass(eq=False)
class EventHandler:
    on_add: Handler | None = None  # (obj)
    on_update: Handler | None = None  # (old, new)
    on_delete: Handler | None = None  # (obj): the last state known


async def _call(handler: Handler | None, *args: Any) -> None:
    if handler is None:
        return
    try:
        result = handler(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("informer event handler %r failed", handler)


class Informer:
    """One list+watch of one resource (optionally one namespace and selectors) into :attr:`cache`."""

    def __init__(self, client: Client, resource: ResourceLike, *, namespace: str | None = None,
                 label_selector: str | dict[str, str] | None = None, field_selector: str | None = None,
                 resync_period: float = 0.0, indexers: dict[str, IndexFunc] | None = None,
                 page_size: int = 500) -> None:
        self.client = client
        self.resource: GroupVersionResource = resource_of(resource)
        self.namespace = namespace
        self.label_selector = _selector(label_selector)
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.page_size = page_size
        self.cache = Indexer(indexers)
        #: the version the cache is current at (list, then each event or bookmark)
        self.resource_version = ""
        #: how many times the informer listed: 1 after the first sync, +1 per relist
        self.list_count = 0
        self._handlers: list[EventHandler] = []
        self._synced = asyncio.Event()
        #: held while the cache changes and handlers hear of it, so a late handler's replay
        #: and live events never interleave
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._backoff_initial, self._backoff_max = 0.8, 30.0

    # -- handlers and state -------------------------------------------------------------------------

    def add_event_handler(self, on_add: Handler | None = None, on_update: Handler | None = None,
                          on_delete: Handler | None = None) -> EventHandler:
        """Register handlers. If objects are already cached, the handler first gets an add
        for each (in a task, so call this inside the loop) and only then live events, in order."""
        handler = EventHandler(on_add, on_update, on_delete)
        if not len(self.cache):
            self._handlers.append(handler)
            return handler

        async def replay() -> None:
            async with self._lock:  # no event is applied between the snapshot and joining
                for obj in self.cache.list():
                    await _call(on_add, obj)
                self._handlers.append(handler)

        self._tasks.append(asyncio.get_running_loop().create_task(replay()))
        return handler

    def remove_event_handler(self, handler: EventHandler) -> None:
        self._handlers.remove(handler)

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_for_sync(self) -> bool:
        """Return (True) once the first list is in the cache. Bound it with ``asyncio.timeout``."""
        await self._synced.wait()
        return True

    # -- running ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the list/watch task (and the resync task). Idempotent; needs a running loop."""
        if any(task.get_name().startswith("informer-run") for task in self._tasks if not task.done()):
            return
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self.run(), name=f"informer-run {self.resource}"))
        if self.resync_period > 0:
            self._tasks.append(loop.create_task(self._resync_loop(), name=f"informer-resync {self.resource}"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> None:
        """List and watch until cancelled; errors are logged and retried, never raised."""
        backoff = self._backoff_initial
        while True:
            try:
                await self._list()
                backoff = self._backoff_initial
                await self._watch()
            except Gone as error:
                log.info("%s: watch expired (%s); relisting", self.resource, error.message)
            except (APIError, TransportError) as error:
                log.warning("%s: list/watch failed: %s; retrying in %.1fs", self.resource, error, backoff)
                await asyncio.sleep(backoff * (0.5 + random.random() / 2))
                backoff = min(backoff * 2, self._backoff_max)
            except Exception:  # an informer never dies: credentials, a bad body, a bug in a handler's caller
                log.exception("%s: list/watch failed; retrying in %.1fs", self.resource, backoff)
                await asyncio.sleep(backoff * (0.5 + random.random() / 2))
                backoff = min(backoff * 2, self._backoff_max)

    async def _list(self) -> None:
        result = await self.client.list_all(self.resource, namespace=self.namespace, page_size=self.page_size,
                                            label_selector=self.label_selector, field_selector=self.field_selector)
        kind = result.get("kind", "")
        kind = kind[:-4] if kind.endswith("List") else ""
        items = [_with_type(obj, kind, result.get("apiVersion", "")) for obj in result.get("items") or []]
        async with self._lock:
            previous = self.cache.replace(items)
            self.resource_version = (result.get("metadata") or {}).get("resourceVersion", "")
            self.list_count += 1
            for obj in items:
                old = previous.get(object_key(obj))
                if old is None:
                    await self._dispatch("on_add", obj)
                elif _rv(old) != _rv(obj):
                    await self._dispatch("on_update", old, obj)
            current = {object_key(obj) for obj in items}
            for key, old in previous.items():
                if key not in current:
                    await self._dispatch("on_delete", old)
        self._synced.set()

    async def _watch(self) -> None:
        """Watch from :attr:`resource_version` for ever. A stream that ends, or a connection
        that breaks, resumes from the newest version seen; a stale version raises Gone."""
        backoff = self._backoff_initial
        loop = asyncio.get_running_loop()
        while True:
            opened, resumed_from = loop.time(), self.resource_version
            watch = self.client.watch(self.resource, namespace=self.namespace, label_selector=self.label_selector,
                                      field_selector=self.field_selector, resource_version=self.resource_version,
                                      timeout_seconds=random.randint(300, 600), allow_bookmarks=True)
            try:
                async with watch:
                    async for event in watch:
                        await self._apply(event.type, event.object)
                        self.resource_version = watch.resource_version
                        backoff = self._backoff_initial
                broken: TransportError | None = None
            except TransportError as error:
                broken = error
            self.resource_version = watch.resource_version or self.resource_version
            quiet = self.resource_version == resumed_from and loop.time() - opened < 1.0
            if broken is None and not quiet:
                continue  # a normal end (the server's timeoutSeconds): resume at once
            # a broken connection, or a stream that ends at once with nothing in it: back off
            why = f"watch connection lost ({broken})" if broken else "very short watch with no events"
            log.info("%s: %s; resuming in %.1fs", self.resource, why, backoff)
            await asyncio.sleep(backoff * (0.5 + random.random() / 2))
            backoff = min(backoff * 2, self._backoff_max)

    async def _apply(self, kind: str, obj: Object) -> None:
        async with self._lock:
            if kind in ("ADDED", "MODIFIED"):
                old = self.cache.put(obj)
                if old is None:
                    await self._dispatch("on_add", obj)
                else:
                    await self._dispatch("on_update", old, obj)
            elif kind == "DELETED":
                self.cache.delete(object_key(obj))
                await self._dispatch("on_delete", obj)

    async def _dispatch(self, name: str, *args: Any) -> None:
        for handler in list(self._handlers):
            await _call(getattr(handler, name), *args)

    async def resync(self) -> None:
        """Deliver every cached object to the update handlers as ``(obj, obj)``."""
        async with self._lock:
            for obj in self.cache.list():
                await self._dispatch("on_update", obj, obj)

    async def _resync_loop(self) -> None:
        await self._synced.wait()
        while True:
            await asyncio.sleep(self.resync_period)
            await self.resync()


def _rv(obj: Object) -> str:
    return (obj.get("metadata") or {}).get("resourceVersion", "")


def _with_type(obj: Object, kind: str, api_version: str) -> Object:
    """List items arrive without kind/apiVersion; informers hand out complete objects."""
    if kind and "kind" not in obj:
        obj["kind"] = kind
    if api_version and "apiVersion" not in obj:
        obj["apiVersion"] = api_version
    return obj


class InformerFactory:
    """One shared informer per (resource, namespace, label selector, field selector)."""

    def __init__(self, client: Client, *, namespace: str | None = None, resync_period: float = 0.0) -> None:
        self.client = client
        self.namespace = namespace
        self.resync_period = resync_period
        self._informers: dict[tuple[GroupVersionResource, str | None, str | None, str | None], Informer] = {}

    def informer(self, resource: ResourceLike, *, namespace: str | None = None,
                 label_selector: str | dict[str, str] | None = None, field_selector: str | None = None,
                 indexers: dict[str, IndexFunc] | None = None) -> Informer:
        gvr = resource_of(resource)
        namespace = namespace if namespace is not None else self.namespace
        key = (gvr, namespace, _selector(label_selector), field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(self.client, gvr, namespace=namespace, label_selector=label_selector,
                                field_selector=field_selector, resync_period=self.resync_period)
            self._informers[key] = informer
        if indexers:
            informer.cache.add_indexers(indexers)
        return informer

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    def start(self) -> None:
        """Start every informer not yet running (call again after asking for more)."""
        for informer in self._informers.values():
            informer.start()

    async def wait_for_sync(self) -> bool:
        """Return (True) once every informer has synced. Bound it with ``asyncio.timeout``."""
        await asyncio.gather(*(i.wait_for_sync() for i in self._informers.values()))
        return True

    async def stop(self) -> None:
        await asyncio.gather(*(i.stop() for i in self._informers.values()))
