"""A watch as an async iterator of events.

The server sends one ``{"type": ..., "object": ...}`` JSON document per line. This module
turns those lines into :class:`WatchEvent` values and keeps :attr:`Watch.resource_version`
at the newest version seen, BOOKMARKs included, so that a caller whose stream ends resumes
from exactly there (``client.watch(..., resource_version=w.resource_version)``) instead of
relisting.

An ``ERROR`` event carries a Status: it is raised as its typed error. The important one is
410 (reason ``Expired`` or ``Gone``): the version asked for was compacted away, the watch
cannot resume, and the caller must list again; informers do exactly that. The stream
ending normally (the server's ``timeoutSeconds``) just ends the iteration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from hyperkube.client._transport import TransportError
from hyperkube.machinery.errors import error_from_status

if TYPE_CHECKING:
    from hyperkube.client._client import Client

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED or BOOKMARK
    object: dict[str, Any]


class Watch:
    """One watch request. Iterate it (``async for event in watch``) or use ``async with``
    to be sure the connection is released when the loop is left early."""

    def __init__(self, client: Client, path: str, params: list[tuple[str, str]], *,
                 resource_version: str | None = None, yield_bookmarks: bool = False,
                 accept: str = "application/json") -> None:
        self._client = client
        self._path = path
        self._params = params
        self._yield_bookmarks = yield_bookmarks
        self._accept = accept  # a Table media type gives one-row Tables (kubectl get -w)
        self.resource_version = resource_version or ""
        #: a sendInitialEvents watch has delivered every existing object
        self.initial_events_done = False
        self._iterator: AsyncIterator[WatchEvent] | None = None

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> WatchEvent:
        if self._iterator is None:
            self._iterator = self._events()
        return await self._iterator.__anext__()

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._iterator is not None:
            await self._iterator.aclose()  # type: ignore[attr-defined]

    async def _events(self) -> AsyncIterator[WatchEvent]:
        params = [*self._params, ("watch", "true")]
        if self.resource_version:
            params.append(("resourceVersion", self.resource_version))
        # the server ends a watch after timeoutSeconds; silence well past that means a dead peer
        timeout = dict(self._params).get("timeoutSeconds")
        read_timeout = float(timeout) + 30.0 if timeout else None
        response = await self._client.open("GET", self._path, params=params, stream=True,
                                           read_timeout=read_timeout, accept=self._accept)
        try:
            async for line in response.lines():
                try:
                    event = orjson.loads(line)
                    kind, obj = event["type"], event.get("object") or {}
                except (orjson.JSONDecodeError, KeyError, TypeError) as error:
                    raise TransportError(f"malformed watch event {line[:200]!r}") from error
                if kind == "ERROR":
                    raise error_from_status(obj, obj.get("code"))
                metadata = obj.get("metadata") or {}
                if metadata.get("resourceVersion"):
                    self.resource_version = metadata["resourceVersion"]
                if kind == "BOOKMARK":
                    if (metadata.get("annotations") or {}).get(INITIAL_EVENTS_END) == "true":
                        self.initial_events_done = True
                    if not self._yield_bookmarks:
                        continue
                yield WatchEvent(kind, obj)
        finally:
            response.close()
