"""Pod garbage collection against a real API server."""

from __future__ import annotations

from hyperkube.client import Client
from tests.controllers.conftest import eventually, pods_of

FAST = {"options": {"terminated_pod_gc_threshold": 2, "podgc_period": 0.1, "podgc_quarantine": 0}}


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"gc": "yes"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def test_terminated_pods_above_threshold_go_oldest_first(kube: Client, controllers) -> None:
    await controllers("podgc", **FAST)
    for i in range(4):
        await kube.create("v1/pods", pod(f"done-{i}"), namespace="default")
    await kube.create("v1/pods", pod("running"), namespace="default")
    for i in range(4):
        await kube.patch_status("v1/pods", f"done-{i}", {"status": {"phase": "Succeeded"}}, namespace="default")

    async def trimmed() -> list[str] | None:
        names = sorted(p["metadata"]["name"] for p in await pods_of(kube, selector="gc=yes"))
        return names if len(names) == 3 else None

    assert await eventually(trimmed) == ["done-2", "done-3", "running"]


async def test_pods_on_missing_nodes_are_force_deleted(kube: Client, controllers) -> None:
    await kube.create("v1/nodes", {"metadata": {"name": "real"}})
    for name, node in (("here", "real"), ("lost", "ghost")):
        await kube.create("v1/pods", pod(name), namespace="default")
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        await kube.create("v1/pods", binding, namespace="default", name=name, subresource="binding")
    await controllers("podgc", **FAST)

    async def only_here() -> bool:
        return [p["metadata"]["name"] for p in await pods_of(kube, selector="gc=yes")] == ["here"]

    await eventually(only_here)
