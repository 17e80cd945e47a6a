"""An in-process informer: one key prefix followed through the API server's watch feeds.

Authorizers must answer from memory (the API server serves ~10k GET/s; a store read per
request would halve that), so each follows the objects it needs through the :class:`Hub`:
the feed's cache is taken as the starting state and its changes applied as they come, with
no ``await`` between the two, so nothing slips in between. A follower that falls behind (the
feed was compacted past it) starts again from the feed's current state.

The listener sees ``reset()`` and then one ``put(key, obj)`` per object, then ``put``/``delete``
per change; it must not mutate the (shared, read-only) objects it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from hyperkube.apiserver.feeds import Hub

log = logging.getLogger("hyperkube.apiserver.authz")


class Listener(Protocol):
    def reset(self) -> None: ...

    def put(self, key: str, obj: dict[str, Any]) -> None: ...

    def delete(self, key: str) -> None: ...


class Mirror:
    def __init__(self, hub: Hub, prefix: str, listener: Listener) -> None:
        self.hub = hub
        self.prefix = prefix
        self.listener = listener
        self.revision = 0  # every change up to this revision has been applied
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.subscription: Any = None  # the feed subscription being followed

    async def start(self) -> None:
        subscription = await self._load()
        self._task = asyncio.create_task(self._follow(subscription), name=f"authz-mirror {self.prefix}")

    async def _load(self) -> Any:
        feed = await self.hub.feed(self.prefix)
        # from here to subscribe(): no await, so the snapshot and the changes after it meet exactly
        self.listener.reset()
        for key, change in list(feed.cache.items()):
            obj = change.obj()
            if obj is not None:
                self.listener.put(key, obj)
        self.revision = feed.revision
        self.subscription = feed.subscribe(feed.revision)
        return self.subscription

    def _apply(self, change: Any) -> None:
        try:
            obj = change.obj() if change.type == "PUT" else None
            if obj is None:
                self.listener.delete(change.key)
            else:
                self.listener.put(change.key, obj)
        except Exception:  # one odd object must not stop authorization for everyone
            log.exception("authorization cache: cannot apply %s", change.key)
        self.revision = max(self.revision, change.revision)

    async def _follow(self, subscription: Any) -> None:
        try:
            while True:
                for change in await subscription.next(30.0):
                    self._apply(change)
                self._changed.set()
                self._changed = asyncio.Event()
                if subscription.ended:
                    return
                if subscription.error is not None:  # fell behind: start again from the feed's state
                    subscription.close()
                    await asyncio.sleep(0.1)
                    subscription = await self._load()
        finally:
            subscription.close()

    async def wait_for(self, revision: int) -> None:
        """Until every change up to ``revision`` under this prefix has been applied (callers
        bound the wait with ``asyncio.timeout``)."""
        while self.revision < revision:
            await self._changed.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
