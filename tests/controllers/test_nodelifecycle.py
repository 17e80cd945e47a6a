"""The node lifecycle controller against a real API server; heartbeats are Lease renewals
written by the test (a fake kubelet), grace periods shortened through options."""

from __future__ import annotations

import asyncio
from typing import Any

from hyperkube.client import Client, NotFound
from hyperkube.controllers.nodelifecycle import eviction_delay, seconds, tolerates
from hyperkube.machinery.durations import now_rfc3339
from tests.controllers.conftest import eventually

NODES = "v1/nodes"
LEASES = "coordination.k8s.io/v1/leases"
PODS = "v1/pods"
FAST = {"node_monitor_grace_period": "1s", "node_startup_grace_period": "1s", "node_monitor_period": "200ms",
        "node_eviction_rate": 100.0}


def ready(status: str = "True") -> dict[str, Any]:
    stamp = now_rfc3339()
    return {"type": "Ready", "status": status, "reason": "KubeletReady", "message": "kubelet is posting ready status",
            "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}


async def make_node(kube: Client, name: str, status: str = "True", **spec: Any) -> dict[str, Any]:
    return await kube.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                                     "spec": spec, "status": {"conditions": [ready(status)]}})


class Heartbeat:
    """Renews the node's Lease every 100 ms while running, as a kubelet does."""

    def __init__(self, kube: Client, node: str) -> None:
        self.kube, self.node = kube, node
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Heartbeat:
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": self.node},
                 "spec": {"holderIdentity": self.node, "leaseDurationSeconds": 40, "renewTime": _micro()}}
        try:
            await self.kube.create(LEASES, lease, namespace="kube-node-lease")
        except Exception:  # noqa: BLE001 - it exists from an earlier start
            pass
        self.task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            await self.kube.patch(LEASES, self.node, {"spec": {"renewTime": _micro()}}, namespace="kube-node-lease")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


def _micro() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def taints(node: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (node.get("spec") or {}).get("taints") or []}


async def node_where(kube: Client, name: str, check) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        node = await kube.get(NODES, name)
        return node if check(node) else None

    return await eventually(probe)


def condition(obj: dict[str, Any], kind: str = "Ready") -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or () if c["type"] == kind), {})


async def bound_pod(kube: Client, name: str, node: str, tolerations: list[dict[str, Any]] | None = None) -> None:
    spec: dict[str, Any] = {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    pod = await kube.create(PODS, {"metadata": {"name": name}, "spec": spec}, namespace="default")
    await kube.patch_status(PODS, name, {"status": {"phase": "Running", "podIP": "10.0.0.9", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now_rfc3339()}]}}, namespace="default")
    return pod


async def test_node_whose_lease_stops_becomes_unknown_unreachable_and_pods_are_evicted(kube: Client,
                                                                                       controllers) -> None:
    await make_node(kube, "n1")
    beat = await Heartbeat(kube, "n1").start()
    await bound_pod(kube, "short", "n1", [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                           "effect": "NoExecute", "tolerationSeconds": 1}])
    await bound_pod(kube, "forever", "n1", [{"operator": "Exists"}])
    await controllers("nodelifecycle", options=FAST)
    await asyncio.sleep(1.5)  # longer than the grace period: the Lease keeps it alive
    node = await kube.get(NODES, "n1")
    assert condition(node)["status"] == "True" and not taints(node)
    await beat.stop()  # the kubelet dies
    node = await node_where(kube, "n1", lambda n: condition(n)["status"] == "Unknown")
    assert condition(node)["reason"] == "NodeStatusUnknown"
    assert condition(node)["message"] == "Kubelet stopped posting node status."
    node = await node_where(kube, "n1", lambda n: taints(n) == {("node.kubernetes.io/unreachable", "NoSchedule"),
                                                                ("node.kubernetes.io/unreachable", "NoExecute")})
    no_execute = next(t for t in node["spec"]["taints"] if t["effect"] == "NoExecute")
    assert no_execute.get("timeAdded")

    async def evicted() -> bool:
        try:
            pod = await kube.get(PODS, "short", namespace="default")
        except NotFound:
            return True
        return bool(pod["metadata"].get("deletionTimestamp"))

    await eventually(evicted)
    forever = await kube.get(PODS, "forever", namespace="default")
    assert not forever["metadata"].get("deletionTimestamp")
    assert condition(forever)["status"] == "False"  # marked not ready: endpoints drop it
    # the kubelet comes back and posts Ready: the taints go
    await kube.patch_status(NODES, "n1", {"status": {"conditions": [ready()]}})
    beat = await Heartbeat(kube, "n1").start()
    await node_where(kube, "n1", lambda n: not taints(n))
    await beat.stop()


