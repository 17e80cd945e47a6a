"""Leader election over a ``coordination.k8s.io/v1`` Lease, with client-go's rules.

Each candidate loops :meth:`LeaderElector.try_acquire_or_renew` every ``retry_period``:

- no Lease: create it with ourselves as holder (a create race loses with AlreadyExists);
- a Lease held by someone else is respected until ``leaseDurationSeconds`` have passed since
  *we observed* its last change. Expiry is measured on our own monotonic clock from when the
  record last changed, never by comparing the holder's timestamps with ours, so clock skew
  between machines cannot cut a lease short;
- otherwise write ourselves in with a conditional PUT (``metadata.resourceVersion``): of two
  candidates racing for an expired lease, exactly one update succeeds.

The leader renews every ``retry_period``. If it cannot renew for ``renew_deadline`` (shorter
than the lease duration) it cancels the work and :meth:`LeaderElector.run` returns: the old
leader has stopped before any other candidate may consider the lease expired. A leader that
stops cleanly (``run`` cancelled) releases the lease (holder ``""``) so the next one takes
over at its next retry instead of waiting out the lease.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hyperkube.client._client import Client
from hyperkube.client._resources import GroupVersionResource
from hyperkube.client._transport import TransportError
from hyperkube.machinery.errors import AlreadyExists, APIError, Conflict, NotFound

log = logging.getLogger("hyperkube.client.leaderelection")

LEASES = GroupVersionResource("coordination.k8s.io", "v1", "leases")


def micro_time(ts: float | None = None) -> str:
    """metav1.MicroTime: RFC 3339 with microseconds, as Lease times are written."""
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass
class LeaderElectionConfig:
    name: str
    namespace: str = "kube-system"
    identity: str = field(default_factory=default_identity)
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")


async def _maybe_await(value: Any) -> None:
    if inspect.isawaitable(value):
        await value


class LeaderElector:
    """Run ``on_started_leading()`` (a coroutine function) only while holding the lease."""

    def __init__(self, client: Client, config: LeaderElectionConfig, *,
                 on_started_leading: Callable[[], Awaitable[Any]],
                 on_stopped_leading: Callable[[], Any] | None = None,
                 on_new_leader: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.config = config
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self._clock = clock
        self._observed: dict[str, Any] = {}
        self._observed_time = 0.0
        self._observed_lease: dict[str, Any] | None = None
        self._leading = False
        self._callbacks: set[asyncio.Future[Any]] = set()
        #: the holder identity last seen in the Lease
        self.leader = ""

    def is_leader(self) -> bool:
        return self._leading

    # -- one attempt ---------------------------------------------------------------------------------

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to become (or stay) the holder; True if we hold the lease now."""
        cfg = self.config
        now_wall = micro_time()
        ours = {"holderIdentity": cfg.identity, "leaseDurationSeconds": max(1, round(cfg.lease_duration)),
                "acquireTime": now_wall, "renewTime": now_wall, "leaseTransitions": 0}
        try:
            lease = await self.client.get(LEASES, cfg.name, namespace=cfg.namespace)
        except NotFound:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": cfg.name, "namespace": cfg.namespace}, "spec": ours}
            try:
                created = await self.client.create(LEASES, body, namespace=cfg.namespace)
            except (AlreadyExists, Conflict):
                return False
            self._observe(created)
            return True
        spec = lease.get("spec") or {}
        if spec != self._observed:
            self._observe(lease)
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration)
        if holder and holder != cfg.identity and self._observed_time + duration > self._clock():
            return False  # held, and not expired by our own clock
        if holder == cfg.identity:
            ours["acquireTime"] = spec.get("acquireTime") or now_wall
            ours["leaseTransitions"] = spec.get("leaseTransitions") or 0
        else:
            ours["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
        updated_lease = {**lease, "spec": {**spec, **ours}}
        try:
            updated = await self.client.update(LEASES, updated_lease, namespace=cfg.namespace)
        except Conflict:
            return False
        self._observe(updated)
        return True

    def _observe(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        self._observed = spec
        self._observed_lease = lease
        self._observed_time = self._clock()
        holder = spec.get("holderIdentity") or ""
        if holder != self.leader:
            self.leader = holder
            if holder and self.on_new_leader is not None:
                try:
                    result = self.on_new_leader(holder)
                    if inspect.isawaitable(result):
                        task = asyncio.ensure_future(result)
                        self._callbacks.add(task)
                        task.add_done_callback(self._callbacks.discard)
                except Exception:
                    log.exception("on_new_leader failed")

    async def _attempt(self, limit: float) -> bool:
        try:
            async with asyncio.timeout(limit):
                return await self.try_acquire_or_renew()
        except (APIError, TransportError, TimeoutError) as error:
            log.info("lease %s/%s: %s", self.config.namespace, self.config.name, error)
            return False

    # -- the loops ---------------------------------------------------------------------------------

    async def _acquire(self) -> None:
        cfg = self.config
        while True:
            if await self._attempt(cfg.renew_deadline):
                break
            await asyncio.sleep(cfg.retry_period * (1.0 + random.random() * 0.2))  # client-go's jitter
        log.info("%s became leader of %s/%s", cfg.identity, cfg.namespace, cfg.name)

    async def _renew(self) -> None:
        """Returns when the lease could not be renewed within the renew deadline."""
        cfg = self.config
        while True:
            await asyncio.sleep(cfg.retry_period)
            deadline = self._clock() + cfg.renew_deadline
            while not await self._attempt(max(deadline - self._clock(), 0.001)):
                if self._clock() + cfg.retry_period >= deadline:
                    log.warning("%s failed to renew lease %s/%s: leadership lost",
                                cfg.identity, cfg.namespace, cfg.name)
                    return
                await asyncio.sleep(cfg.retry_period)

    async def run(self) -> None:
        """Wait to be leader, do the work while leading, and return when the lease is lost
        (the work is cancelled first) or the work ends. Cancelling releases the lease."""
        await self._acquire()
        self._leading = True
        work = asyncio.ensure_future(self.on_started_leading())
        renew = asyncio.ensure_future(self._renew())
        lost = False
        try:
            await asyncio.wait({work, renew}, return_when=asyncio.FIRST_COMPLETED)
            lost = renew.done()
        finally:
            self._leading = False
            for task in (work, renew):
                task.cancel()
            await asyncio.gather(work, renew, return_exceptions=True)
            if not lost and self.config.release_on_cancel:
                await asyncio.shield(self.release())
            if self.on_stopped_leading is not None:
                await _maybe_await(self.on_stopped_leading())
        if work.done() and not work.cancelled() and work.exception() is not None:
            raise work.exception()  # type: ignore[misc]

    async def release(self) -> bool:
        """Give the lease up (holder ``""``) if we still hold it, so a successor need not wait."""
        lease = self._observed_lease
        if not lease or (lease.get("spec") or {}).get("holderIdentity") != self.config.identity:
            return False
        spec = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1,
                "renewTime": micro_time(), "acquireTime": micro_time()}
        try:
            async with asyncio.timeout(self.config.renew_deadline):
                released = await self.client.update(LEASES, {**lease, "spec": spec}, namespace=self.config.namespace)
        except (APIError, TransportError, TimeoutError) as error:
            log.info("releasing lease %s/%s failed: %s", self.config.namespace, self.config.name, error)
            return False
        self._observe(released)
        return True

