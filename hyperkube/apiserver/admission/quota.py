"""ResourceQuota: a create that would take a namespace past any quota's ``hard`` is refused
(403 ``exceeded quota: q, requested: pods=1, used: pods=3, limited: pods=3``), and one that
fits is charged to the quotas' ``status.used`` before the object is stored.

The check and the charge are one step, so concurrent creates never overcommit: creates in a
namespace take that namespace's lock in this server, re-read the matching quotas from the
store, and write every charged quota back in one txn that compares each quota's mod revision
(another API server, or the ResourceQuota controller recalculating ``status.used``, makes the
txn fail and the step start again). A dry-run is checked but not charged. When a quota's
``status.used`` lacks a resource (the controller has not seen the quota yet), the usage is
counted from the store, the way the controller counts it: pods that are neither finished nor
past their deletion time, and every object of the other counted kinds. As in Kubernetes, a
create that fails after its charge leaves the quota over-charged until the controller's next
recalculation. A named create of an object that exists is checked (403 when over) but not
charged, since the store will refuse it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hyperkube.apiserver.admission import register
from hyperkube.apiserver.admission.common import Object, forbidden, listed, metadata, quantity
from hyperkube.apiserver.admission.limitranger import pod_totals
from hyperkube.apiserver.auth import AdmissionRequest
from hyperkube.machinery import errors
from hyperkube.machinery.durations import parse_rfc3339
from hyperkube.machinery.quantity import Quantity
from hyperkube.storage.interface import Compare, PutRequest, RangeRequest, prefix_end

CORE_COUNTS = ("pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers",
               "resourcequotas")
COMPUTE = ("cpu", "memory", "ephemeral-storage")
CHECKED = {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
ONE = Quantity(1)
UPDATE_CHARGED = ("services", "persistentvolumeclaims")  # kinds whose updates can use more


def pretty(values: dict[str, Quantity]) -> str:
    return ",".join(f"{name}={values[name]}" for name in sorted(values))


def usage(group: str, plural: str, obj: Object) -> dict[str, Quantity]:
    """What one object of this kind counts against a quota."""
    counted: dict[str, Quantity] = {f"count/{plural}" + (f".{group}" if group else ""): ONE}
    if group:
        return counted
    if plural in CORE_COUNTS:
        counted[plural] = ONE
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if plural == "pods":
        requests, limits = pod_totals(spec)
        for overhead, q in ((spec.get("overhead") or {}) if isinstance(spec.get("overhead"), dict) else {}).items():
            parsed = quantity(q)
            for totals in (requests, limits):
                if parsed is not None and overhead in totals:
                    totals[overhead] = totals[overhead] + parsed
        for name, q in requests.items():
            counted[f"requests.{name}"] = q
            if name in COMPUTE:
                counted[name] = q
        for name, q in limits.items():
            counted[f"limits.{name}"] = q
    elif plural == "persistentvolumeclaims":
        storage = quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
        if storage is not None:
            counted["requests.storage"] = storage
            klass = spec.get("storageClassName")
            if klass:
                counted[f"{klass}.storageclass.storage.k8s.io/requests.storage"] = storage
                counted[f"{klass}.storageclass.storage.k8s.io/persistentvolumeclaims"] = ONE
    elif plural == "services":
        kind = spec.get("type")
        if kind == "LoadBalancer":
            counted["services.loadbalancers"] = ONE
        if kind in ("NodePort", "LoadBalancer"):
            counted["services.nodeports"] = Quantity(len(spec.get("ports") or []))
    return counted


def kind_of(name: str) -> tuple[str, str]:
    """The (group, plural) a quota resource name counts."""
    if name.startswith("count/"):
        plural, _, group = name[len("count/"):].partition(".")
        return group, plural
    if name in CORE_COUNTS:
        return "", name
    if name == "requests.storage" or ".storageclass.storage.k8s.io/" in name:
        return "", "persistentvolumeclaims"
    if name.startswith("services."):
        return "", "services"
    return "", "pods"


def live_pod(pod: Object, now: float) -> bool:
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    deletion = metadata(pod).get("deletionTimestamp")
    return not deletion or parse_rfc3339(deletion) > now


def _best_effort(pod: Object) -> bool:
    return not any(pod_totals(pod.get("spec") or {}))


def in_scope(quota: Object, group: str, plural: str, obj: Object) -> bool:
    spec = quota.get("spec") or {}
    scopes = list(spec.get("scopes") or [])
    selector = spec.get("scopeSelector") or {}
    expressions = [e for e in selector.get("matchExpressions") or [] if isinstance(e, dict)]
    if not scopes and not expressions:
        return True
    if group or plural != "pods":
        return False
    pod_spec = obj.get("spec") or {}
    terminating = pod_spec.get("activeDeadlineSeconds") is not None
    facts = {"Terminating": terminating, "NotTerminating": not terminating,
             "BestEffort": _best_effort(obj), "NotBestEffort": not _best_effort(obj)}
    for scope in scopes:
        if not facts.get(scope, False):
            return False
    for expression in expressions:
        scope, operator = expression.get("scopeName"), expression.get("operator")
        if scope == "PriorityClass":
            value = pod_spec.get("priorityClassName") or ""
            values = expression.get("values") or []
            matched = {"In": value in values, "NotIn": value not in values, "Exists": bool(value),
                       "DoesNotExist": not value}.get(operator, False)
        else:
            matched = facts.get(scope, False) if operator in ("Exists", None) else not facts.get(scope, True)
        if not matched:
            return False
    return True


@register("ResourceQuota")
class ResourceQuota:
    name = "ResourceQuota"

    def __init__(self, config: Any, objects: Any) -> None:
        self.objects = objects
        self.locks: dict[str, asyncio.Lock] = {}

    def wants(self, resource: Any, subresource: str, operation: str) -> bool:
        if not resource.namespaced or subresource:
            return False
        return operation == "CREATE" or (operation == "UPDATE" and not resource.group
                                         and resource.plural in UPDATE_CHARGED)

    async def validate(self, request: AdmissionRequest) -> None:
        quotas = await listed(self.objects, "", "resourcequotas", request.namespace)
        if not quotas:
            return
        group, plural, obj = request.resource.group, request.resource.plural, request.obj or {}
        requested = usage(group, plural, obj)
        if request.operation == "UPDATE":  # only what grows: a bigger claim, a Service turned LoadBalancer
            before = usage(group, plural, request.old or {})
            requested = {k: v - before[k] if k in before else v for k, v in requested.items()
                         if k not in before or v > before[k]}
            if not requested:
                return
        relevant = [q for q in quotas if in_scope(q, group, plural, obj)
                    and set((q.get("spec") or {}).get("hard") or {}) & set(requested)]
        if group == "" and plural == "pods" and request.operation == "CREATE":
            for q in quotas:
                if in_scope(q, group, plural, obj):
                    self._constraints(request, q)
        if not relevant:
            return
        charge = not request.dry_run and (request.operation == "UPDATE" or not await self._exists(request))
        lock = self.locks.setdefault(request.namespace, asyncio.Lock())
        async with lock:
            for _attempt in range(16):
                if await self._charge(request, [metadata(q).get("name", "") for q in relevant], requested, charge):
                    return
        raise errors.Conflict("Operation cannot be fulfilled on resourcequotas: too many concurrent updates, "
                              "try again", details={"kind": "resourcequotas"})

    async def _exists(self, request: AdmissionRequest) -> bool:
        """A named create of an object that exists fails in the store: don't charge it."""
        if not request.name:
            return False
        try:
            await self.objects.read(request.resource, request.namespace, request.name, cached=True)
        except errors.NotFound:
            return False
        return True

    def _constraints(self, request: AdmissionRequest, quota: Object) -> None:
        """Kubernetes' old rule: a pod under a quota of cpu or memory names them in every container."""
        required = set((quota.get("spec") or {}).get("hard") or {}) & CHECKED
        missing: dict[str, list[str]] = {}
        for group in ("initContainers", "containers"):
            for container in ((request.obj or {}).get("spec") or {}).get(group) or []:
                resources = container.get("resources") or {}
                for name in required:
                    kind, _, resource = name.rpartition(".")
                    values = resources.get("limits" if kind == "limits" else "requests") or {}
                    if resource not in values:
                        missing.setdefault(name, []).append(container.get("name", ""))
        if missing:
            text = "; ".join(f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing))
            raise forbidden(request, f"failed quota: {metadata(quota).get('name')}: must specify {text}")

    async def _charge(self, request: AdmissionRequest, names: list[str], requested: dict[str, Quantity],
                      charge: bool) -> bool:
        objects = self.objects
        resource = objects.registry.get("", "v1", "resourcequotas")
        compares, puts, charged = [], [], []
        for name in sorted(names):
            try:
                kv = await objects.read(resource, request.namespace, name)
            except errors.NotFound:
                continue
            quota = objects.decode(resource, kv.value, kv.mod_revision)
            hard = {k: q for k, v in ((quota.get("spec") or {}).get("hard") or {}).items()
                    if (q := quantity(v)) is not None}
            status = quota.setdefault("status", {})
            used = dict(status.get("used") or {})
            exceeded, new_used = [], {}
            for key, amount in requested.items():
                if key not in hard:
                    continue
                current = quantity(used.get(key))
                if current is None:
                    current = await self._count(request.namespace, key, quota)
                total = amount if current.is_zero() else current + amount
                new_used[key] = total
                if total > hard[key]:
                    exceeded.append(key)
            if exceeded:
                raise forbidden(request, f"exceeded quota: {name}, requested: "
                                         f"{pretty({k: requested[k] for k in exceeded})}, used: "
                                         f"{pretty({k: new_used[k] - requested[k] for k in exceeded})}, limited: "
                                         f"{pretty({k: hard[k] for k in exceeded})}")
            used.update({k: str(v) for k, v in new_used.items()})
            status["used"] = used
            status.setdefault("hard", (quota.get("spec") or {}).get("hard") or {})
            key = objects.key(resource, request.namespace, name)
            compares.append(Compare(key, "mod", "=", kv.mod_revision))
            puts.append(PutRequest(key, objects.encode(resource, quota)))
            charged.append(name)
        if not charge or not puts:
            return True
        result = await objects.store.txn(compares, puts)
        if result.succeeded:
            objects.wrote(resource, result.revision)
        return result.succeeded

    async def _count(self, namespace: str, name: str, quota: Object) -> Quantity:
        """Usage of one resource of the namespace, counted from the store."""
        group, plural = kind_of(name)
        found = next((r for r in self.objects.registry if r.group == group and r.plural == plural), None)
        if found is None:
            return Quantity(0)
        prefix = self.objects.resource_prefix(found) + f"{namespace}/"
        result = await self.objects.store.range(RangeRequest(prefix, prefix_end(prefix)))
        now = time.time()
        total: Quantity | None = None
        for kv in result.kvs:
            obj = self.objects.decode(found, kv.value, kv.mod_revision)
            if plural == "pods" and not group and not live_pod(obj, now):
                continue
            if not in_scope(quota, group, plural, obj):
                continue
            amount = usage(group, plural, obj).get(name)
            if amount is not None:
                total = amount if total is None else total + amount
        return total if total is not None else Quantity(0)
