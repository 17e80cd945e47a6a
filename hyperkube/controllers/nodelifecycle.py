"""The node lifecycle controller: node health, condition taints, and NoExecute eviction.

Health. A kubelet proves it is alive by renewing its Lease in ``kube-node-lease`` and by
posting node status (the Ready condition's ``lastHeartbeatTime``). The controller records
the *local* time at which it last saw either change (clocks of other machines are never
compared). A node not heard from for ``grace_period`` (``--node-monitor-grace-period``,
40 s; ``startup_grace_period`` for a node that never posted Ready) gets every kubelet
condition set to Unknown ("Kubelet stopped posting node status."), and the pods on it are
marked not Ready, so endpoints drop them at once.

Taints, from the node's state (TaintNodesByCondition and TaintBasedEvictions):

====================  ==================================================  ==============
Ready False           node.kubernetes.io/not-ready                        NoSchedule + NoExecute
Ready Unknown         node.kubernetes.io/unreachable                      NoSchedule + NoExecute
spec.unschedulable    node.kubernetes.io/unschedulable                    NoSchedule
Memory/Disk/PID       node.kubernetes.io/{memory,disk,pid}-pressure       NoSchedule
NetworkUnavailable    node.kubernetes.io/network-unavailable              NoSchedule
====================  ==================================================  ==============

Adding a NoExecute taint is rate-limited (``--node-eviction-rate`` nodes per second, so a
network partition does not evict a whole cluster at once).

Eviction (the NoExecute taint manager). A pod on a node with NoExecute taints is deleted at
once when it does not tolerate one of them, else when the shortest matching
``tolerationSeconds`` has passed since the taint was added (the API server gives every pod
300 s for not-ready and unreachable). Its controller then replaces it on another node.

Work items are ``("node", name)`` and ``("pod", namespace/name)``; a periodic sweep every
``monitor_period`` seconds re-checks every node, as ``--node-monitor-period`` does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from hyperkube.client import NORMAL, BucketRateLimiter, Conflict, NotFound, object_key
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import PODS, get_condition, is_terminating, meta, parse_time
from hyperkube.machinery.durations import now_rfc3339

log = logging.getLogger("hyperkube.controllers.nodelifecycle")

NODES = "v1/nodes"
LEASES = "coordination.k8s.io/v1/leases"
LEASE_NAMESPACE = "kube-node-lease"
NODE_INDEX = "nodelifecycle-node"
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
CONDITION_TAINTS = {"MemoryPressure": "node.kubernetes.io/memory-pressure",
                    "DiskPressure": "node.kubernetes.io/disk-pressure",
                    "PIDPressure": "node.kubernetes.io/pid-pressure",
                    "NetworkUnavailable": "node.kubernetes.io/network-unavailable"}
MANAGED_KEYS = {NOT_READY, UNREACHABLE, UNSCHEDULABLE, *CONDITION_TAINTS.values()}
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(value: Any) -> float:
    """A Go duration flag (``40s``, ``1m30s``, ``500ms``) or a plain number, in seconds."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    total, number = 0.0, ""
    index = 0
    while index < len(text):
        char = text[index]
        if char.isdigit() or char == ".":
            number += char
            index += 1
            continue
        unit = next((u for u in ("ns", "us", "µs", "ms", "s", "m", "h") if text.startswith(u, index)), None)
        if unit is None or not number:
            raise ValueError(f"invalid duration {value!r}")
        total += float(number) * _UNITS[unit]
        number = ""
        index += len(unit)
    if number:
        raise ValueError(f"missing unit in duration {value!r}")
    return total


def pod_node_index(pod: Object) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


def tolerates(toleration: Object, taint: Object) -> bool:
    """Kubernetes' ToleratesTaint: effect (empty = any), key (empty + Exists = any), value."""
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    operator = toleration.get("operator") or "Equal"
    if not toleration.get("key"):
        return operator == "Exists"
    if toleration.get("key") != taint.get("key"):
        return False
    return operator == "Exists" or (toleration.get("value") or "") == (taint.get("value") or "")


