"""DaemonSets: one pod on every eligible node.

A node is eligible when the template's nodeSelector and required node affinity match it and
the pod tolerates every NoSchedule/NoExecute taint, counting the tolerations Kubernetes adds
to daemon pods (not-ready and unreachable NoExecute; disk-, memory-, pid-pressure and
unschedulable NoSchedule; network-unavailable for hostNetwork pods). As in Kubernetes the
controller does not bind: each pod gets a required node affinity for its node
(``matchFields metadata.name In [node]``) and the scheduler places it there.

Pods are labelled with ``controller-revision-hash`` (the template's hash). RollingUpdate
replaces pods of an older hash node by node: with ``maxSurge`` 0 it deletes at most
``maxUnavailable`` (minus the already unavailable) old pods at a time and the next sync puts
new ones in their place; with ``maxSurge`` it starts the new pod first and deletes the old one
once the new one is available. OnDelete leaves old pods until someone deletes them.
"""

from __future__ import annotations

import asyncio
import copy
import math
from typing import Any

from hyperkube.client import NORMAL, NotFound, object_key, split_key
from hyperkube.controllers.base import Controller, ControllerContext, Expectations, Object, route_owned_pods
from hyperkube.controllers.deployment_util import template_hash
from hyperkube.controllers.podcontrol import (
    CONTROLLER_UID_INDEX,
    ORPHAN_INDEX,
    POD_INDEXERS,
    PODS,
    claim,
    fresh_owner_check,
    is_pod_available,
    is_pod_ready,
    is_terminating,
    meta,
    pod_from_template,
)
from hyperkube.machinery.selectors import label_selector_from_dict

DAEMONSETS = "apps/v1/daemonsets"
NODES = "v1/nodes"
HASH_LABEL = "controller-revision-hash"
AUTOMATIC_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
NETWORK_UNAVAILABLE = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


def daemon_tolerations(pod_spec: Object) -> list[Object]:
    tolerations = [dict(t) for t in pod_spec.get("tolerations") or []]
    extra = AUTOMATIC_TOLERATIONS + ([NETWORK_UNAVAILABLE] if pod_spec.get("hostNetwork") else [])
    for toleration in extra:
        if not any(t.get("key") == toleration["key"] and t.get("effect") == toleration["effect"] for t in tolerations):
            tolerations.append(dict(toleration))
    return tolerations


def tolerates(tolerations: list[Object], taint: Object) -> bool:
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        operator = t.get("operator", "Equal")
        if operator == "Exists" and (not t.get("key") or t["key"] == taint.get("key")):
            return True
        if operator == "Equal" and t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _expression_matches(expression: Object, values: dict[str, str]) -> bool:
    key, operator, wanted = expression.get("key", ""), expression.get("operator"), expression.get("values") or []
    present = key in values
    if operator == "In":
        return present and values[key] in wanted
    if operator == "NotIn":
        return not present or values[key] not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and wanted:
        try:
            have, limit = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > limit if operator == "Gt" else have < limit
    return False


def node_matches(pod_spec: Object, node: Object) -> bool:
    labels = meta(node).get("labels") or {}
    if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if terms:
        fields = {"metadata.name": meta(node).get("name", "")}
        if not any(all(_expression_matches(e, labels) for e in term.get("matchExpressions") or [])
                   and all(_expression_matches(e, fields) for e in term.get("matchFields") or [])
                   for term in terms):
            return False
    return True


def should_run(ds: Object, node: Object) -> bool:
    pod_spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    if not node_matches(pod_spec, node):
        return False
    tolerations = daemon_tolerations(pod_spec)
    return all(tolerates(tolerations, taint) for taint in (node.get("spec") or {}).get("taints") or []
               if taint.get("effect") in ("NoSchedule", "NoExecute"))


