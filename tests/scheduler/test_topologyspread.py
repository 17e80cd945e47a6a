"""topologySpreadConstraints (EvenPodsSpread, EvenPodsSpreadPriority) against a real API server."""

from __future__ import annotations

from collections import Counter

from hyperkube.scheduler import parse_policy
from tests.scheduler._helpers import wait_bound, wait_event
from tests.scheduler._objects import node, pod

ZONE = "topology.kubernetes.io/zone"


def spread(when: str, key: str = ZONE, skew: int = 1) -> list[dict]:
    return [{"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": when,
             "labelSelector": {"matchLabels": {"app": "spread"}}}]


async def test_do_not_schedule_keeps_zones_within_max_skew(client, start_scheduler):
    # zone a has three big nodes, zone b one: resource scores alone would pile into zone a
    for name, zone in (("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b")):
        await client.create("v1/nodes", node(name, labels={ZONE: zone}))
    await client.create("v1/nodes", node("unlabelled"))
    await start_scheduler()
    placed = []
    for i in range(4):
        await client.create("v1/pods", pod(f"s{i}", labels={"app": "spread"},
                                           topologySpreadConstraints=spread("DoNotSchedule")), namespace="default")
        placed.append(await wait_bound(client, f"s{i}"))
    assert Counter(name[0] for name in placed) == {"a": 2, "b": 2}
    assert "unlabelled" not in placed


async def test_do_not_schedule_reports_skew_and_missing_labels(client, start_scheduler):
    await client.create("v1/nodes", node("a1", labels={ZONE: "a"}))
    await client.create("v1/nodes", node("b1", cpu="1", labels={ZONE: "b"}))
    await client.create("v1/nodes", node("bare"))
    await client.create("v1/pods", pod("hog", cpu="1", nodeName="b1"), namespace="default")
    await client.create("v1/pods", pod("first", labels={"app": "spread"}, nodeName="a1"), namespace="default")
    await start_scheduler()
    await client.create("v1/pods", pod("second", cpu="500m", labels={"app": "spread"},
                                       topologySpreadConstraints=spread("DoNotSchedule")), namespace="default")
    event = await wait_event(client, "second", "FailedScheduling")
    assert event["message"] == (
        "0/3 nodes are available: 1 Insufficient cpu, "
        "1 node(s) didn't match pod topology spread constraints, "
        "1 node(s) didn't match pod topology spread constraints (missing required label).")


async def test_schedule_anyway_prefers_emptier_domains(client, start_scheduler):
    for name in ("n1", "n2", "n3"):
        await client.create("v1/nodes", node(name))
    await client.create("v1/pods", pod("x", labels={"app": "spread"}, nodeName="n1"), namespace="default")
    await client.create("v1/pods", pod("y", labels={"app": "spread"}, nodeName="n2"), namespace="default")
    # n3 is the busiest by resources, so LeastRequestedPriority alone would pick n1 or n2
    await client.create("v1/pods", pod("load", cpu="1", memory="2Gi", nodeName="n3"), namespace="default")
    await start_scheduler(policy=parse_policy(
        '{"kind":"Policy","apiVersion":"v1","priorities":[{"name":"LeastRequestedPriority","weight":1},'
        '{"name":"EvenPodsSpreadPriority","weight":1}]}'))
    await client.create("v1/pods", pod("z", labels={"app": "spread"},
                                       topologySpreadConstraints=spread("ScheduleAnyway", "kubernetes.io/hostname")),
                        namespace="default")
    assert await wait_bound(client, "z") == "n3"
