"""An event recorder that aggregates repeats the way Kubernetes' EventCorrelator does.

Components report what happened to an object (``Scheduled``, ``FailedMount``, ``Killing``)
as core/v1 Events. A crash-looping pod would otherwise write thousands, so each event passes
three stages before it reaches the API:

1. **spam filter**: a token bucket per source and object (burst 25, one more every 5
   minutes); events beyond it are dropped;
2. **similar-event aggregation**: once 10 events with the same source, object, type and
   reason but *different messages* arrive within 10 minutes, further ones are folded into a
   single event whose message reads ``(combined from similar events): <latest message>``;
3. **deduplication**: an event identical to one already written (same message included)
   is not created again: the existing Event is patched with ``count + 1`` and a new
   ``lastTimestamp`` (and created afresh if it has meanwhile been deleted).

Recording never blocks and never raises: :meth:`EventRecorder.event` queues the event and one
background task writes queued events in order; :meth:`EventRecorder.flush` waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hyperkube.client._client import Client
from hyperkube.client._resources import GroupVersionResource
from hyperkube.client._transport import TransportError
from hyperkube.machinery.durations import now_rfc3339
from hyperkube.machinery.errors import APIError, MethodNotAllowed, NotFound, UnsupportedMediaType

log = logging.getLogger("hyperkube.client.events")

EVENTS = GroupVersionResource("", "v1", "events")
NORMAL, WARNING = "Normal", "Warning"

CACHE_SIZE = 4096
SIMILAR_MAX = 10
SIMILAR_WINDOW = 600.0
SPAM_BURST = 25
SPAM_REFILL_SECONDS = 300.0
COMBINED_PREFIX = "(combined from similar events): "


@dataclass
class _Similar:
    messages: set[str] = field(default_factory=set)
    last: float = 0.0


@dataclass
class _Written:
    name: str
    namespace: str
    count: int
    first_timestamp: str
    body: dict[str, Any]  # the Event as the server last returned it


@dataclass
class _Bucket:
    tokens: float
    last: float


def reference(obj: dict[str, Any], field_path: str | None = None) -> dict[str, Any]:
    """The ObjectReference an Event's ``involvedObject`` holds."""
    metadata = obj.get("metadata") or {}
    ref = {k: v for k, v in (("kind", obj.get("kind")), ("apiVersion", obj.get("apiVersion")),
                             ("namespace", metadata.get("namespace")), ("name", metadata.get("name")),
                             ("uid", metadata.get("uid")), ("resourceVersion", metadata.get("resourceVersion")),
                             ("fieldPath", field_path)) if v}
    return ref


class EventRecorder:
    """``recorder.event(pod, "Normal", "Scheduled", "Successfully assigned ...")``."""

    def __init__(self, client: Client, component: str, *, host: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._clock = clock
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._written: OrderedDict[tuple[str, ...], _Written] = OrderedDict()
        self._similar: OrderedDict[tuple[str, ...], _Similar] = OrderedDict()
        self._buckets: OrderedDict[tuple[str, ...], _Bucket] = OrderedDict()

    def event(self, obj: dict[str, Any], type: str, reason: str, message: str, *,
              field_path: str | None = None) -> None:
        """Queue one event about ``obj`` (type ``Normal`` or ``Warning``)."""
        involved = reference(obj, field_path)
        self._queue.put_nowait({"involvedObject": involved, "type": type, "reason": reason,
                                "message": message, "at": self._clock()})
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"events {self.component}")

    def eventf(self, obj: dict[str, Any], type: str, reason: str, template: str, *args: Any) -> None:
        self.event(obj, type, reason, template % args if args else template)

    async def flush(self) -> None:
        """Wait until every queued event has been written (or dropped)."""
        await self._queue.join()

    async def close(self) -> None:
        await self.flush()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._record(item)
            except (APIError, TransportError) as error:
                log.warning("could not write event %s %s: %s", item["reason"], item["involvedObject"], error)
            except Exception:
                log.exception("writing an event failed")
            finally:
                self._queue.task_done()

    # -- the correlator ---------------------------------------------------------------------------

    def _object_key(self, involved: dict[str, Any]) -> tuple[str, ...]:
        return (self.component, self.host, involved.get("kind", ""), involved.get("namespace", ""),
                involved.get("name", ""), involved.get("uid", ""), involved.get("apiVersion", ""))

    def _allowed(self, object_key: tuple[str, ...], now: float) -> bool:
        bucket = self._buckets.get(object_key)
        if bucket is None:
            bucket = _Bucket(float(SPAM_BURST), now)
        bucket.tokens = min(float(SPAM_BURST), bucket.tokens + (now - bucket.last) / SPAM_REFILL_SECONDS)
        bucket.last = now
        _remember(self._buckets, object_key, bucket)
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def _aggregate(self, object_key: tuple[str, ...], item: dict[str, Any], now: float) -> tuple[str, ...]:
        """Fold similar events; returns the dedup key (message included unless combined)."""
        similar_key = (*object_key, item["type"], item["reason"])
        similar = self._similar.get(similar_key)
        if similar is None or now - similar.last > SIMILAR_WINDOW:
            similar = _Similar()
        similar.messages.add(item["message"])
        similar.last = now
        _remember(self._similar, similar_key, similar)
        if len(similar.messages) < SIMILAR_MAX:
            return (*similar_key, item["message"])
        item["message"] = COMBINED_PREFIX + item["message"]
        return (*similar_key, COMBINED_PREFIX)

    async def _record(self, item: dict[str, Any]) -> None:
        now = item.pop("at")
        involved = item["involvedObject"]
        object_key = self._object_key(involved)
        if not self._allowed(object_key, now):
            log.debug("event %s about %s dropped by the spam filter", item["reason"], involved)
            return
        key = self._aggregate(object_key, item, now)
        timestamp = now_rfc3339(now)
        written = self._written.get(key)
        if written is not None:
            patch = {"count": written.count + 1, "lastTimestamp": timestamp, "message": item["message"]}
            try:
                try:
                    written.body = await self.client.patch(EVENTS, written.name, patch, namespace=written.namespace,
                                                           patch_type="strategic")
                except (UnsupportedMediaType, MethodNotAllowed):
                    # a server without PATCH: update the whole Event we wrote last
                    written.body = await self.client.update(EVENTS, {**written.body, **patch})
                written.count += 1
                _remember(self._written, key, written)
                return
            except NotFound:
                pass  # the event expired (events have a TTL): write it again, keeping the count
        namespace = involved.get("namespace") or "default"
        name = f"{involved.get('name', 'unknown')}.{time.time_ns():x}"
        count = written.count + 1 if written else 1
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved, "reason": item["reason"], "message": item["message"],
            "type": item["type"], "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": written.first_timestamp if written else timestamp, "lastTimestamp": timestamp,
            "count": count, "reportingComponent": self.component, "reportingInstance": self.host,
        }
        created = await self.client.create(EVENTS, body, namespace=namespace)
        _remember(self._written, key, _Written(name, namespace, count, body["firstTimestamp"], created))


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    """An LRU put: the most recently used entries survive, at most CACHE_SIZE of them."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)
