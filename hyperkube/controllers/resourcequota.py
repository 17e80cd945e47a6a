"""The ResourceQuota controller: ``status.used`` for every resource a quota's ``hard`` names.

Usage is computed from informer caches, per namespace:

- ``pods`` (and ``count/pods``): pods not finished (Succeeded/Failed) and not past their
  deletion time;
- ``requests.cpu`` / ``cpu``, ``requests.memory`` / ``memory``, ``limits.cpu``,
  ``limits.memory``, ephemeral storage and extended resources (``requests.example.com/gpu``):
  summed over those pods, each pod counting the larger of its containers' sum and its
  biggest init container, plus its overhead (Kubernetes' PodRequests);
- ``services``, ``services.loadbalancers``, ``services.nodeports``, ``configmaps``,
  ``secrets``, ``persistentvolumeclaims``, ``replicationcontrollers``, ``resourcequotas``,
  ``requests.storage`` (PVC requests) and ``count/<resource>.<group>`` for any served
  resource (an informer is started the first time a quota names it; discovery resolves it).

Pod quotas honour ``spec.scopes`` Terminating / NotTerminating (``activeDeadlineSeconds``)
and BestEffort / NotBestEffort. A quota is recomputed whenever something it counts changes in
its namespace, and every ``resync_period`` seconds. ``status.hard`` mirrors ``spec.hard``.
The check that rejects a create exceeding ``hard`` is admission, in the API server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from hyperkube.client import Discovery, GroupVersionResource, Informer, NotFound, ResourceNotFound
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import PODS, meta, parse_time
from hyperkube.machinery.quantity import Quantity, QuantityError, parse_quantity

QUOTAS = "v1/resourcequotas"
CORE_COUNTS = {"services": "services", "configmaps": "configmaps", "secrets": "secrets",
               "persistentvolumeclaims": "persistentvolumeclaims", "resourcequotas": "resourcequotas",
               "replicationcontrollers": "replicationcontrollers"}
COMPUTE = ("cpu", "memory", "ephemeral-storage")


def quantity(value: Any) -> Quantity | None:
    try:
        return parse_quantity(value)
    except (QuantityError, TypeError, ValueError):
        return None


def total(values: Iterable[Quantity]) -> str:
    """The sum, printed in the first term's format (``128Mi`` stays binary), ``0`` if empty."""
    result: Quantity | None = None
    for value in values:
        result = value if result is None else result + value
    return str(result) if result is not None else "0"


def pod_resources(pod: Object, kind: str) -> dict[str, Quantity]:
    """A pod's ``requests`` or ``limits``: max(sum of containers, each init container) + overhead."""
    spec = pod.get("spec") or {}
    summed: dict[str, Quantity] = {}
    for container in spec.get("containers") or ():
        for name, value in ((container.get("resources") or {}).get(kind) or {}).items():
            q = quantity(value)
            if q is not None:
                summed[name] = summed[name] + q if name in summed else q
    for container in spec.get("initContainers") or ():
        for name, value in ((container.get("resources") or {}).get(kind) or {}).items():
            q = quantity(value)
            if q is not None and (name not in summed or q > summed[name]):
                summed[name] = q
    for name, value in (spec.get("overhead") or {}).items():
        q = quantity(value)
        if q is not None and name in summed:
            summed[name] = summed[name] + q
    return summed


def compute_resource(name: str) -> tuple[str, str] | None:
    """``cpu`` / ``requests.cpu`` -> (requests, cpu); ``limits.memory`` -> (limits, memory)."""
    if name in COMPUTE:
        return "requests", name
    if name.startswith("requests.") and name != "requests.storage":
        return "requests", name[len("requests."):]
    if name.startswith("limits."):
        return "limits", name[len("limits."):]
    return None


def counts_as_usage(pod: Object, now: float) -> bool:
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    deletion = meta(pod).get("deletionTimestamp")
    return not deletion or parse_time(deletion) > now


def best_effort(pod: Object) -> bool:
    return not any(pod_resources(pod, kind) for kind in ("requests", "limits"))


def in_scopes(pod: Object, scopes: list[str]) -> bool:
    terminating = (pod.get("spec") or {}).get("activeDeadlineSeconds") is not None
    for scope in scopes:
        if scope == "Terminating" and not terminating or scope == "NotTerminating" and terminating:
            return False
        if scope == "BestEffort" and not best_effort(pod) or scope == "NotBestEffort" and best_effort(pod):
            return False
    return True