def pod_node(pod: Object) -> str:
    """The node a daemon pod is for: where it is bound, or the node its affinity names."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and field.get("values"):
                return field["values"][0]
    return ""


def _bound(pod: Object) -> bool:
    """A bound pod stays (Terminating) after the delete until its kubelet finishes it."""
    return bool((pod.get("spec") or {}).get("nodeName"))


def with_node_affinity(pod_spec: Object, node: str) -> None:
    affinity = pod_spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    required = affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        required["nodeSelectorTerms"] = [term]
        return
    for existing in terms:  # replace any name match, keep the label expressions
        existing["matchFields"] = [f for f in existing.get("matchFields") or [] if f.get("key") != "metadata.name"]
        existing["matchFields"].extend(term["matchFields"])


def _scaled(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


class DaemonSetController(Controller):
    name = "daemonset"
    workers_option = "daemonset"
    default_workers = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = Expectations()
        self.sets = ctx.factory.informer(DAEMONSETS)
        self.nodes = ctx.factory.informer(NODES)
        self.pods = ctx.factory.informer(PODS, indexers=POD_INDEXERS)
        self.sets.add_event_handler(self._changed, lambda old, new: self._changed(new), self._changed)
        self.nodes.add_event_handler(self._node, lambda old, new: self._node(new), self._node)
        route_owned_pods(self, self.pods, "DaemonSet", self.expectations)

    def _changed(self, ds: Object) -> None:
        self.enqueue(object_key(ds))

    def _node(self, node: Object) -> None:
        for ds in self.sets.cache.list():
            self.enqueue(object_key(ds))

    async def sync(self, key: Any) -> None:
        cached = self.sets.cache.get(key)
        if cached is None:
            self.expectations.forget(key)
            return
        ds = {**copy.deepcopy(cached), "apiVersion": "apps/v1", "kind": "DaemonSet"}
        if is_terminating(ds):
            return
        namespace, _ = split_key(key)
        spec = ds.get("spec") or {}
        candidates = self.pods.cache.by_index(CONTROLLER_UID_INDEX, meta(ds)["uid"]) + \
            self.pods.cache.by_index(ORPHAN_INDEX, namespace)
        pods = await claim(self.client, PODS, ds, candidates, label_selector_from_dict(spec.get("selector")),
                           can_adopt=lambda: fresh_owner_check(self.client, DAEMONSETS, ds))
        current_hash = template_hash(spec.get("template") or {})
        min_ready = int(spec.get("minReadySeconds") or 0)
        by_node: dict[str, list[Object]] = {}
        for pod in pods:
            by_node.setdefault(pod_node(pod), []).append(pod)
        nodes = {meta(n)["name"]: n for n in self.nodes.cache.list()}
        wanted = {name for name, node in nodes.items() if should_run(ds, node)}
        create: list[str] = []
        delete: list[Object] = []
        for name in set(nodes) | set(by_node):
            live = [p for p in by_node.get(name, []) if not is_terminating(p)]
            failed = [p for p in live if (p.get("status") or {}).get("phase") == "Failed"]
            delete += failed
            live = [p for p in live if p not in failed]
            if name in wanted:
                if not live and not any(is_terminating(p) for p in by_node.get(name, [])):
                    create.append(name)
                elif len(live) > 1 and not self._surging(live, current_hash):
                    live.sort(key=lambda p: meta(p).get("creationTimestamp", ""))
                    delete += live[1:]
            else:
                delete += live
        delete += self.rolling_update(ds, by_node, wanted, current_hash, min_ready, create)
        if not self.expectations.satisfied(key):
            create, delete = [], []  # earlier writes are not in the cache yet: decide again once they are
        delete = list({meta(p)["uid"]: p for p in delete}.values())
        if create or delete:
            self.expectations.expect_creations(key, len(create))
            self.expectations.expect_deletions(key, [object_key(p) for p in delete if not _bound(p)])
        await asyncio.gather(*(self.delete_pod(ds, pod) for pod in delete))  # old pods go before surge pods come
        await asyncio.gather(*(self.create_pod(ds, node, current_hash) for node in create))
        await self.update_status(ds, by_node, wanted, current_hash, min_ready)

    def _surging(self, live: list[Object], current_hash: str) -> bool:
        hashes = {(meta(p).get("labels") or {}).get(HASH_LABEL) for p in live}
        return len(live) == 2 and current_hash in hashes and len(hashes) == 2

    def rolling_update(self, ds: Object, by_node: dict[str, list[Object]], wanted: set[str], current_hash: str,
                       min_ready: int, create: list[str]) -> list[Object]:
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return []
        rolling = strategy.get("rollingUpdate") or {}
        surge = _scaled(rolling.get("maxSurge", 0), len(wanted), round_up=True)
        unavailable_budget = _scaled(rolling.get("maxUnavailable", 1), len(wanted), round_up=False)
        if surge == 0 and unavailable_budget == 0:
            unavailable_budget = 1

        def hash_of(p: Object) -> str | None:
            return (meta(p).get("labels") or {}).get(HASH_LABEL)

        live = {n: [p for p in by_node.get(n, []) if not is_terminating(p)] for n in wanted}
        deletes: list[Object] = []
        if surge == 0:
            unavailable = sum(1 for n in wanted if not any(is_pod_available(p, min_ready) for p in live[n]))
            old_unavailable = [p for n in sorted(wanted) for p in live[n]
                               if hash_of(p) != current_hash and not is_pod_available(p, min_ready)]
            old_available = [p for n in sorted(wanted) for p in live[n]
                             if hash_of(p) != current_hash and is_pod_available(p, min_ready)]
            deletes += old_unavailable  # costs no availability
            budget = unavailable_budget - unavailable
            deletes += old_available[:max(budget, 0)]
            return deletes
        surging = 0
        for node in sorted(wanted):
            old = [p for p in live[node] if hash_of(p) != current_hash]
            new = [p for p in live[node] if hash_of(p) == current_hash]
            if not old:
                continue
            if new:
                if any(is_pod_available(p, min_ready) for p in new):
                    deletes += old
                else:
                    surging += 1
            elif surging < surge:
                create.append(node)
                surging += 1
        return deletes

    async def create_pod(self, ds: Object, node: str, current_hash: str) -> None:
        template = (ds.get("spec") or {}).get("template") or {}
        pod = pod_from_template(ds, template, extra_labels={HASH_LABEL: current_hash})
        pod["spec"]["tolerations"] = daemon_tolerations(pod["spec"])
        with_node_affinity(pod["spec"], node)
        created = await self.client.create(PODS, pod, namespace=meta(ds)["namespace"])
        self.recorder.event(ds, NORMAL, "SuccessfulCreate", f"Created pod: {meta(created)['name']}")

    async def delete_pod(self, ds: Object, pod: Object) -> None:
        try:
            await self.client.delete(PODS, meta(pod)["name"], namespace=meta(pod)["namespace"],
                                     preconditions={"uid": meta(pod)["uid"]})
            self.recorder.event(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta(pod)['name']}")
        except NotFound:
            pass

    async def update_status(self, ds: Object, by_node: dict[str, list[Object]], wanted: set[str],
                            current_hash: str, min_ready: int) -> None:
        live = {n: [p for p in pods if not is_terminating(p)] for n, pods in by_node.items()}
        scheduled = [n for n in wanted if live.get(n)]
        status = {
            "observedGeneration": meta(ds).get("generation", 1),
            "desiredNumberScheduled": len(wanted),
            "currentNumberScheduled": len(scheduled),
            "numberMisscheduled": sum(1 for n, pods in live.items() if pods and n not in wanted),
            "numberReady": sum(1 for n in scheduled if any(is_pod_ready(p) for p in live[n])),
            "numberAvailable": sum(1 for n in scheduled if any(is_pod_available(p, min_ready) for p in live[n])),
            "updatedNumberScheduled": sum(1 for n in scheduled if any(
                (meta(p).get("labels") or {}).get(HASH_LABEL) == current_hash for p in live[n])),
        }
        status["numberUnavailable"] = len(wanted) - status["numberAvailable"]
        old = ds.get("status") or {}
        if all(old.get(k, 0) == v for k, v in status.items()):
            return
        try:
            await self.client.patch_status(DAEMONSETS, meta(ds)["name"], {"status": status},
                                           namespace=meta(ds)["namespace"])
        except NotFound:
            pass
