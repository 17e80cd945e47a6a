"""Filters and scores as array operations over every node at once (numpy, when installed).

:class:`NodeTable` keeps the numbers the common filters and scores read (allocatable,
requested, pod count, readiness, cordon, taints) as columns, one row per node of
:attr:`SchedulerCache.nodes`. The cache updates a row whenever a pod is placed on or leaves
that node, or the node changes, so a scheduling cycle never rebuilds it.

A plugin may then offer ``mask(state, table)`` (a boolean column: which nodes pass) and
``score_array(state, table, rows)`` (the scores of the feasible rows). The cycle uses them
where they exist, and the plugin's per-node ``filter``/``score`` elsewhere and for working
out failure reasons, so both paths give the same answers. Without numpy everything runs
through the per-node path (see :func:`hyperkube.scheduler.framework.run_filters`).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

try:
    import numpy as np
except ImportError:  # pragma: no cover - exercised where numpy is absent
    np = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from hyperkube.scheduler.framework import CycleState, FilterPlugin, ScorePlugin
    from hyperkube.scheduler.nodeinfo import NodeInfo

ENABLED = np is not None
COLUMNS = ("allocatable_cpu", "allocatable_memory", "allocatable_pods", "requested_cpu", "requested_memory",
           "nonzero_cpu", "nonzero_memory", "pod_count")
FLAGS = ("ready", "unschedulable", "tainted")
HARD_EFFECTS = ("NoSchedule", "NoExecute")


class NodeTable:
    def __init__(self, nodes: list[NodeInfo]) -> None:
        size = len(nodes)
        for name in COLUMNS:
            setattr(self, name, np.zeros(size, dtype=np.float64))
        for name in FLAGS:
            setattr(self, name, np.zeros(size, dtype=bool))
        for index, info in enumerate(nodes):
            self.update(index, info)

    def update(self, index: int, info: NodeInfo) -> None:
        self.allocatable_cpu[index] = info.allocatable_cpu
        self.allocatable_memory[index] = info.allocatable_memory
        self.allocatable_pods[index] = info.allocatable_pods
        self.requested_cpu[index] = info.requested_cpu
        self.requested_memory[index] = info.requested_memory
        self.nonzero_cpu[index] = info.nonzero_cpu
        self.nonzero_memory[index] = info.nonzero_memory
        self.pod_count[index] = len(info.pods)
        self.ready[index] = info.ready
        self.unschedulable[index] = info.unschedulable
        self.tainted[index] = any(t.get("effect") in HARD_EFFECTS for t in info.taints)

    # these attributes are set in __init__
    allocatable_cpu: Any
    allocatable_memory: Any
    allocatable_pods: Any
    requested_cpu: Any
    requested_memory: Any
    nonzero_cpu: Any
    nonzero_memory: Any
    pod_count: Any
    ready: Any
    unschedulable: Any
    tainted: Any


def run_filters(filters: list[FilterPlugin], state: CycleState, nodes: list[NodeInfo],
                table: NodeTable) -> tuple[Any, dict[str, int]]:
    """The rows of the feasible nodes, and the failure reasons counted as the per-node path
    counts them (each node reports the first filter it fails)."""
    alive = np.ones(len(nodes), dtype=bool)
    reasons: dict[str, int] = {}
    for plugin in filters:
        mask_of = getattr(plugin, "mask", None)
        passed = mask_of(state, table) if mask_of is not None else None
        if passed is None:
            passed = np.ones(len(nodes), dtype=bool)
            for row in np.flatnonzero(alive):
                if plugin.filter(state, nodes[row]):
                    passed[row] = False
        dropped = np.flatnonzero(alive & ~passed)
        if len(dropped):
            for row in dropped:
                why = plugin.filter(state, nodes[row])
                for reason in (why,) if isinstance(why, str) else why or ():
                    reasons[reason] = reasons.get(reason, 0) + 1
            alive &= passed
            if not alive.any():
                break
    return np.flatnonzero(alive), reasons


def pick(scorers: list[tuple[ScorePlugin, int]], state: CycleState, nodes: list[NodeInfo], table: NodeTable,
         rows: Any) -> NodeInfo:
    """The best-scoring feasible node (ties broken at random)."""
    total = None
    feasible: list[NodeInfo] | None = None
    for scorer, weight in scorers:
        relevant = getattr(scorer, "relevant", None)
        if relevant is not None and not relevant(state):
            continue
        array_of = getattr(scorer, "score_array", None)
        if array_of is not None:
            scores = array_of(state, table, rows)
        else:
            if feasible is None:
                feasible = [nodes[row] for row in rows]
            listed = scorer.score(state, feasible)
            scores = None if listed is None else np.asarray(listed, dtype=np.float64)
        if scores is None:
            continue
        total = scores * weight if total is None else total + scores * weight
    if total is None:
        return nodes[rows[random.randrange(len(rows))]]
    winners = np.flatnonzero(total == total.max())
    return nodes[rows[winners[random.randrange(len(winners))]]]
