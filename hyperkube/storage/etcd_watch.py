"""Watch over etcd's JSON gateway: one streaming ``POST /v3/watch`` per watcher.

The gateway turns the bidirectional gRPC stream into a request body holding the one
``create_request`` and a response of newline-delimited ``{"result": WatchResponse}``
objects. Closing the HTTP response closes the connection, and the gateway cancels the
watch on the server; so closing the async generator (``aclose()``) is the cancel.

The first message is the ``created`` acknowledgement (its header revision is "now", which
fixes where a watch from revision 0 starts). After it come event batches, progress
notifications (no events, not created, not canceled) and, for a start revision etcd has
compacted away, a ``canceled`` message with ``compact_revision``.

If the stream breaks (the member died, the connection dropped), the watcher re-opens it
on the next endpoint from the revision after the last one delivered, the same resumption
etcd's own client does, so the caller sees no gap and no repeat. Only when no endpoint
answers does the generator raise :class:`UnavailableError`. Closing the store ends every
watch on it: the generator simply stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
import orjson

from hyperkube.storage import etcd_codec as codec
from hyperkube.storage.interface import CompactedError, StorageError, UnavailableError, WatchResponse

if TYPE_CHECKING:
    from hyperkube.storage.etcd import EtcdStore

log = logging.getLogger("hyperkube.storage.etcd")

_MAX_MESSAGE = 256 * 1024 * 1024  # a batch of events can be large; etcd bounds it well below this
_BROKEN = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)


class _StreamEnded(Exception):
    """The server closed the watch stream without cancelling the watch."""


async def watch_stream(store: EtcdStore, key: str, range_end: str | None, *, start_revision: int,
                       prev_kv: bool, progress_notify: bool) -> AsyncIterator[WatchResponse]:
    next_revision = start_revision  # 0 until the first "created" tells us what "now" is
    broken_in_a_row = 0
    while True:
        create: codec.Json = {"key": codec.encode_key(key)}
        if range_end is not None:
            create["range_end"] = codec.encode_key(range_end)
        if next_revision:
            create["start_revision"] = next_revision
        if prev_kv:
            create["prev_kv"] = True
        if progress_notify:
            create["progress_notify"] = True
        try:
            response, _ = await store.open_stream("watch", {"create_request": create})
        except (UnavailableError, RuntimeError):
            if store.closed:
                return
            raise
        store.streams.add(response)
        try:
            while True:
                line = await response.content.readline(max_line_length=_MAX_MESSAGE)
                if not line:
                    raise _StreamEnded()
                if not line.strip():
                    continue
                message = orjson.loads(line)
                result = message.get("result")
                if result is None:
                    text, code = codec.error_message(message, "watch stream error")
                    if codec.classify(text, code) is UnavailableError:
                        raise _StreamEnded(text)
                    raise StorageError(f"etcd watch: {text}")
                revision = codec.header_revision(result)
                if result.get("canceled"):
                    compact = codec.as_int(result.get("compact_revision"))
                    if compact:
                        raise CompactedError(next_revision, compact)
                    raise StorageError(f"etcd cancelled the watch: {result.get('cancel_reason') or 'no reason given'}")
                if result.get("created"):
                    broken_in_a_row = 0
                    if not next_revision:
                        next_revision = revision + 1
                    continue
                events = [codec.event(e) for e in result.get("events") or ()]
                if events:
                    next_revision = events[-1].kv.mod_revision + 1
                    yield WatchResponse(revision=revision, events=events)
                else:
                    next_revision = max(next_revision, revision + 1)
                    yield WatchResponse(revision=revision, events=[], progress=True)
        except (*_BROKEN, _StreamEnded) as exc:
            if store.closed:
                return  # the store was closed under the watch: the stream ends, no error
            broken_in_a_row += 1
            log.info("etcd watch on %s broke (%s); resuming from revision %d", store.endpoint,
                     str(exc) or type(exc).__name__, next_revision)
            store.rotate()
            if broken_in_a_row > 2 * len(store.endpoints):
                raise UnavailableError(f"etcd watch keeps breaking: {exc or type(exc).__name__}") from exc
            await asyncio.sleep(min(0.05 * broken_in_a_row, 1.0))
        finally:
            store.streams.discard(response)
            response.close()
