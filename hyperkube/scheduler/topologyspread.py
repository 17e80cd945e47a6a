"""Pod topology spread constraints, under the policy names Kubernetes gave them
(``EvenPodsSpread`` and ``EvenPodsSpreadPriority``, 1.16-1.18).

For a constraint ``(maxSkew, topologyKey, labelSelector)`` the pods it selects (in the pod's
namespace) are counted per topology domain over the nodes that carry the key (and that the
pod's node selector allows). ``whenUnsatisfiable: DoNotSchedule`` constraints filter: placing
the pod in a domain must not leave it more than ``maxSkew`` above the emptiest domain.
``ScheduleAnyway`` constraints score: emptier domains score higher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hyperkube.machinery.errors import BadRequest
from hyperkube.machinery.selectors import LabelSelector, label_selector_from_dict
from hyperkube.scheduler.affinity import required_node_matcher
from hyperkube.scheduler.framework import CycleState, Reasons, predicate, priority
from hyperkube.scheduler.nodeinfo import NodeInfo

MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"
SKEW = "node(s) didn't match pod topology spread constraints"


@dataclass(slots=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    counts: dict[str, int]
    self_match: int

    def least(self) -> int:
        return min(self.counts.values(), default=0)


def _constraints(state: CycleState, hard: bool) -> list[Constraint]:
    pod = state.pod
    wanted = "DoNotSchedule" if hard else "ScheduleAnyway"
    allowed = required_node_matcher(pod.pod)
    found = []
    for item in (pod.pod.get("spec") or {}).get("topologySpreadConstraints") or ():
        if (item.get("whenUnsatisfiable") or "DoNotSchedule") != wanted or not item.get("topologyKey"):
            continue
        try:
            selector = label_selector_from_dict(item.get("labelSelector") or {})
        except BadRequest:
            continue
        key = item["topologyKey"]
        counts: dict[str, int] = {}
        for node in state.cache.nodes:
            value = node.labels.get(key)
            if value is None or (allowed is not None and not allowed(node.labels, node.name)):
                continue
            counts[value] = counts.get(value, 0) + sum(
                1 for other in node.pods.values()
                if other.namespace == pod.namespace and other.key != pod.key and selector.matches(other.labels))
        found.append(Constraint(int(item.get("maxSkew") or 1), key, selector, counts,
                                1 if selector.matches(pod.labels) else 0))
    return found


@predicate("EvenPodsSpread")
class EvenPodsSpread:
    def prepare(self, state: CycleState) -> bool:
        state.data["spread_hard"] = _constraints(state, hard=True)
        return bool(state.data["spread_hard"])

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons:
        for constraint in state.data["spread_hard"]:
            value = node.labels.get(constraint.topology_key)
            if value is None:
                return MISSING_LABEL
            count = constraint.counts.get(value, 0)
            if count + constraint.self_match - constraint.least() > constraint.max_skew:
                return SKEW
        return None


@priority("EvenPodsSpreadPriority")
class EvenPodsSpreadPriority:
    def relevant(self, state: CycleState) -> bool:
        spec = state.pod.pod.get("spec") or {}
        return any(c.get("whenUnsatisfiable") == "ScheduleAnyway" for c in spec.get("topologySpreadConstraints") or ())

    def score(self, state: CycleState, nodes: list[NodeInfo]) -> list[float] | None:
        constraints = _constraints(state, hard=False)
        if not constraints:
            return None
        totals: list[Any] = []
        for node in nodes:
            total = 0
            for constraint in constraints:
                value = node.labels.get(constraint.topology_key)
                # a node without the key is the least attractive
                total += constraint.counts.get(value, 0) if value is not None else max(constraint.counts.values(),
                                                                                       default=0) + 1
            totals.append(total)
        low, high = min(totals), max(totals)
        if high == low:
            return None
        return [100.0 * (high - t) / (high - low) for t in totals]
