"""Filters, under Kubernetes 1.2's predicate names, with today's Kubernetes wording of reasons.

Each class registers itself by name; the registry's order is the order they run in, cheap
and decisive first, as kube-scheduler orders its filter plugins. A node failing one filter is
not checked against the rest (its first reason is the one reported), except that
PodFitsResources reports every resource the node lacks.
"""

from __future__ import annotations

from typing import Any

from hyperkube.scheduler.affinity import (
    PodAffinityTerm,
    pod_affinity_terms,
    required_node_matcher,
    untolerated,
)
from hyperkube.scheduler.framework import CycleState, Reasons, predicate
from hyperkube.scheduler.nodeinfo import NodeInfo
from hyperkube.scheduler.vectorized import NodeTable, np

NO_SCHEDULE_EFFECTS = frozenset({"NoSchedule", "NoExecute"})
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


@predicate("CheckNodeCondition")
class CheckNodeCondition:
    """Only nodes whose Ready condition is True take new pods."""

    def prepare(self, state: CycleState) -> bool:
        return True

    def filter_many(self, state: CycleState, nodes: list[NodeInfo]) -> list[NodeInfo]:
        return [n for n in nodes if n.ready]

    def mask(self, state: CycleState, table: NodeTable) -> Any:
        return table.ready

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons:
        return None if node.ready else "node(s) were not ready"


@predicate("CheckNodeUnschedulable")
class CheckNodeUnschedulable:
    """``spec.unschedulable`` (kubectl cordon) keeps new pods off, unless they tolerate the
    node.kubernetes.io/unschedulable:NoSchedule taint."""

    def prepare(self, state: CycleState) -> bool:
        tolerations = (state.pod.pod.get("spec") or {}).get("tolerations") or []
        tolerated = untolerated([UNSCHEDULABLE_TAINT], tolerations, NO_SCHEDULE_EFFECTS) is None
        return not tolerated

    def mask(self, state: CycleState, table: NodeTable) -> Any:
        return ~table.unschedulable

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons:
        return "node(s) were unschedulable" if node.unschedulable else None


@predicate("HostName")
class HostName:
    """A pod that names its node (``spec.nodeName``) fits only there."""

    def prepare(self, state: CycleState) -> bool:
        return bool((state.pod.pod.get("spec") or {}).get("nodeName"))

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons:
        wanted = (state.pod.pod.get("spec") or {}).get("nodeName")
        return None if wanted == node.name else "node(s) didn't match the requested node name"


@predicate("PodToleratesNodeTaints")
class PodToleratesNodeTaints:
    """Every NoSchedule and NoExecute taint of the node must be tolerated."""

    def prepare(self, state: CycleState) -> bool:
        state.data["tolerations"] = (state.pod.pod.get("spec") or {}).get("tolerations") or []
        return True

    def filter_many(self, state: CycleState, nodes: list[NodeInfo]) -> list[NodeInfo]:
        return [n for n in nodes if not n.taints or self.filter(state, n) is None]

    def mask(self, state: CycleState, table: NodeTable) -> Any:
        passed = ~table.tainted
        nodes = state.cache.nodes
        for row in np.flatnonzero(table.tainted):  # few nodes carry hard taints
            passed[row] = self.filter(state, nodes[row]) is None
        return passed

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons:
        if not node.taints:
            return None
        taint = untolerated(node.taints, state.data["tolerations"], NO_SCHEDULE_EFFECTS)
        if taint is None:
            return None
        return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"


@predicate("MatchNodeSelector")
class MatchNodeSelector:
    """spec.nodeSelector and required node affinity (In, NotIn, Exists, DoesNotExist, Gt, Lt,
    and matchFields on metadata.name)."""

    def prepare(self, state: CycleState) -> bool:
        matcher = required_node_matcher(state.pod.pod)
        state.data["node_matcher"] = matcher
        return matcher is not None

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons:
        if state.data["node_matcher"](node.labels, node.name):
            return None
        return "node(s) didn't match Pod's node affinity/selector"


@predicate("PodFitsHostPorts")
class PodFitsHostPorts:
    """On process-runtime nodes every containerPort is a host port: two pods using one port
    (and protocol) never share a node."""

    def prepare(self, state: CycleState) -> bool:
        return bool(state.pod.ports)

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons:
        if node.ports and not state.pod.ports.isdisjoint(node.ports):
            return "node(s) didn't have free ports for the requested pod ports"
        return None


