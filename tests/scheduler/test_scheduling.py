"""The scheduler against a real API server: binding, spreading, failure reports, retries."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.scheduler._helpers import node_of, wait_bound, wait_event, wait_unschedulable
from tests.scheduler._objects import node, pod
from tests.scheduler.conftest import eventually


async def test_pod_is_bound_with_a_scheduled_event(client, start_scheduler):
    await client.create("v1/nodes", node("n1"))
    await client.create("v1/pods", pod("web", cpu="1"), namespace="default")
    await start_scheduler()
    assert await wait_bound(client, "web") == "n1"
    event = await wait_event(client, "web", "Scheduled")
    assert event["type"] == "Normal"
    assert event["message"] == "Successfully assigned default/web to n1"
    assert event["source"]["component"] == "default-scheduler"
    bound = await client.get("v1/pods", "web", namespace="default")
    assert {"type": "PodScheduled", "status": "True"}.items() <= bound["status"]["conditions"][0].items()


async def test_replicas_of_a_replicaset_land_two_per_node(client, start_scheduler):
    for name in ("n1", "n2", "n3"):
        await client.create("v1/nodes", node(name))
    await client.create("apps/v1/replicasets", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    await start_scheduler()
    for i in range(6):
        await client.create("v1/pods", pod(f"web-{i}", labels={"app": "web"}), namespace="default")
    placed = [await wait_bound(client, f"web-{i}") for i in range(6)]
    assert Counter(placed) == {"n1": 2, "n2": 2, "n3": 2}


async def test_a_pod_too_big_for_every_node_stays_pending(client, start_scheduler):
    for name in ("n1", "n2", "n3"):
        await client.create("v1/nodes", node(name, cpu="2"))
    await start_scheduler()
    await client.create("v1/pods", pod("huge", cpu="3"), namespace="default")
    event = await wait_event(client, "huge", "FailedScheduling")
    assert event["type"] == "Warning"
    assert event["message"] == "0/3 nodes are available: 3 Insufficient cpu."
    condition = await wait_unschedulable(client, "huge")
    assert condition["reason"] == "Unschedulable"
    assert condition["message"] == "0/3 nodes are available: 3 Insufficient cpu."
    assert await node_of(client, "huge") is None
    found = await client.get("v1/pods", "huge", namespace="default")
    assert found["status"]["phase"] == "Pending"


async def test_failure_message_counts_each_reason(client, start_scheduler):
    await client.create("v1/nodes", node("small", cpu="1", labels={"disk": "ssd"}))
    await client.create("v1/nodes", node("hdd-1", labels={"disk": "hdd"}))
    await client.create("v1/nodes", node("hdd-2", labels={"disk": "hdd"}))
    await start_scheduler()
    await client.create("v1/pods", pod("picky", cpu="2", nodeSelector={"disk": "ssd"}), namespace="default")
    event = await wait_event(client, "picky", "FailedScheduling")
    assert event["message"] == ("0/3 nodes are available: 1 Insufficient cpu, "
                                "2 node(s) didn't match Pod's node affinity/selector.")


async def test_an_unschedulable_pod_is_bound_when_a_node_is_added(client, start_scheduler):
    await client.create("v1/nodes", node("small", cpu="1"))
    scheduler = await start_scheduler(backoff_initial=0.1, backoff_max=0.2)
    await client.create("v1/pods", pod("waits", cpu="2"), namespace="default")
    await wait_unschedulable(client, "waits")
    await client.create("v1/nodes", node("big", cpu="8"))
    assert await wait_bound(client, "waits") == "big"
    assert scheduler.failed_attempts >= 1


async def test_an_unschedulable_pod_is_bound_when_a_pod_is_deleted(client, start_scheduler):
    await client.create("v1/nodes", node("only", cpu="2"))
    await start_scheduler(backoff_initial=0.1, backoff_max=0.2)
    await client.create("v1/pods", pod("first", cpu="2"), namespace="default")
    assert await wait_bound(client, "first") == "only"
    await client.create("v1/pods", pod("second", cpu="2"), namespace="default")
    await wait_unschedulable(client, "second")
    await client.delete("v1/pods", "first", namespace="default", grace_period_seconds=0)
    assert await wait_bound(client, "second") == "only"


async def test_assumed_pods_keep_two_pods_out_of_the_same_room(client, start_scheduler):
    """Both pods are pending before the scheduler starts: the second cycle runs before the
    first binding is seen, so only the assumption stops both taking the one free slot."""
    await client.create("v1/nodes", node("a", cpu="2"))
    await client.create("v1/nodes", node("b", cpu="2"))
    for i in range(4):
        await client.create("v1/pods", pod(f"p{i}", cpu="1500m"), namespace="default")
    await start_scheduler()
    for i in range(4):  # two fit, two are reported unschedulable
        await eventually(lambda i=i: _settled(client, f"p{i}"))
    placed = [await node_of(client, f"p{i}") for i in range(4)]
    assert sorted(p for p in placed if p) == ["a", "b"]


async def _settled(client, name):
    found = await client.get("v1/pods", name, namespace="default")
    return found["spec"].get("nodeName") or any(
        c["type"] == "PodScheduled" and c["status"] == "False" for c in found["status"].get("conditions") or ())


async def test_only_pods_for_this_scheduler_name(client, start_scheduler):
    await client.create("v1/nodes", node("n1"))
    await start_scheduler(scheduler_name="custom")
    await client.create("v1/pods", pod("mine", schedulerName="custom"), namespace="default")
    await client.create("v1/pods", pod("theirs"), namespace="default")
    assert await wait_bound(client, "mine") == "n1"
    await asyncio.sleep(0.3)
    assert await node_of(client, "theirs") is None


async def test_higher_priority_pods_are_scheduled_first(client, start_scheduler):
    await client.create("scheduling.k8s.io/v1/priorityclasses", {
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"},
        "value": 1000})
    await client.create("v1/nodes", node("one-slot", cpu="1"))
    await client.create("v1/pods", pod("low", cpu="1"), namespace="default")
    await client.create("v1/pods", pod("high", cpu="1", priorityClassName="high"), namespace="default")
    await start_scheduler()
    assert await wait_bound(client, "high") == "one-slot"
    await wait_unschedulable(client, "low")
    assert await node_of(client, "low") is None
