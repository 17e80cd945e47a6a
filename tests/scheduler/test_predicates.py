"""Each predicate against real API objects: where a pod lands, and the reason when none fits."""

from __future__ import annotations

from tests.scheduler._helpers import wait_bound, wait_event
from tests.scheduler._objects import node, pod
from tests.scheduler.conftest import eventually


async def failure(client, name: str) -> str:
    return (await wait_event(client, name, "FailedScheduling"))["message"]


async def test_pod_fits_resources_memory_and_extended_resources(client, start_scheduler):
    await client.create("v1/nodes", node("small", memory="1Gi"))
    await client.create("v1/nodes", node("gpu", memory="1Gi", extra={"example.com/gpu": "1"}))
    await start_scheduler()
    await client.create("v1/pods", pod("mem", memory="2Gi"), namespace="default")
    gpu_pod = pod("gpu-pod")
    gpu_pod["spec"]["containers"][0]["resources"] = {"limits": {"example.com/gpu": "1"}}
    await client.create("v1/pods", gpu_pod, namespace="default")
    assert await wait_bound(client, "gpu-pod") == "gpu"
    assert await failure(client, "mem") == "0/2 nodes are available: 2 Insufficient memory."
    second = pod("gpu-2")
    second["spec"]["containers"][0]["resources"] = {"limits": {"example.com/gpu": "1"}}
    await client.create("v1/pods", second, namespace="default")
    assert await failure(client, "gpu-2") == "0/2 nodes are available: 2 Insufficient example.com/gpu."


async def test_bound_pods_are_accounted(client, start_scheduler):
    """A pod created with spec.nodeName (no scheduler involved) still takes its room."""
    await client.create("v1/nodes", node("n1", cpu="2"))
    await client.create("v1/nodes", node("n2", cpu="2"))
    await client.create("v1/pods", pod("static", cpu="2", nodeName="n1"), namespace="default")
    await start_scheduler()
    await client.create("v1/pods", pod("web", cpu="1"), namespace="default")
    assert await wait_bound(client, "web") == "n2"


async def test_pod_fits_host_ports(client, start_scheduler):
    await client.create("v1/nodes", node("n1"))
    await client.create("v1/nodes", node("n2"))
    await start_scheduler()
    await client.create("v1/pods", pod("a", ports=[8080]), namespace="default")
    first = await wait_bound(client, "a")
    await client.create("v1/pods", pod("b", ports=[8080]), namespace="default")
    second = await wait_bound(client, "b")
    assert {first, second} == {"n1", "n2"}
    await client.create("v1/pods", pod("c", ports=[8080, 9090]), namespace="default")
    assert await failure(client, "c") == (
        "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports.")
    await client.create("v1/pods", pod("d", ports=[9090]), namespace="default")
    assert await wait_bound(client, "d") in ("n1", "n2")


def affinity(*expressions: dict, fields: list[dict] | None = None) -> dict:
    term: dict = {"matchExpressions": list(expressions)}
    if fields:
        term["matchFields"] = fields
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


async def test_match_node_selector_and_required_affinity_operators(client, start_scheduler):
    await client.create("v1/nodes", node("ssd-8", labels={"disk": "ssd", "cores": "8"}))
    await client.create("v1/nodes", node("hdd-4", labels={"disk": "hdd", "cores": "4"}))
    await client.create("v1/nodes", node("plain"))
    await start_scheduler()
    cases = {
        "selector": ({"nodeSelector": {"disk": "hdd"}}, "hdd-4"),
        "in": ({"affinity": affinity({"key": "disk", "operator": "In", "values": ["ssd", "nvme"]})}, "ssd-8"),
        "notin": ({"affinity": affinity({"key": "disk", "operator": "NotIn", "values": ["ssd", "hdd"]})}, "plain"),
        "exists": ({"affinity": affinity({"key": "cores", "operator": "Exists"},
                                         {"key": "disk", "operator": "In", "values": ["hdd"]})}, "hdd-4"),
        "doesnotexist": ({"affinity": affinity({"key": "disk", "operator": "DoesNotExist"})}, "plain"),
        "gt": ({"affinity": affinity({"key": "cores", "operator": "Gt", "values": ["6"]})}, "ssd-8"),
        "lt": ({"affinity": affinity({"key": "cores", "operator": "Lt", "values": ["6"]})}, "hdd-4"),
        "fields": ({"affinity": affinity(fields=[{"key": "metadata.name", "operator": "In",
                                                   "values": ["plain"]}])}, "plain"),
    }
    for name, (spec, _) in cases.items():
        await client.create("v1/pods", pod(name, **spec), namespace="default")
    for name, (_, expected) in cases.items():
        assert await wait_bound(client, name) == expected, name
    await client.create("v1/pods", pod("nowhere", nodeSelector={"disk": "tape"}), namespace="default")
    assert await failure(client, "nowhere") == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")


async def test_check_node_unschedulable_and_condition(client, start_scheduler):
    await client.create("v1/nodes", node("cordoned", unschedulable=True))
    await client.create("v1/nodes", node("down", ready=False))
    await start_scheduler()
    await client.create("v1/pods", pod("web"), namespace="default")
    assert await failure(client, "web") == (
        "0/2 nodes are available: 1 node(s) were not ready, 1 node(s) were unschedulable.")
    tolerant = pod("tolerant", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                             "effect": "NoSchedule"}])
    await client.create("v1/pods", tolerant, namespace="default")
    assert await wait_bound(client, "tolerant") == "cordoned"


