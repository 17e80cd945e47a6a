"""The pod garbage collector against a real API server (one sweep at a time)."""

from __future__ import annotations

from typing import Any

from hyperkube.client import Client, Config, EventRecorder, InformerFactory, NotFound
from hyperkube.controllers.base import ControllerContext
from hyperkube.controllers.podgc import PodGCController

PODS = "v1/pods"


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "x"}], **spec}}


async def names(kube: Client) -> set[str]:
    return {p["metadata"]["name"] for p in (await kube.list(PODS, namespace="default"))["items"]}


async def test_sweep_removes_orphans_unscheduled_terminating_and_old_finished_pods(kube: Client, server) -> None:
    await kube.create("v1/nodes", {"metadata": {"name": "alive"}})
    await kube.create(PODS, pod("on-alive", nodeName="alive"), namespace="default")
    await kube.create(PODS, pod("on-gone", nodeName="gone"), namespace="default")
    for i in range(4):
        await kube.create(PODS, pod(f"done-{i}", nodeName="alive"), namespace="default")
        await kube.patch_status(PODS, f"done-{i}", {"status": {"phase": "Succeeded"}}, namespace="default")
    stuck = pod("stuck")
    stuck["metadata"]["finalizers"] = ["example.com/x"]
    await kube.create(PODS, stuck, namespace="default")
    await kube.delete(PODS, "stuck", namespace="default")  # terminating, held by its finalizer, never scheduled
    async with Client(Config(server=server.url)) as client:
        factory = InformerFactory(client)
        ctx = ControllerContext(client, factory, EventRecorder(client, "test"))
        controller = PodGCController(ctx, threshold=2)
        factory.start()
        await factory.wait_for_sync()
        assert await controller.gc() == 4  # on-gone, done-0, done-1, stuck
        await factory.stop()
    left = await names(kube)
    assert {"on-alive", "done-2", "done-3"} <= left
    assert "on-gone" not in left and "done-0" not in left and "done-1" not in left
    try:
        remaining = await kube.get(PODS, "stuck", namespace="default")
        assert remaining["metadata"]["deletionTimestamp"]  # force-deleted; its finalizer still holds it
    except NotFound:
        pass
