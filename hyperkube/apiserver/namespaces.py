"""Namespace lifecycle at create time, from a watched cache.

Creating in a missing namespace is 404 NotFound for the namespace; in one being deleted it
is 403 Forbidden ``unable to create new content in namespace X because it is being
terminated``. The answer comes from a cache fed by the namespaces watch feed (one store
read per create would halve create throughput); a namespace the cache has not seen yet
(created a moment ago through another API server) is read from the store before saying no.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson

from hyperkube.apiserver.feeds import Hub
from hyperkube.machinery import errors
from hyperkube.storage.interface import RangeRequest, Store, prefix_end

log = logging.getLogger("hyperkube.apiserver")


def _state(obj: dict[str, Any] | None) -> str:
    if not isinstance(obj, dict):
        return "Active"
    metadata = obj.get("metadata") or {}
    if metadata.get("deletionTimestamp") or (obj.get("status") or {}).get("phase") == "Terminating":
        return "Terminating"
    return "Active"


class Lifecycle:
    def __init__(self, store: Store, hub: Hub, prefix: str) -> None:
        self.store = store
        self.hub = hub
        self.prefix = prefix  # /registry/namespaces/
        self.phases: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        result = await self.store.range(RangeRequest(self.prefix, prefix_end(self.prefix)))
        for kv in result.kvs:
            try:
                self.phases[kv.key[len(self.prefix):]] = _state(orjson.loads(kv.value))
            except orjson.JSONDecodeError:
                continue
        subscription = await self.hub.subscribe(self.prefix, result.revision)
        self._task = asyncio.create_task(self._follow(subscription), name="namespace-lifecycle")

    async def _follow(self, subscription: Any) -> None:
        try:
            while True:
                for change in await subscription.next(30.0):
                    name = change.key[len(self.prefix):]
                    if change.type == "DELETE":
                        self.phases.pop(name, None)
                    else:
                        self.phases[name] = _state(change.obj())
                if subscription.ended:
                    return
                if subscription.error is not None:  # fell behind: resubscribe from now
                    subscription.close()
                    subscription = await self.hub.subscribe(self.prefix, await self.store.current_revision())
        finally:
            subscription.close()

    async def check_create(self, namespace: str) -> None:
        phase = self.phases.get(namespace)
        if phase is None:
            kv = await self.store.get(self.prefix + namespace)
            if kv is None:
                raise errors.NotFound.for_object("namespaces", namespace)
            with contextlib.suppress(orjson.JSONDecodeError):
                phase = _state(orjson.loads(kv.value))
        if phase == "Terminating":
            raise errors.Forbidden(
                f"unable to create new content in namespace {namespace} because it is being terminated",
                details={"name": namespace, "kind": "namespaces",
                         "causes": [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                                     "message": f"namespace {namespace} is being terminated"}]})

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