async def test_max_pods(client, start_scheduler):
    await client.create("v1/nodes", node("tiny", pods=1))
    await start_scheduler()
    await client.create("v1/pods", pod("one"), namespace="default")
    assert await wait_bound(client, "one") == "tiny"
    await client.create("v1/pods", pod("two"), namespace="default")
    assert await failure(client, "two") == "0/1 nodes are available: 1 Too many pods."


async def test_no_disk_conflict_for_host_paths(client, start_scheduler):
    await client.create("v1/nodes", node("n1"))
    await client.create("v1/nodes", node("n2"))
    await start_scheduler()
    volumes = [{"name": "data", "hostPath": {"path": "/srv/data"}}]
    await client.create("v1/pods", pod("a", volumes=volumes), namespace="default")
    await client.create("v1/pods", pod("b", volumes=volumes), namespace="default")
    assert {await wait_bound(client, "a"), await wait_bound(client, "b")} == {"n1", "n2"}
    await client.create("v1/pods", pod("c", volumes=volumes), namespace="default")
    assert await failure(client, "c") == "0/2 nodes are available: 2 node(s) had no available disk."


async def test_pod_tolerates_node_taints(client, start_scheduler):
    await client.create("v1/nodes", node("gpu", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]))
    await client.create("v1/nodes", node("evict", taints=[{"key": "bad", "effect": "NoExecute"}]))
    await client.create("v1/nodes", node("soft", taints=[{"key": "meh", "effect": "PreferNoSchedule"}]))
    await start_scheduler()
    await client.create("v1/pods", pod("plain"), namespace="default")
    assert await wait_bound(client, "plain") == "soft"  # PreferNoSchedule does not filter
    await client.create("v1/pods", pod("ml", nodeSelector={"kubernetes.io/hostname": "gpu"},
                                       tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                                     "effect": "NoSchedule"}]), namespace="default")
    assert await wait_bound(client, "ml") == "gpu"
    await client.create("v1/nodes", node("other", taints=[{"key": "dedicated", "value": "gpu",
                                                          "effect": "NoSchedule"}]))
    await client.delete("v1/nodes", "soft")
    await client.create("v1/pods", pod("stuck"), namespace="default")
    message = await failure(client, "stuck")
    assert message == ("0/3 nodes are available: 1 node(s) had untolerated taint {bad: }, "
                       "2 node(s) had untolerated taint {dedicated: gpu}.")


def zone_node(name: str, zone: str):
    return node(name, labels={"topology.kubernetes.io/zone": zone})


def term(labels: dict, key: str = "topology.kubernetes.io/zone") -> dict:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key}


async def test_match_inter_pod_affinity(client, start_scheduler):
    for name, zone in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        await client.create("v1/nodes", zone_node(name, zone))
    await client.create("v1/pods", pod("db", labels={"app": "db"}, nodeName="b1"), namespace="default")
    await start_scheduler()
    near = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "db"})]}}
    await client.create("v1/pods", pod("near-db", affinity=near), namespace="default")
    assert await wait_bound(client, "near-db") == "b1"
    far = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "db"})]}}
    await client.create("v1/pods", pod("far-db", affinity=far), namespace="default")
    assert await wait_bound(client, "far-db") in ("a1", "a2")
    lonely = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "cache"})]}}
    await client.create("v1/pods", pod("lonely", affinity=lonely), namespace="default")
    assert await failure(client, "lonely") == "0/3 nodes are available: 3 node(s) didn't match pod affinity rules."
    # the first pod of a group that selects itself may go anywhere
    await client.create("v1/pods", pod("first", labels={"app": "cache"}, affinity=lonely), namespace="default")
    assert await wait_bound(client, "first")


async def test_existing_pods_anti_affinity_keeps_others_away(client, start_scheduler):
    for name in ("n1", "n2"):
        await client.create("v1/nodes", node(name))
    shy = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        term({"app": "noisy"}, "kubernetes.io/hostname")]}}
    await client.create("v1/pods", pod("shy", affinity=shy, nodeName="n1"), namespace="default")
    await start_scheduler()
    await client.create("v1/pods", pod("noisy", labels={"app": "noisy"}), namespace="default")
    assert await wait_bound(client, "noisy") == "n2"
    await client.create("v1/pods", pod("also-shy", labels={"app": "x"}, affinity=shy), namespace="default")
    assert await wait_bound(client, "also-shy") == "n1"
    anti_self = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        term({"app": "one-per-node"}, "kubernetes.io/hostname")]}}
    for i in range(3):
        await client.create("v1/pods", pod(f"solo-{i}", labels={"app": "one-per-node"}, affinity=anti_self),
                            namespace="default")
    placed = {i: await wait_settled(client, f"solo-{i}") for i in range(3)}
    bound = sorted(n for n in placed.values() if n)
    assert bound == ["n1", "n2"]
    left = next(f"solo-{i}" for i, n in placed.items() if not n)
    assert await failure(client, left) == (
        "0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules.")


async def wait_settled(client, name: str) -> str:
    """The pod's node, or "" once it is reported unschedulable."""
    async def check():
        found = await client.get("v1/pods", name, namespace="default")
        if found["spec"].get("nodeName"):
            return found["spec"]["nodeName"]
        unschedulable = any(c["type"] == "PodScheduled" and c["status"] == "False"
                            for c in found["status"].get("conditions") or ())
        return "-" if unschedulable else None

    result = await eventually(check)
    return "" if result == "-" else result
