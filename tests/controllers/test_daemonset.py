"""The DaemonSet controller against a real API server. The test plays the scheduler (binding
each pod to the node its affinity names) and the kubelets (Ready; finishing deletions)."""

from __future__ import annotations

import asyncio
from typing import Any

from hyperkube.client import Client, NotFound
from hyperkube.controllers.daemonset import pod_node
from tests.controllers.conftest import eventually, mark_ready, pods_of

DS = "apps/v1/daemonsets"


class SchedulerAndKubelets:
    def __init__(self, kube: Client) -> None:
        self.kube = kube
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SchedulerAndKubelets:
        self.task = asyncio.create_task(self.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def run(self) -> None:
        while True:
            for pod in await pods_of(self.kube):
                name = pod["metadata"]["name"]
                try:
                    if pod["metadata"].get("deletionTimestamp"):
                        await self.kube.delete("v1/pods", name, namespace="default", grace_period_seconds=0)
                    elif not pod["spec"].get("nodeName"):
                        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                                   "target": {"apiVersion": "v1", "kind": "Node", "name": pod_node(pod)}}
                        await self.kube.create("v1/pods", binding, namespace="default", name=name,
                                               subresource="binding")
                    elif (pod.get("status") or {}).get("phase") != "Running":
                        await mark_ready(self.kube, pod)
                except NotFound:
                    pass
            await asyncio.sleep(0.05)


def daemonset(name: str, image: str = "agent:1", **pod_spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}], **pod_spec}}}}


async def node(kube: Client, name: str, labels: dict[str, str] | None = None, taints: list | None = None) -> None:
    await kube.create("v1/nodes", {"metadata": {"name": name, "labels": labels or {}},
                                   "spec": {"taints": taints or []}})


async def placement(kube: Client) -> dict[str, str]:
    return {p["spec"].get("nodeName") or pod_node(p): p["spec"]["containers"][0]["image"]
            for p in await pods_of(kube, selector="app=agent") if not p["metadata"].get("deletionTimestamp")}


async def test_one_pod_per_eligible_node_and_new_nodes(kube: Client, controllers) -> None:
    await node(kube, "a", {"disk": "ssd"})
    await node(kube, "b", {"disk": "ssd"}, taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    await node(kube, "c", {"disk": "hdd"})
    await node(kube, "d", {"disk": "ssd"}, taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}])
    await controllers("daemonset")
    async with SchedulerAndKubelets(kube):
        await kube.create(DS, daemonset("agent", nodeSelector={"disk": "ssd"}), namespace="default")

        async def placed(expected: set[str]) -> bool:
            return set(await placement(kube)) == expected

        await eventually(lambda: placed({"a", "d"}))  # b's taint is not tolerated, c has no ssd
        pod = (await pods_of(kube, selector="app=agent"))[0]
        keys = {t["key"] for t in pod["spec"]["tolerations"]}
        assert {"node.kubernetes.io/not-ready", "node.kubernetes.io/unschedulable"} <= keys
        terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms["nodeSelectorTerms"][0]["matchFields"][0]["key"] == "metadata.name"

        await node(kube, "e", {"disk": "ssd"})
        await eventually(lambda: placed({"a", "d", "e"}))
        await kube.patch(DS, "agent", {"spec": {"template": {"spec": {"tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]}}}},
            namespace="default", patch_type="strategic")
        await eventually(lambda: placed({"a", "b", "d", "e"}))
        await kube.patch("v1/nodes", "a", {"metadata": {"labels": {"disk": "hdd"}}})
        await eventually(lambda: placed({"b", "d", "e"}))

        async def status() -> dict[str, Any] | None:
            st = (await kube.get(DS, "agent", namespace="default")).get("status") or {}
            return st if st.get("numberReady") == 3 and st.get("updatedNumberScheduled") == 3 else None

        st = await eventually(status)
        assert st["desiredNumberScheduled"] == 3 and st["currentNumberScheduled"] == 3
        assert st["numberAvailable"] == 3 and st["numberMisscheduled"] == 0 and st.get("numberUnavailable", 0) == 0


async def test_rolling_update_one_node_at_a_time_and_on_delete(kube: Client, controllers) -> None:
    for name in ("a", "b", "c"):
        await node(kube, name)
    await controllers("daemonset")
    async with SchedulerAndKubelets(kube):
        await kube.create(DS, daemonset("agent"), namespace="default")
        await eventually(lambda: _images(kube, {"a": "agent:1", "b": "agent:1", "c": "agent:1"}))
        await _all_ready(kube)
        listed = await kube.list("v1/pods", namespace="default")
        pods = {p["metadata"]["name"]: p for p in listed["items"]}
        worst = [0]

        async def watch() -> None:  # nodes without a ready pod, after every pod event
            async with kube.watch("v1/pods", namespace="default",
                                  resource_version=listed["metadata"]["resourceVersion"]) as events:
                async for event in events:
                    if event.type == "DELETED":
                        pods.pop(event.object["metadata"]["name"], None)
                    else:
                        pods[event.object["metadata"]["name"]] = event.object
                    ready_nodes = {p["spec"].get("nodeName") for p in pods.values()
                                   if not p["metadata"].get("deletionTimestamp") and any(
                                       c["type"] == "Ready" and c["status"] == "True"
                                       for c in (p.get("status") or {}).get("conditions") or [])}
                    worst[0] = max(worst[0], len({"a", "b", "c"} - ready_nodes))

        watcher = asyncio.create_task(watch())
        await kube.patch(DS, "agent", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "agent:2"}]}}}}, namespace="default", patch_type="strategic")
        await eventually(lambda: _images(kube, {"a": "agent:2", "b": "agent:2", "c": "agent:2"}))
        await _all_ready(kube)
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        assert worst[0] == 1  # maxUnavailable 1: one node at a time
        await kube.patch(DS, "agent", {"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None},
                                                "template": {"spec": {"containers": [
                                                    {"name": "c", "image": "agent:3"}]}}}}, namespace="default",
                         patch_type="strategic")
        await asyncio.sleep(0.3)
        assert await _images(kube, {"a": "agent:2", "b": "agent:2", "c": "agent:2"})
        victim = next(p for p in await pods_of(kube, selector="app=agent") if p["spec"].get("nodeName") == "b")
        await kube.delete("v1/pods", victim["metadata"]["name"], namespace="default")
        await eventually(lambda: _images(kube, {"a": "agent:2", "b": "agent:3", "c": "agent:2"}))