@predicate("PodFitsResources")
class PodFitsResources:
    """Requests (CPU, memory, ephemeral storage, extended resources) against what the node's
    allocatable leaves after its pods' requests. A pod without requests always fits."""

    def prepare(self, state: CycleState) -> bool:
        r = state.pod.requests
        return bool(r.cpu or r.memory or r.ephemeral or r.scalars)

    def filter_many(self, state: CycleState, nodes: list[NodeInfo]) -> list[NodeInfo]:
        r = state.pod.requests
        if r.ephemeral or r.scalars:
            return [n for n in nodes if self.filter(state, n) is None]
        cpu, memory = r.cpu, r.memory
        if not memory:
            return [n for n in nodes if n.requested_cpu + cpu <= n.allocatable_cpu]
        if not cpu:
            return [n for n in nodes if n.requested_memory + memory <= n.allocatable_memory]
        return [n for n in nodes if n.requested_cpu + cpu <= n.allocatable_cpu
                and n.requested_memory + memory <= n.allocatable_memory]

    def mask(self, state: CycleState, table: NodeTable) -> Any:
        r = state.pod.requests
        if r.ephemeral or r.scalars:
            return None  # the per-node path checks those
        passed = None
        if r.cpu:
            passed = table.requested_cpu + r.cpu <= table.allocatable_cpu
        if r.memory:
            fits = table.requested_memory + r.memory <= table.allocatable_memory
            passed = fits if passed is None else passed & fits
        return passed

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons:
        r = state.pod.requests
        missing = []
        if r.cpu and node.requested_cpu + r.cpu > node.allocatable_cpu:
            missing.append("Insufficient cpu")
        if r.memory and node.requested_memory + r.memory > node.allocatable_memory:
            missing.append("Insufficient memory")
        if r.ephemeral and node.requested_ephemeral + r.ephemeral > node.allocatable_ephemeral:
            missing.append("Insufficient ephemeral-storage")
        for name, value in r.scalars.items():
            if node.requested_scalars.get(name, 0) + value > node.allocatable_scalars.get(name, 0):
                missing.append(f"Insufficient {name}")
        if not missing:
            return None
        return missing[0] if len(missing) == 1 else tuple(missing)


@predicate("MaxPods")
class MaxPods:
    """status.allocatable.pods caps how many pods a node runs."""

    def prepare(self, state: CycleState) -> bool:
        return True

    def filter_many(self, state: CycleState, nodes: list[NodeInfo]) -> list[NodeInfo]:
        return [n for n in nodes if len(n.pods) < n.allocatable_pods]

    def mask(self, state: CycleState, table: NodeTable) -> Any:
        return table.pod_count < table.allocatable_pods

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons:
        return "Too many pods" if len(node.pods) + 1 > node.allocatable_pods else None


@predicate("NoDiskConflict")
class NoDiskConflict:
    """Two pods mounting the same hostPath path do not share a node."""

    def prepare(self, state: CycleState) -> bool:
        return bool(state.pod.host_paths)

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons:
        if node.host_paths and not state.pod.host_paths.isdisjoint(node.host_paths):
            return "node(s) had no available disk"
        return None


def _topology_values(state: CycleState, term: PodAffinityTerm) -> set[str]:
    """Topology values (of ``term.topology_key``) of nodes running a pod the term selects."""
    values = set()
    for node in state.cache.nodes:
        value = node.labels.get(term.topology_key)
        if value is None or value in values:
            continue
        for other in node.pods.values():
            if other.key != state.pod.key and term.matches(other.namespace, other.labels):
                values.add(value)
                break
    return values


@predicate("MatchInterPodAffinity")
class MatchInterPodAffinity:
    """Required pod affinity and anti-affinity with a topologyKey, both ways: the pod's own
    terms against the pods already placed, and placed pods' anti-affinity against the pod."""

    def prepare(self, state: CycleState) -> bool:
        pod = state.pod
        affinity = pod_affinity_terms(pod.pod, "podAffinity", True)
        anti = pod.required_anti_affinity
        affinity_values = []
        for term in affinity:
            values = _topology_values(state, term)
            # the first pod of a group that selects itself may go anywhere
            if not values and term.matches(pod.namespace, pod.labels):
                continue
            affinity_values.append((term.topology_key, values))
        anti_values = [(term.topology_key, _topology_values(state, term)) for term in anti]
        existing: list[tuple[str, str]] = []  # (topology key, value) that existing pods forbid
        for other in state.cache.anti_affinity_pods.values():
            node = state.cache.node(other.node_name)
            if other.key == pod.key or node is None:
                continue
            for term in other.required_anti_affinity:
                value = node.labels.get(term.topology_key)
                if value is not None and term.matches(pod.namespace, pod.labels):
                    existing.append((term.topology_key, value))
        state.data["interpod"] = (affinity_values, anti_values, existing)
        return bool(affinity or anti_values or existing)

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons:
        affinity_values, anti_values, existing = state.data["interpod"]
        labels = node.labels
        for key, value in existing:
            if labels.get(key) == value:
                return "node(s) didn't satisfy existing pods anti-affinity rules"
        for key, values in affinity_values:
            if labels.get(key) not in values:
                return "node(s) didn't match pod affinity rules"
        for key, values in anti_values:
            if labels.get(key) in values:
                return "node(s) didn't match pod anti-affinity rules"
        return None