async def test_not_ready_and_cordoned_nodes_are_tainted(kube: Client, controllers) -> None:
    await make_node(kube, "sick", "False")
    await make_node(kube, "cordoned", unschedulable=True)
    await controllers("nodelifecycle", options={**FAST, "node_monitor_grace_period": "60s"})
    await node_where(kube, "sick", lambda n: taints(n) == {("node.kubernetes.io/not-ready", "NoSchedule"),
                                                           ("node.kubernetes.io/not-ready", "NoExecute")})
    await node_where(kube, "cordoned", lambda n: taints(n) == {("node.kubernetes.io/unschedulable", "NoSchedule")})
    await kube.patch(NODES, "cordoned", {"spec": {"unschedulable": False}})
    await node_where(kube, "cordoned", lambda n: not taints(n))
    # a taint of someone else's is kept
    await kube.patch(NODES, "sick", {"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}})
    await node_where(kube, "sick", lambda n: taints(n) == {("dedicated", "NoSchedule"),
                                                           ("node.kubernetes.io/not-ready", "NoSchedule"),
                                                           ("node.kubernetes.io/not-ready", "NoExecute")})
    await kube.patch_status(NODES, "sick", {"status": {"conditions": [ready()]}})
    await node_where(kube, "sick", lambda n: taints(n) == {("dedicated", "NoSchedule")})


async def test_no_execute_taints_are_rate_limited(kube: Client, controllers) -> None:
    await make_node(kube, "a", "False")
    await make_node(kube, "b", "False")
    await controllers("nodelifecycle", options={**FAST, "node_eviction_rate": 0.01, "node_monitor_grace_period": "60s"})

    async def both_tainted() -> list[set[tuple[str, str]]] | None:
        found = [taints(await kube.get(NODES, n)) for n in ("a", "b")]
        return found if all(("node.kubernetes.io/not-ready", "NoSchedule") in t for t in found) else None

    found = await eventually(both_tainted)
    with_no_execute = [t for t in found if ("node.kubernetes.io/not-ready", "NoExecute") in t]
    assert len(with_no_execute) == 1  # the second one waits for its slot (100 s at this rate)


def test_toleration_matching_and_eviction_delay() -> None:
    taint = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
    assert tolerates({"operator": "Exists"}, taint)
    assert tolerates({"key": taint["key"], "operator": "Exists", "effect": "NoExecute"}, taint)
    assert not tolerates({"key": taint["key"], "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert not tolerates({"key": taint["key"], "value": "x"}, taint)
    assert tolerates({"key": "k", "value": "v"}, {"key": "k", "value": "v", "effect": "NoExecute"})
    pod = {"spec": {"tolerations": [{"key": taint["key"], "operator": "Exists", "tolerationSeconds": 30},
                                    {"operator": "Exists"}]}}
    assert eviction_delay(pod, [taint]) == 30
    assert eviction_delay({"spec": {"tolerations": [{"operator": "Exists"}]}}, [taint]) is None
    assert eviction_delay({"spec": {}}, [taint]) == 0
    assert (seconds("40s"), seconds("1m30s"), seconds("250ms"), seconds(2)) == (40, 90, 0.25, 2)


async def test_pods_of_a_dead_node_are_replaced_once_their_toleration_runs_out(kube: Client, controllers) -> None:
    """The kubelet is killed: the node goes Unknown within the grace period, its pods are
    evicted after their tolerationSeconds, and the ReplicaSet replaces them (the test binds
    pods as a scheduler would: the first two to the dying node, replacements to the other)."""
    await make_node(kube, "dying")
    await make_node(kube, "healthy")
    beats = [await Heartbeat(kube, "dying").start(), await Heartbeat(kube, "healthy").start()]
    await controllers("nodelifecycle", "replicaset", options=FAST)
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {
        "containers": [{"name": "c", "image": "nginx"}],
        "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 1}]}}
    await kube.create("apps/v1/replicasets", {"metadata": {"name": "web"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template}}, namespace="default")

    async def bind_new(node: str) -> list[str]:
        pods = (await kube.list(PODS, namespace="default", label_selector="app=web"))["items"]
        names = []
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            if not pod["spec"].get("nodeName"):
                await kube.create(PODS, {"apiVersion": "v1", "kind": "Binding", "metadata": {
                    "name": pod["metadata"]["name"]}, "target": {"kind": "Node", "name": node}},
                    namespace="default", name=pod["metadata"]["name"], subresource="binding")
            names.append(pod["metadata"]["name"])
        return names if len(names) == 2 else []

    first = set(await eventually(lambda: bind_new("dying")))
    await beats[0].stop()
    await node_where(kube, "dying", lambda n: condition(n)["status"] == "Unknown")

    async def replaced() -> bool:
        pods = (await kube.list(PODS, namespace="default", label_selector="app=web"))["items"]
        live = {p["metadata"]["name"]: p for p in pods if not p["metadata"].get("deletionTimestamp")}
        if set(live) & first or len(live) != 2:
            return False
        await bind_new("healthy")
        return True

    await eventually(replaced)
    pods = (await kube.list(PODS, namespace="default", label_selector="app=web"))["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert {p["spec"].get("nodeName") for p in live} == {"healthy"}
    await beats[1].stop()
