"""Each priority against real API objects, run alone through a policy so its effect is visible."""

from __future__ import annotations

import json
from collections import Counter

from hyperkube.scheduler import parse_policy
from tests.scheduler._helpers import wait_bound
from tests.scheduler._objects import node, pod


def only(priority: str):
    """A policy running PodFitsResources and the one priority."""
    return parse_policy(json.dumps({"kind": "Policy", "apiVersion": "v1", "predicates": [{"name": "PodFitsResources"}],
                                    "priorities": [{"name": priority, "weight": 1}]}))


async def test_least_requested_prefers_the_emptier_node(client, start_scheduler):
    await client.create("v1/nodes", node("busy", cpu="4", memory="8Gi"))
    await client.create("v1/nodes", node("idle", cpu="4", memory="8Gi"))
    await client.create("v1/pods", pod("load", cpu="3", memory="6Gi", nodeName="busy"), namespace="default")
    await start_scheduler(policy=only("LeastRequestedPriority"))
    for i in range(3):
        await client.create("v1/pods", pod(f"p{i}", cpu="100m", memory="100Mi"), namespace="default")
        assert await wait_bound(client, f"p{i}") == "idle"


async def test_balanced_resource_allocation_evens_cpu_and_memory(client, start_scheduler):
    await client.create("v1/nodes", node("cpu-used", cpu="4", memory="4Gi"))
    await client.create("v1/nodes", node("mem-used", cpu="4", memory="4Gi"))
    await client.create("v1/pods", pod("a", cpu="2", memory="100Mi", nodeName="cpu-used"), namespace="default")
    await client.create("v1/pods", pod("b", cpu="100m", memory="2Gi", nodeName="mem-used"), namespace="default")
    await start_scheduler(policy=only("BalancedResourceAllocation"))
    await client.create("v1/pods", pod("memory-hungry", cpu="100m", memory="1Gi"), namespace="default")
    assert await wait_bound(client, "memory-hungry") == "cpu-used"
    await client.create("v1/pods", pod("cpu-hungry", cpu="1", memory="100Mi"), namespace="default")
    assert await wait_bound(client, "cpu-hungry") == "mem-used"


async def test_selector_spread_over_nodes_and_zones(client, start_scheduler):
    for name, zone in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("b2", "b")):
        await client.create("v1/nodes", node(name, labels={"topology.kubernetes.io/zone": zone}))
    await client.create("v1/services", {"apiVersion": "v1", "kind": "Service",
                                        "metadata": {"name": "web", "namespace": "default"},
                                        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    await start_scheduler(policy=only("SelectorSpreadPriority"))
    placed = []
    for i in range(4):
        await client.create("v1/pods", pod(f"web-{i}", labels={"app": "web"}), namespace="default")
        placed.append(await wait_bound(client, f"web-{i}"))
    assert sorted(placed) == ["a1", "a2", "b1", "b2"]
    zones = Counter(name[0] for name in placed[:2])
    assert zones == {"a": 1, "b": 1}  # the second pod goes to the other zone


async def test_node_affinity_priority_prefers_matching_nodes(client, start_scheduler):
    await client.create("v1/nodes", node("fast", labels={"disk": "ssd"}))
    await client.create("v1/nodes", node("faster", labels={"disk": "nvme"}))
    await client.create("v1/nodes", node("slow", labels={"disk": "hdd"}))
    await start_scheduler(policy=only("NodeAffinityPriority"))
    preferred = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
        {"weight": 50, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["nvme"]}]}},
    ]}}
    for i in range(3):
        await client.create("v1/pods", pod(f"p{i}", affinity=preferred), namespace="default")
        assert await wait_bound(client, f"p{i}") == "faster"


async def test_taint_toleration_priority_avoids_prefer_no_schedule(client, start_scheduler):
    await client.create("v1/nodes", node("tainted", taints=[{"key": "spot", "effect": "PreferNoSchedule"}]))
    await client.create("v1/nodes", node("clean"))
    await start_scheduler(policy=only("TaintTolerationPriority"))
    for i in range(3):
        await client.create("v1/pods", pod(f"p{i}"), namespace="default")
        assert await wait_bound(client, f"p{i}") == "clean"


async def test_inter_pod_affinity_priority(client, start_scheduler):
    for name in ("n1", "n2", "n3"):
        await client.create("v1/nodes", node(name))
    await client.create("v1/pods", pod("db", labels={"app": "db"}, nodeName="n2"), namespace="default")
    await client.create("v1/pods", pod("batch", labels={"app": "batch"}, nodeName="n3"), namespace="default")
    await start_scheduler(policy=only("InterPodAffinityPriority"))
    term = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}
    likes = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": term}]}}
    await client.create("v1/pods", pod("app", affinity=likes), namespace="default")
    assert await wait_bound(client, "app") == "n2"
    batch_term = {"labelSelector": {"matchLabels": {"app": "batch"}}, "topologyKey": "kubernetes.io/hostname"}
    dislikes = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": batch_term}]},
        "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "podAffinityTerm": batch_term}]}}
    await client.create("v1/pods", pod("quiet", affinity=dislikes), namespace="default")
    assert await wait_bound(client, "quiet") in ("n1", "n2")


async def test_inter_pod_affinity_priority_is_symmetric(client, start_scheduler):
    """A placed pod that prefers company of app=web draws web pods to its node."""
    for name in ("n1", "n2", "n3"):
        await client.create("v1/nodes", node(name))
    term = {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
    likes_web = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 80, "podAffinityTerm": term}]}}
    await client.create("v1/pods", pod("cache", affinity=likes_web, nodeName="n3"), namespace="default")
    await start_scheduler(policy=only("InterPodAffinityPriority"))
    await client.create("v1/pods", pod("web", labels={"app": "web"}), namespace="default")
    assert await wait_bound(client, "web") == "n3"


async def test_a_global_default_priority_class_orders_the_queue(client, start_scheduler):
    for name, value, default in (("everyday", 500, True), ("low", 10, False)):
        await client.create("scheduling.k8s.io/v1/priorityclasses", {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, "globalDefault": default})
    await client.create("v1/nodes", node("one-slot", cpu="1"))
    await client.create("v1/pods", pod("explicit-low", cpu="1", priorityClassName="low"), namespace="default")
    await client.create("v1/pods", pod("defaulted", cpu="1"), namespace="default")
    await start_scheduler()
    assert await wait_bound(client, "defaulted") == "one-slot"
