"""The plugin framework: one tiny interface per extension point, plugins registered by name.

- **filter** (a *predicate* in the policy file): ``filter(state, node)`` returns None when the
  node can take the pod, else the reason(s) Kubernetes would print. ``prepare(state)`` runs
  once per pod and returns False when the plugin has nothing to check for this pod (no host
  ports, no node selector, ...), so the per-node loop runs only the filters that matter.
- **score** (a *priority*): ``score(state, nodes)`` returns one score in 0..100 per feasible
  node, or None when it would give every node the same score. Scores are weighted by the
  policy and summed; the best node wins, ties broken at random.
- **bind**: ``bind(state, node_name)`` writes the decision (the default binder POSTs
  ``pods/NAME/binding``).

Predicates and priorities keep the names of Kubernetes 1.2's policy file, so a policy written
for kube-scheduler runs here unchanged. :class:`Policy` is that file, parsed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hyperkube.scheduler.cache import SchedulerCache
from hyperkube.scheduler.nodeinfo import NodeInfo, PodInfo

Object = dict[str, Any]
Reasons = str | tuple[str, ...] | None


@dataclass(slots=True)
class Listers:
    """Read-only views of the informers plugins look at beyond nodes and pods."""

    services: Callable[[str], list[Object]] = lambda namespace: []
    controllers: Callable[[str], list[Object]] = lambda namespace: []  # RCs, ReplicaSets, StatefulSets


@dataclass(slots=True)
class CycleState:
    """Everything one scheduling attempt knows; plugins keep their per-pod notes in ``data``."""

    pod: PodInfo
    cache: SchedulerCache
    listers: Listers = field(default_factory=Listers)
    data: dict[str, Any] = field(default_factory=dict)


class FilterPlugin(Protocol):
    name: str

    def prepare(self, state: CycleState) -> bool: ...

    def filter(self, state: CycleState, node: NodeInfo) -> Reasons: ...


class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, nodes: list[NodeInfo]) -> list[float] | None: ...


PREDICATES: dict[str, Callable[[], FilterPlugin]] = {}
PRIORITIES: dict[str, Callable[[], ScorePlugin]] = {}

#: Kubernetes' default provider, as these names go
DEFAULT_PREDICATES = (
    "CheckNodeCondition", "CheckNodeUnschedulable", "HostName", "PodToleratesNodeTaints", "MatchNodeSelector",
    "PodFitsHostPorts", "PodFitsResources", "MaxPods", "NoDiskConflict", "MatchInterPodAffinity",
    "EvenPodsSpread",
)
DEFAULT_PRIORITIES = (
    ("LeastRequestedPriority", 1), ("BalancedResourceAllocation", 1), ("SelectorSpreadPriority", 1),
    ("NodeAffinityPriority", 1), ("TaintTolerationPriority", 1), ("InterPodAffinityPriority", 1),
    ("EvenPodsSpreadPriority", 1),
)


def predicate(name: str) -> Callable[[type], type]:
    def register(cls: type) -> type:
        cls.name = name  # type: ignore[attr-defined]
        PREDICATES[name] = cls
        return cls
    return register


def priority(name: str) -> Callable[[type], type]:
    def register(cls: type) -> type:
        cls.name = name  # type: ignore[attr-defined]
        PRIORITIES[name] = cls
        return cls
    return register


class PolicyError(ValueError):
    """A policy file that cannot run: unreadable, not a Policy, or naming an unknown plugin."""


@dataclass(frozen=True)
class Policy:
    predicates: tuple[str, ...] = DEFAULT_PREDICATES
    priorities: tuple[tuple[str, int], ...] = DEFAULT_PRIORITIES

    def filters(self) -> list[FilterPlugin]:
        _load_plugins()
        chosen = set(self.predicates)
        # run in the registry's order (cheap and common first), whatever order the file lists
        return [factory() for name, factory in PREDICATES.items() if name in chosen]

    def scorers(self) -> list[tuple[ScorePlugin, int]]:
        _load_plugins()
        return [(PRIORITIES[name](), weight) for name, weight in self.priorities if weight > 0]


def _load_plugins() -> None:
    from hyperkube.scheduler import predicates, priorities, topologyspread  # noqa: F401  (they register themselves)


def parse_policy(text: str) -> Policy:
    """Kubernetes' policy JSON: ``{"kind":"Policy","apiVersion":"v1","predicates":[{"name":..}],
    "priorities":[{"name":..,"weight":N}]}``. Leaving out ``predicates`` or ``priorities``
    keeps the default set for that point; an empty list runs none."""
    _load_plugins()
    try:
        data = json.loads(text)
    except ValueError as error:
        raise PolicyError(f"the policy is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise PolicyError("the policy must be a JSON object")
    if data.get("kind", "Policy") != "Policy":
        raise PolicyError(f'the policy has kind "{data.get("kind")}", not "Policy"')
    predicates: tuple[str, ...] = DEFAULT_PREDICATES
    priorities: tuple[tuple[str, int], ...] = DEFAULT_PRIORITIES
    if data.get("predicates") is not None:
        names = []
        for item in data["predicates"]:
            name = item.get("name") if isinstance(item, dict) else None
            if name not in PREDICATES:
                raise PolicyError(f'invalid predicate name "{name}" specified - no corresponding function found')
            names.append(name)
        predicates = tuple(names)
    if data.get("priorities") is not None:
        weighted = []
        for item in data["priorities"]:
            name = item.get("name") if isinstance(item, dict) else None
            if name not in PRIORITIES:
                raise PolicyError(f'invalid priority name "{name}" specified - no corresponding function found')
            weight = item.get("weight", 1)
            if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
                raise PolicyError(f'priority "{name}" has an invalid weight {weight!r}')
            weighted.append((name, weight))
        priorities = tuple(weighted)
    return Policy(predicates, priorities)


def load_policy(path: str) -> Policy:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise PolicyError(f"cannot read the policy file {path}: {error.strerror}") from None
    return parse_policy(text)


class FitError(Exception):
    """No node fits; the message is Kubernetes' ``0/N nodes are available: ...``."""

    def __init__(self, pod: PodInfo, total: int, reasons: dict[str, int]) -> None:
        self.pod = pod
        self.total = total
        self.reasons = reasons
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if not self.total:
            return "no nodes available to schedule pods"
        if not self.reasons:
            return f"0/{self.total} nodes are available."
        parts = sorted(f"{count} {reason}" for reason, count in self.reasons.items())
        return f"0/{self.total} nodes are available: {', '.join(parts)}."


def run_filters(filters: list[FilterPlugin], state: CycleState,
                nodes: list[NodeInfo]) -> tuple[list[NodeInfo], dict[str, int]]:
    """Pass ``nodes`` through each filter in turn; returns the feasible nodes and, for the
    others, how many nodes failed for each reason. A plugin may offer ``filter_many(state,
    nodes) -> survivors`` (a comprehension over the cache's integers) for the common case;
    reasons are then worked out only for the nodes it dropped."""
    reasons: dict[str, int] = {}
    for plugin in filters:
        if not nodes:
            break
        many = getattr(plugin, "filter_many", None)
        if many is not None:
            survivors = many(state, nodes)
            if len(survivors) == len(nodes):
                continue
            kept = set(map(id, survivors))
            dropped = [node for node in nodes if id(node) not in kept]
            nodes = survivors
        else:
            dropped, kept_nodes = [], []
            for node in nodes:
                (kept_nodes if not plugin.filter(state, node) else dropped).append(node)
            nodes = kept_nodes
        for node in dropped:
            why = plugin.filter(state, node)
            for reason in (why,) if isinstance(why, str) else why or ():
                reasons[reason] = reasons.get(reason, 0) + 1
    return nodes, reasons
