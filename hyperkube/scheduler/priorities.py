"""Scores, under Kubernetes 1.2's priority names: each maps the feasible nodes to 0..100.

A scorer returns None when it would give every node the same score (a pod with no preferred
affinity, a cluster without PreferNoSchedule taints, a pod no controller owns): the sum is
then the same without it, so it is skipped. The per-node work is a list comprehension over
integers the cache keeps up to date, never a walk over each node's pods.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hyperkube.machinery.errors import BadRequest
from hyperkube.machinery.selectors import LabelSelector, label_selector_from_dict, label_selector_from_set
from hyperkube.scheduler.affinity import preferred_node_terms, tolerates
from hyperkube.scheduler.framework import CycleState, priority
from hyperkube.scheduler.nodeinfo import NodeInfo
from hyperkube.scheduler.vectorized import NodeTable, np

ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
ZONE_WEIGHTING = 2.0 / 3.0


@priority("LeastRequestedPriority")
class LeastRequestedPriority:
    """Favour nodes with more room left: the mean over CPU and memory of
    ``(allocatable - requested) * 100 / allocatable``, the pod included."""

    def score(self, state: CycleState, nodes: list[NodeInfo]) -> list[float] | None:
        cpu, memory = state.pod.requests.nonzero_cpu, state.pod.requests.nonzero_memory
        return [
            ((max(n.allocatable_cpu - n.nonzero_cpu - cpu, 0) * 100.0 / n.allocatable_cpu if n.allocatable_cpu else 0.0)
             + (max(n.allocatable_memory - n.nonzero_memory - memory, 0) * 100.0 / n.allocatable_memory
                if n.allocatable_memory else 0.0)) / 2.0
            for n in nodes
        ]

    def score_array(self, state: CycleState, table: NodeTable, rows: Any) -> Any:
        cpu, memory = state.pod.requests.nonzero_cpu, state.pod.requests.nonzero_memory
        return (_left(table.allocatable_cpu[rows], table.nonzero_cpu[rows] + cpu)
                + _left(table.allocatable_memory[rows], table.nonzero_memory[rows] + memory)) / 2.0


def _left(allocatable: Any, requested: Any) -> Any:
    """``(allocatable - requested) * 100 / allocatable``, at least 0; 0 where nothing is allocatable."""
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.maximum(allocatable - requested, 0.0) * 100.0 / allocatable
    return np.where(allocatable > 0, score, 0.0)


def _fraction(requested: Any, allocatable: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(allocatable > 0, requested / allocatable, 1.0)


def _balanced(cpu_fraction: float, memory_fraction: float) -> float:
    if cpu_fraction >= 1.0 or memory_fraction >= 1.0:
        return 0.0
    return 100.0 - abs(cpu_fraction - memory_fraction) * 100.0


@priority("BalancedResourceAllocation")
class BalancedResourceAllocation:
    """Favour nodes whose CPU and memory would be used in equal fractions."""

    def score(self, state: CycleState, nodes: list[NodeInfo]) -> list[float] | None:
        cpu, memory = state.pod.requests.nonzero_cpu, state.pod.requests.nonzero_memory
        return [
            _balanced((n.nonzero_cpu + cpu) / n.allocatable_cpu if n.allocatable_cpu else 1.0,
                      (n.nonzero_memory + memory) / n.allocatable_memory if n.allocatable_memory else 1.0)
            for n in nodes
        ]

    def score_array(self, state: CycleState, table: NodeTable, rows: Any) -> Any:
        cpu, memory = state.pod.requests.nonzero_cpu, state.pod.requests.nonzero_memory
        cpu_fraction = _fraction(table.nonzero_cpu[rows] + cpu, table.allocatable_cpu[rows])
        memory_fraction = _fraction(table.nonzero_memory[rows] + memory, table.allocatable_memory[rows])
        full = (cpu_fraction >= 1.0) | (memory_fraction >= 1.0)
        return np.where(full, 0.0, 100.0 - np.abs(cpu_fraction - memory_fraction) * 100.0)


def _selectors(state: CycleState) -> list[LabelSelector]:
    """Selectors of the Services, RCs, ReplicaSets and StatefulSets that select the pod."""
    pod = state.pod
    found: list[LabelSelector] = []
    for service in state.listers.services(pod.namespace):
        selector = (service.get("spec") or {}).get("selector")
        if selector:
            compiled = label_selector_from_set(selector)
            if compiled.matches(pod.labels):
                found.append(compiled)
    for controller in state.listers.controllers(pod.namespace):
        selector = (controller.get("spec") or {}).get("selector")
        if not selector:
            continue
        try:
            if controller.get("kind") == "ReplicationController":
                compiled = label_selector_from_set(selector)
            else:
                compiled = label_selector_from_dict(selector)
        except BadRequest:
            continue
        if not compiled.empty and compiled.matches(pod.labels):
            found.append(compiled)
    return found


def _zone(node: NodeInfo) -> str | None:
    for label in ZONE_LABELS:
        value = node.labels.get(label)
        if value:
            return value
    return None


@priority("SelectorSpreadPriority")
class SelectorSpreadPriority:
    """Spread the pods of one Service, RC, ReplicaSet or StatefulSet over nodes, and (two
    thirds of the weight, when nodes carry zone labels) over zones."""

    def relevant(self, state: CycleState) -> bool:
        state.data["spread_selectors"] = _selectors(state)
        return bool(state.data["spread_selectors"])

    def score(self, state: CycleState, nodes: list[NodeInfo]) -> list[float] | None:
        selectors = state.data.get("spread_selectors")
        if selectors is None:
            selectors = _selectors(state)
        if not selectors:
            return None
        namespace = state.pod.namespace
        counts = []
        for node in nodes:
            count = 0
            for other in node.pods.values():
                if other.namespace != namespace or other.key == state.pod.key:
                    continue
                if (other.pod.get("metadata") or {}).get("deletionTimestamp"):
                    continue
                if all(selector.matches(other.labels) for selector in selectors):
                    count += 1
            counts.append(count)
        most = max(counts, default=0)
        scores = [100.0 * (most - c) / most if most else 100.0 for c in counts]
        zones = [_zone(n) for n in nodes]
        if any(zones):
            by_zone: Counter[str] = Counter()
            for zone, count in zip(zones, counts, strict=True):
                if zone:
                    by_zone[zone] += count
            most_zone = max(by_zone.values(), default=0)
            for i, zone in enumerate(zones):
                if zone:
                    zone_score = 100.0 * (most_zone - by_zone[zone]) / most_zone if most_zone else 100.0
                    scores[i] = scores[i] * (1 - ZONE_WEIGHTING) + zone_score * ZONE_WEIGHTING
        return scores


@priority("NodeAffinityPriority")
class NodeAffinityPriority:
    """Preferred node affinity: the weights of the matching terms, scaled so the best node
    gets 100."""

    def relevant(self, state: CycleState) -> bool:
        return bool(preferred_node_terms(state.pod.pod))

    def score(self, state: CycleState, nodes: list[NodeInfo]) -> list[float] | None:
        terms = preferred_node_terms(state.pod.pod)
        if not terms:
            return None
        sums = [sum(w for w, match in terms if match(n.labels, n.name)) for n in nodes]
        most = max(sums, default=0)
        return [100.0 * s / most if most > 0 else 0.0 for s in sums]


@priority("TaintTolerationPriority")
class TaintTolerationPriority:
    """Fewer untolerated PreferNoSchedule taints score higher."""

    def relevant(self, state: CycleState) -> bool:
        return bool(state.cache.tainted_nodes)

    def score(self, state: CycleState, nodes: list[NodeInfo]) -> list[float] | None:
        if not state.cache.tainted_nodes:
            return None
        tolerations = [t for t in (state.pod.pod.get("spec") or {}).get("tolerations") or ()
                       if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"]
        counts = [sum(1 for taint in n.taints if taint.get("effect") == "PreferNoSchedule"
                      and not any(tolerates(t, taint) for t in tolerations)) for n in nodes]
        most = max(counts, default=0)
        if not most:
            return None
        return [100.0 * (most - c) / most for c in counts]


@priority("InterPodAffinityPriority")
class InterPodAffinityPriority:
    """Preferred pod affinity (+weight) and anti-affinity (-weight) to the topology domains of
    the pods each term selects, both ways: the pod's own terms, and the terms of placed pods
    that select the pod. Min-max scaled to 0..100."""

    def relevant(self, state: CycleState) -> bool:
        return bool(state.pod.preferred_affinity or state.pod.preferred_anti_affinity or state.cache.preferring_pods)

    def score(self, state: CycleState, nodes: list[NodeInfo]) -> list[float] | None:
        pod = state.pod
        cache = state.cache
        terms = [(t, t.weight) for t in pod.preferred_affinity] + \
                [(t, -t.weight) for t in pod.preferred_anti_affinity]
        domains: Counter[tuple[str, str]] = Counter()
        if terms:
            for node in cache.nodes:
                for term, weight in terms:
                    value = node.labels.get(term.topology_key)
                    if value is None:
                        continue
                    matched = sum(1 for other in node.pods.values()
                                  if other.key != pod.key and term.matches(other.namespace, other.labels))
                    if matched:
                        domains[(term.topology_key, value)] += weight * matched
        for other in cache.preferring_pods.values():  # symmetry: placed pods that prefer this one
            node = cache.node(other.node_name)
            if other.key == pod.key or node is None:
                continue
            for term, sign in [(t, 1) for t in other.preferred_affinity] + \
                              [(t, -1) for t in other.preferred_anti_affinity]:
                value = node.labels.get(term.topology_key)
                if value is not None and term.matches(pod.namespace, pod.labels):
                    domains[(term.topology_key, value)] += sign * term.weight
        if not domains:
            return None
        sums = [sum(w for (key, value), w in domains.items() if n.labels.get(key) == value) for n in nodes]
        low, high = min(sums, default=0), max(sums, default=0)
        if high == low:
            return None
        return [100.0 * (s - low) / (high - low) for s in sums]
