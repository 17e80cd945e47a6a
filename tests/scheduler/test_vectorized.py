"""The numpy path and the per-node path agree: same feasible nodes, reasons and scores."""

from __future__ import annotations

import random

import pytest

from hyperkube.scheduler import Policy
from hyperkube.scheduler import vectorized as vec
from hyperkube.scheduler.cache import SchedulerCache
from hyperkube.scheduler.framework import PRIORITIES, CycleState, run_filters
from hyperkube.scheduler.nodeinfo import PodInfo
from tests.scheduler._helpers import wait_bound
from tests.scheduler._objects import node, pod


def test_numpy_is_installed():
    """The scheduler runs without numpy (the per-node path), but meets its speed only with it."""
    assert vec.ENABLED


def random_cluster(seed: int) -> tuple[SchedulerCache, list[dict]]:
    rng = random.Random(seed)
    cache = SchedulerCache()
    for i in range(60):
        taints = [{"key": "k", "value": "v", "effect": rng.choice(["NoSchedule", "PreferNoSchedule", "NoExecute"])}] \
            if rng.random() < 0.2 else None
        cache.set_node(node(f"n{i}", cpu=rng.choice(["1", "2", "4"]), memory=rng.choice(["1Gi", "2Gi", "4Gi"]),
                            pods=rng.choice([2, 5, 110]), taints=taints, unschedulable=rng.random() < 0.1,
                            ready=rng.random() > 0.1))
    for i in range(120):
        target = f"n{rng.randrange(60)}"
        cache.set_bound_pod(PodInfo.of(pod(f"b{i}", cpu=rng.choice([None, "100m", "500m"]),
                                           memory=rng.choice([None, "128Mi", "512Mi"]), nodeName=target)))
    incoming = [pod(f"p{i}", cpu=rng.choice([None, "100m", "1", "3"]), memory=rng.choice([None, "256Mi", "3Gi"]))
                for i in range(30)]
    return cache, incoming


@pytest.mark.parametrize("seed", range(5))
def test_filters_and_scores_agree(seed):
    cache, incoming = random_cluster(seed)
    filters = Policy().filters()
    for spec in incoming:
        state = CycleState(PodInfo.of(spec), cache)
        active = [f for f in filters if f.prepare(state)]
        feasible, reasons = run_filters(active, state, cache.nodes)
        rows, vector_reasons = vec.run_filters(active, state, cache.nodes, cache.table)
        assert [cache.nodes[r].name for r in rows] == [n.name for n in feasible]
        assert vector_reasons == reasons
        for name in ("LeastRequestedPriority", "BalancedResourceAllocation"):
            plugin = PRIORITIES[name]()
            assert list(plugin.score_array(state, cache.table, rows)) == pytest.approx(plugin.score(state, feasible))
        if feasible:  # placing the pod updates the table in place
            cache.assume(PodInfo.of(spec), feasible[0].name)
            assert vec.NodeTable(cache.nodes).requested_cpu.tolist() == cache.table.requested_cpu.tolist()


async def test_the_per_node_path_schedules_too(client, start_scheduler):
    for name in ("n1", "n2", "n3"):
        await client.create("v1/nodes", node(name, cpu="2"))
    await start_scheduler(vectorized=False)
    for i in range(6):
        await client.create("v1/pods", pod(f"p{i}", cpu="1"), namespace="default")
    placed = sorted([await wait_bound(client, f"p{i}") for i in range(6)])
    assert placed == ["n1", "n1", "n2", "n2", "n3", "n3"]