class ResourceQuotaController(Controller):
    name = "resourcequota"
    workers_option = "resourcequota"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, *, resync_period: float | None = None) -> None:
        super().__init__(ctx)
        self.resync_period = float(resync_period if resync_period is not None
                                   else ctx.options.get("resource_quota_sync_period", 300.0))
        self.discovery = Discovery(self.client)
        self.quotas = ctx.factory.informer(QUOTAS)
        self.pods = ctx.factory.informer(PODS)
        self.counted: dict[str, Informer] = {}
        self._lock = asyncio.Lock()
        self.quotas.add_event_handler(self._quota, lambda old, new: self._quota(new), None)
        self.pods.add_event_handler(self._changed, lambda old, new: self._changed(new), self._changed)
        self._resync: asyncio.Task[None] | None = None

    def _quota(self, quota: Object) -> None:
        self.enqueue(f"{meta(quota).get('namespace', '')}/{meta(quota).get('name', '')}")

    def _changed(self, obj: Object) -> None:
        for quota in self.quotas.cache.list(meta(obj).get("namespace", "")):
            self._quota(quota)

    async def start(self) -> None:
        self._resync = asyncio.create_task(self._resync_loop(), name="resourcequota-resync")

    async def run(self, workers: int | None = None) -> None:
        try:
            await super().run(workers)
        finally:
            if self._resync is not None:
                self._resync.cancel()

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_period)
            for quota in self.quotas.cache.list():
                self._quota(quota)

    async def informer_for(self, resource: GroupVersionResource) -> Informer:
        """A started, synced informer whose changes recompute the namespace's quotas."""
        async with self._lock:
            informer = self.counted.get(str(resource))
            if informer is None:
                informer = self.ctx.factory.informer(resource)
                informer.add_event_handler(self._changed, lambda old, new: self._changed(new), self._changed)
                informer.start()
                self.counted[str(resource)] = informer
        await informer.wait_for_sync()
        return informer

    async def resolve_count(self, text: str) -> GroupVersionResource | None:
        """``deployments.apps`` or ``pods`` -> the served resource (preferred version)."""
        plural, _, group = text.partition(".")
        for resource in await self.discovery.resources():
            if resource.name == plural and resource.group == group and resource.preferred:
                return resource.gvr
        self.discovery.invalidate()
        try:
            found = await self.discovery.resolve(text)
        except ResourceNotFound:
            return None
        return found.gvr if found.name == plural and found.group == group else None

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, key: Any) -> None:
        quota = self.quotas.cache.get(key)
        if quota is None:
            return
        namespace = meta(quota).get("namespace", "")
        spec = quota.get("spec") or {}
        hard = dict(spec.get("hard") or {})
        scopes = list(spec.get("scopes") or [])
        now = time.time()
        pods = [p for p in self.pods.cache.list(namespace) if counts_as_usage(p, now) and in_scopes(p, scopes)]
        used: dict[str, str] = {}
        for name in hard:
            value = await self.usage(namespace, name, pods)
            if value is not None:
                used[name] = value
        status = quota.get("status") or {}
        if status.get("hard") == hard and _same(status.get("used") or {}, used):
            return
        body = {**quota, "apiVersion": "v1", "kind": "ResourceQuota", "status": {"hard": hard, "used": used}}
        try:
            await self.client.update_status(QUOTAS, body)
        except NotFound:
            pass

    async def usage(self, namespace: str, name: str, pods: list[Object]) -> str | None:
        if name in ("pods", "count/pods"):
            return str(len(pods))
        compute = compute_resource(name)
        if compute is not None:
            kind, resource = compute
            return total(q for pod in pods for n, q in pod_resources(pod, kind).items() if n == resource)
        if name in CORE_COUNTS:
            informer = await self.informer_for(GroupVersionResource("", "v1", CORE_COUNTS[name]))
            return str(len(informer.cache.list(namespace)))
        if name in ("services.loadbalancers", "services.nodeports"):
            services = (await self.informer_for(GroupVersionResource("", "v1", "services"))).cache.list(namespace)
            if name == "services.loadbalancers":
                return str(sum(1 for s in services if (s.get("spec") or {}).get("type") == "LoadBalancer"))
            return str(sum(1 for s in services for p in (s.get("spec") or {}).get("ports") or () if p.get("nodePort")))
        if name == "requests.storage":
            claims = (await self.informer_for(GroupVersionResource("", "v1", "persistentvolumeclaims"))).cache
            return total(q for c in claims.list(namespace) if (q := quantity(
                (((c.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))) is not None)
        if name.startswith("count/"):
            resource_gvr = await self.resolve_count(name[len("count/"):])
            if resource_gvr is None:
                return None
            return str(len((await self.informer_for(resource_gvr)).cache.list(namespace)))
        return None


def _same(old: dict[str, Any], new: dict[str, str]) -> bool:
    if set(old) != set(new):
        return False
    for key, value in new.items():
        a, b = quantity(old[key]), quantity(value)
        if a is None or b is None or a != b or str(old[key]) != value:
            return False
    return True