async def _images(kube: Client, expected: dict[str, str]) -> bool:
    return await placement(kube) == expected


async def _all_ready(kube: Client) -> None:
    async def ready() -> bool:
        st = (await kube.get(DS, "agent", namespace="default")).get("status") or {}
        return st.get("numberAvailable") == st.get("desiredNumberScheduled") == 3 and \
            st.get("updatedNumberScheduled") == 3
    await eventually(ready)


async def test_rolling_update_with_surge_starts_the_new_pod_first(kube: Client, controllers) -> None:
    for name in ("a", "b"):
        await node(kube, name)
    await controllers("daemonset")
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    async with SchedulerAndKubelets(kube):
        body = daemonset("agent")
        body["spec"]["updateStrategy"] = strategy
        await kube.create(DS, body, namespace="default")
        await eventually(lambda: _images(kube, {"a": "agent:1", "b": "agent:1"}))
        await _all_ready_of(kube, 2)
        listed = await kube.list("v1/pods", namespace="default")
        pods = {p["metadata"]["name"]: p for p in listed["items"]}
        seen = {"most": 0, "fewest_ready_nodes": 2}

        async def watch() -> None:
            async with kube.watch("v1/pods", namespace="default",
                                  resource_version=listed["metadata"]["resourceVersion"]) as events:
                async for event in events:
                    if event.type == "DELETED":
                        pods.pop(event.object["metadata"]["name"], None)
                    else:
                        pods[event.object["metadata"]["name"]] = event.object
                    live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
                    ready_nodes = {p["spec"].get("nodeName") for p in live if any(
                        c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get(
                            "conditions") or [])}
                    seen["most"] = max(seen["most"], len(live))
                    seen["fewest_ready_nodes"] = min(seen["fewest_ready_nodes"], len(ready_nodes))

        watcher = asyncio.create_task(watch())
        await kube.patch(DS, "agent", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "agent:2"}]}}}}, namespace="default", patch_type="strategic")
        await eventually(lambda: _images(kube, {"a": "agent:2", "b": "agent:2"}))
        await _all_ready_of(kube, 2)
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    assert seen["most"] == 3  # one surge pod at a time
    assert seen["fewest_ready_nodes"] == 2  # maxUnavailable 0: every node kept a ready pod


async def _all_ready_of(kube: Client, n: int) -> None:
    async def ready() -> bool:
        st = (await kube.get(DS, "agent", namespace="default")).get("status") or {}
        return st.get("numberAvailable") == st.get("desiredNumberScheduled") == n and \
            st.get("updatedNumberScheduled") == n
    await eventually(ready)
