"""Watch over HTTP: newline-delimited ``{"type","object"}`` events, one flush per batch.

Start points, as Kubernetes defines them (CLIENTS.md B1):

- ``resourceVersion`` unset or ``"0"``: synthetic ADDED for every current object, then changes;
- ``N``: only changes after N (from the feed's history, or a store watch of its own; a
  compacted N gives an ERROR event with a 410 Expired Status);
- ``sendInitialEvents=true``: ADDED for the current state, then a BOOKMARK annotated
  ``k8s.io/initial-events-end`` (client-go's WatchList, ``kubectl rollout status/wait/delete``).

Selectors are checked against the old and the new object, so a MODIFIED that leaves the
selector arrives as DELETED and one that enters it as ADDED. With a Table Accept header each
event's object is a one-row Table (``kubectl get -w``). Encoded lines are cached on the
shared :class:`~hyperkube.apiserver.feeds.Change`, so 100 watchers of one resource encode an
event once.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import orjson
from aiohttp import web

from hyperkube.api.registry import Resource
from hyperkube.apiserver import lists, tables
from hyperkube.apiserver.feeds import Change
from hyperkube.apiserver.selection import Filter, split_key
from hyperkube.machinery import errors

BOOKMARK_INTERVAL = 30.0
THREAD_THRESHOLD = 2000  # initial events beyond this many are encoded off the event loop
POLL = 5.0  # how often an idle watch looks whether its client has gone


def _line(kind: bytes, body: bytes) -> bytes:
    return b'{"type":"' + kind + b'","object":' + body + b"}\n"


class Encoder:
    """Turns changes into lines for one watcher (its filter, its format)."""

    def __init__(self, context: Any, resource: Resource, filt: Filter, as_table: bool, include: str) -> None:
        self.objects = context.objects
        self.resource = resource
        self.filt = filt
        self.as_table = as_table
        self.include = include
        self.prefix = self.objects.resource_prefix(resource)
        self.format = (resource.group, resource.version, resource.kind, as_table, include)

    def body(self, value: bytes, revision: int) -> bytes:
        if not self.as_table:
            return self.objects.present(self.resource, value, revision)
        obj = self.objects.decode(self.resource, value, revision)
        return orjson.dumps(tables.table(self.resource, [obj], {"resourceVersion": str(revision)}, self.include))

    def encode(self, change: Change) -> bytes | None:
        filt = self.filt
        if not filt.everything:
            namespace, name = split_key(change.key, self.prefix, self.resource.namespaced)
            if not filt.matches_key(namespace, name):
                return None
        if change.type == "DELETE":
            if change.prev_value is None or (filt.needs_object and not filt.matches(change.old())):
                return None
            kind, use_old = b"DELETED", True
        elif change.prev_value is None:
            if filt.needs_object and not filt.matches(change.obj()):
                return None
            kind, use_old = b"ADDED", False
        elif filt.needs_object:
            now, before = filt.matches(change.obj()), filt.matches(change.old())
            if now and before:
                kind, use_old = b"MODIFIED", False
            elif now:
                kind, use_old = b"ADDED", False
            elif before:
                kind, use_old = b"DELETED", True
            else:
                return None
        else:
            kind, use_old = b"MODIFIED", False
        cache_key = (self.format, kind)
        line = change.lines.get(cache_key)
        if line is None:
            value = change.prev_value if use_old else change.value
            try:
                line = _line(kind, self.body(value, change.revision))  # type: ignore[arg-type]
            except errors.APIError:
                return None  # an unreadable stored value is skipped, not a broken stream
            change.lines[cache_key] = line
        return line

    def added(self, value: bytes, revision: int) -> bytes:
        return _line(b"ADDED", self.body(value, revision))

    def bookmark(self, revision: int, initial_end: bool = False) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        return _line(b"BOOKMARK", orjson.dumps({"kind": self.resource.kind,
                                                "apiVersion": self.resource.group_version,
                                                "metadata": metadata}))


def error_line(error: errors.APIError) -> bytes:
    return _line(b"ERROR", orjson.dumps(error.to_status()))


def _closing(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def serve(context: Any, request: web.Request, resource: Resource, filt: Filter,
                options: lists.ListOptions, as_table: bool, include: str) -> web.StreamResponse:
    objects = context.objects
    store = objects.store
    prefix = objects.resource_prefix(resource)
    encoder = Encoder(context, resource, filt, as_table, include)
    rv = options.resource_version
    initial = options.send_initial_events
    legacy_initial = initial is None and rv in (None, "", "0")
    page = None
    if initial or legacy_initial:
        snapshot = lists.ListOptions(resource_version=rv if rv not in (None, "", "0") else None)
        page = await lists.read_page(store, prefix, resource.namespaced, filt, snapshot)
        after = page.revision
    elif rv in (None, "", "0"):
        after = await store.current_revision()
    else:
        after = int(rv)  # type: ignore[arg-type]
    subscription = await context.hub.subscribe(prefix, after)
    timeout = options.timeout_seconds if options.timeout_seconds else random.uniform(1800, 3600)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    metrics = context.metrics
    if metrics is not None:
        metrics.watch_opened(resource.kind, resource.group, resource.plural)
    try:
        await response.prepare(request)
        if page is not None and page.kvs:
            kvs = page.kvs

            def added_lines() -> bytes:
                return b"".join([encoder.added(kv.value, kv.mod_revision) for kv in kvs])

            await response.write(await asyncio.to_thread(added_lines) if len(kvs) > THREAD_THRESHOLD
                                 else added_lines())
        if initial:
            await response.write(encoder.bookmark(after, initial_end=True))
        last = after
        last_bookmark = time.monotonic()
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            batch = await subscription.next(min(remaining, POLL))
            if batch:
                out = [line for change in batch if (line := encoder.encode(change)) is not None]
                last = batch[-1].revision
                if out:
                    await response.write(b"".join(out))
            if subscription.error is not None and not subscription.pending:
                await response.write(error_line(subscription.error))
                break
            if subscription.ended and not subscription.pending:
                break
            if options.allow_bookmarks and not subscription.pending \
                    and time.monotonic() - last_bookmark >= BOOKMARK_INTERVAL:
                feed = subscription.feed
                revision = max(last, feed.revision if feed is not None else last)
                await response.write(encoder.bookmark(revision))
                last_bookmark = time.monotonic()
            if _closing(request):
                break
    except ConnectionError:
        pass  # the client went away
    finally:
        subscription.close()
        if metrics is not None:
            metrics.watch_closed(resource.kind, resource.group, resource.plural)
    return response