def eviction_delay(pod: Object, taints: list[Object]) -> float | None:
    """Seconds a pod may stay under these NoExecute taints: 0 (now), a number, or None (ever)."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    shortest: float | None = None
    for taint in taints:
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return 0.0
        for toleration in matching:
            seconds = toleration.get("tolerationSeconds")
            if seconds is not None:
                shortest = max(0.0, float(seconds)) if shortest is None else min(shortest, max(0.0, float(seconds)))
    return shortest


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    workers_option = "nodelifecycle"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, *, grace_period: float | None = None,
                 startup_grace_period: float | None = None, monitor_period: float | None = None,
                 eviction_rate: float | None = None) -> None:
        super().__init__(ctx)
        options = ctx.options
        self.grace = seconds(grace_period if grace_period is not None
                             else options.get("node_monitor_grace_period", "40s"))
        self.startup_grace = seconds(startup_grace_period if startup_grace_period is not None
                                     else options.get("node_startup_grace_period", "1m"))
        self.monitor_period = seconds(monitor_period if monitor_period is not None
                                      else options.get("node_monitor_period", "5s"))
        rate = float(eviction_rate if eviction_rate is not None else options.get("node_eviction_rate", 0.1))
        self.limiter = BucketRateLimiter(rate, 1) if rate > 0 else None
        self.slots: dict[str, float] = {}  # node -> monotonic time its NoExecute taint may be added
        self.last_seen: dict[str, float] = {}
        self.nodes = ctx.factory.informer(NODES)
        self.leases = ctx.factory.informer(LEASES, namespace=LEASE_NAMESPACE)
        self.pods = ctx.factory.informer(PODS, indexers={NODE_INDEX: pod_node_index})
        self.nodes.add_event_handler(self._node_added, self._node_updated, self._node_deleted)
        self.leases.add_event_handler(self._lease_event, lambda old, new: self._lease_changed(old, new), None)
        self.pods.add_event_handler(self._pod_event, lambda old, new: self._pod_event(new), None)
        self._sweeper: asyncio.Task[None] | None = None

    # -- event handlers ---------------------------------------------------------------------------

    def _heard_from(self, name: str) -> None:
        self.last_seen[name] = time.monotonic()
        self.enqueue(("node", name))

    def _node_added(self, node: Object) -> None:
        self._heard_from(meta(node).get("name", ""))

    def _node_updated(self, old: Object, new: Object) -> None:
        name = meta(new).get("name", "")
        before, after = get_condition(old, "Ready") or {}, get_condition(new, "Ready") or {}
        if before.get("lastHeartbeatTime") != after.get("lastHeartbeatTime"):
            self._heard_from(name)
        else:
            self.enqueue(("node", name))
        if (new.get("spec") or {}).get("taints") != (old.get("spec") or {}).get("taints"):
            for pod in self.pods.cache.by_index(NODE_INDEX, name):
                self.enqueue(("pod", object_key(pod)))

    def _node_deleted(self, node: Object) -> None:
        name = meta(node).get("name", "")
        self.last_seen.pop(name, None)
        self.slots.pop(name, None)

    def _lease_event(self, lease: Object) -> None:
        self._heard_from(meta(lease).get("name", ""))

    def _lease_changed(self, old: Object, new: Object) -> None:
        if (old.get("spec") or {}).get("renewTime") != (new.get("spec") or {}).get("renewTime"):
            self._heard_from(meta(new).get("name", ""))

    def _pod_event(self, pod: Object) -> None:
        if (pod.get("spec") or {}).get("nodeName") and not is_terminating(pod):
            self.enqueue(("pod", object_key(pod)))

    # -- running ----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep(), name="nodelifecycle-sweep")

    async def run(self, workers: int | None = None) -> None:
        try:
            await super().run(workers)
        finally:
            if self._sweeper is not None:
                self._sweeper.cancel()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.monitor_period)
            for name in self.nodes.cache.keys():
                self.enqueue(("node", name))

    async def sync(self, key: Any) -> None:
        kind, name = key
        if kind == "node":
            await self.sync_node(name)
        else:
            await self.sync_pod(name)

    # -- nodes ------------------------------------------------------------------------------------

    async def sync_node(self, name: str) -> None:
        node = self.nodes.cache.get(name)
        if node is None:
            return
        now = time.monotonic()
        seen = self.last_seen.setdefault(name, now)
        ready = get_condition(node, "Ready")
        grace = self.grace if ready is not None else self.startup_grace
        if now - seen > grace:
            if ready is None or ready.get("status") != "Unknown":
                node = await self.mark_unknown(node)
                await self.mark_pods_not_ready(name)
        else:
            self.enqueue_after(("node", name), grace - (now - seen) + 0.05)
        await self.update_taints(node)

    async def mark_unknown(self, node: Object) -> Object:
        name = meta(node)["name"]
        stamp = now_rfc3339()
        conditions = list((node.get("status") or {}).get("conditions") or [])
        by_type = {c.get("type"): c for c in conditions}
        for kind in KUBELET_CONDITIONS:
            old = by_type.get(kind)
            if old is None:
                conditions.append({"type": kind, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                                   "message": "Kubelet never posted node status.", "lastHeartbeatTime": stamp,
                                   "lastTransitionTime": stamp})
            elif old.get("status") != "Unknown":
                old.update(status="Unknown", reason="NodeStatusUnknown",
                           message="Kubelet stopped posting node status.", lastTransitionTime=stamp)
        log.info("node %s: not heard from in %.0fs; status Unknown", name, self.grace)
        self.recorder.event({**node, "kind": "Node", "apiVersion": "v1"}, NORMAL, "NodeNotReady",
                            f"Node {name} status is now: NodeNotReady")
        try:
            return await self.client.patch_status(NODES, name, {"status": {"conditions": conditions}},
                                                  patch_type="merge")
        except NotFound:
            return node

    async def mark_pods_not_ready(self, node_name: str) -> None:
        stamp = now_rfc3339()
        for pod in self.pods.cache.by_index(NODE_INDEX, node_name):
            ready = get_condition(pod, "Ready")
            if ready is None or ready.get("status") == "False":
                continue
            patch = {"status": {"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": stamp}]}}
            m = meta(pod)
            try:
                await self.client.patch_status(PODS, m["name"], patch, namespace=m.get("namespace"),
                                               patch_type="strategic")
            except NotFound:
                pass

    def desired_taints(self, node: Object) -> list[Object]:
        ready = (get_condition(node, "Ready") or {}).get("status")
        wanted: list[tuple[str, str]] = []
        if ready == "False":
            wanted += [(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")]
        elif ready == "Unknown":
            wanted += [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]
        if (node.get("spec") or {}).get("unschedulable"):
            wanted.append((UNSCHEDULABLE, "NoSchedule"))
        for condition, key in CONDITION_TAINTS.items():
            if (get_condition(node, condition) or {}).get("status") == "True":
                wanted.append((key, "NoSchedule"))
        return [{"key": key, "effect": effect} for key, effect in wanted]

    async def update_taints(self, node: Object) -> None:
        name = meta(node)["name"]
        current = list((node.get("spec") or {}).get("taints") or [])
        managed = {(t.get("key"), t.get("effect")): t for t in current if t.get("key") in MANAGED_KEYS}
        wanted = {(t["key"], t["effect"]): t for t in self.desired_taints(node)}
        adding_no_execute = any(k not in managed and k[1] == "NoExecute" for k in wanted)
        if adding_no_execute and self.limiter is not None:
            slot = self.slots.get(name)
            if slot is None:
                slot = self.slots[name] = time.monotonic() + self.limiter.when(name)
            wait = slot - time.monotonic()
            if wait > 0:  # rate-limited: NoSchedule now, NoExecute when the slot comes
                self.enqueue_after(("node", name), wait)
                wanted = {k: v for k, v in wanted.items() if not (k[1] == "NoExecute" and k not in managed)}
            else:
                self.slots.pop(name, None)
        elif not adding_no_execute:
            self.slots.pop(name, None)
        if set(wanted) == set(managed):
            return
        stamp = now_rfc3339()
        taints = [t for t in current if t.get("key") not in MANAGED_KEYS or (t.get("key"), t.get("effect")) in wanted]
        for key, taint in wanted.items():
            if key not in managed:
                taints.append({**taint, "timeAdded": stamp} if taint["effect"] == "NoExecute" else taint)
        patch = {"metadata": {"resourceVersion": meta(node).get("resourceVersion")}, "spec": {"taints": taints}}
        try:
            await self.client.patch(NODES, name, patch)
        except NotFound:
            return
        except Conflict:
            self.enqueue(("node", name))  # the informer brings the newer node; sync again

    # -- pods (the NoExecute taint manager) -------------------------------------------------------

    async def sync_pod(self, key: str) -> None:
        pod = self.pods.cache.get(key)
        if pod is None or is_terminating(pod):
            return
        node = self.nodes.cache.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None:
            return
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return
        delay = eviction_delay(pod, taints)
        if delay is None:
            return
        added = max((parse_time(t.get("timeAdded")) for t in taints), default=0.0) or time.time()
        remaining = added + delay - time.time()
        if remaining > 0:
            self.enqueue_after(("pod", key), remaining + 0.05)
            return
        namespace, _, name = key.partition("/")
        self.recorder.event({**pod, "kind": "Pod", "apiVersion": "v1"}, NORMAL, "TaintManagerEviction",
                            f"Marking for deletion Pod {key}")
        try:
            await self.client.delete(PODS, name, namespace=namespace,
                                     preconditions={"uid": meta(pod).get("uid", "")})
        except (NotFound, Conflict):
            pass
