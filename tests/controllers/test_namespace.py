"""The namespace controller against a real API server: deleting a namespace empties it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hyperkube.client import Client, NotFound
from tests.apiserver.test_crds import definition
from tests.controllers.conftest import eventually

NAMESPACES = "v1/namespaces"
CRDS = "apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "example.com/v1/widgets"


def objects(i: int) -> list[tuple[str, dict[str, Any]]]:
    """Ten kinds, one object each, numbered ``i``."""
    name = f"o{i}"
    labels = {"app": "x"}
    container = {"name": "c", "image": "nginx"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [container]}}
    return [
        ("v1/configmaps", {"metadata": {"name": name}, "data": {"k": "v"}}),
        ("v1/secrets", {"metadata": {"name": name}, "stringData": {"k": "v"}}),
        ("v1/serviceaccounts", {"metadata": {"name": name}}),
        ("v1/pods", {"metadata": {"name": name, "labels": labels}, "spec": {"containers": [container]}}),
        ("v1/services", {"metadata": {"name": name}, "spec": {"selector": labels, "ports": [{"port": 80}]}}),
        ("apps/v1/deployments", {"metadata": {"name": name}, "spec": {"replicas": 0, "selector": {
            "matchLabels": labels}, "template": template}}),
        ("batch/v1/jobs", {"metadata": {"name": name}, "spec": {"suspend": True, "template": {
            **template, "spec": {**template["spec"], "restartPolicy": "Never"}}}}),
        ("coordination.k8s.io/v1/leases", {"metadata": {"name": name}, "spec": {}}),
        ("rbac.authorization.k8s.io/v1/roles", {"metadata": {"name": name}, "rules": []}),
        (WIDGETS, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name},
                   "spec": {"size": 2}}),
    ]


async def crd_established(kube: Client) -> None:
    await kube.create(CRDS, definition())

    async def served() -> bool:
        crd = await kube.get(CRDS, "widgets.example.com")
        return any(c["type"] == "Established" and c["status"] == "True"
                   for c in (crd.get("status") or {}).get("conditions") or ())

    await eventually(served)


async def count_all(kube: Client, namespace: str) -> int:
    total = 0
    for resource, _ in objects(0):
        total += len((await kube.list(resource, namespace=namespace)).get("items") or [])
    return total


async def namespace_gone(kube: Client, name: str) -> bool:
    try:
        await kube.get(NAMESPACES, name)
    except NotFound:
        return True
    return False


async def test_deleting_a_namespace_of_500_objects_of_10_kinds_removes_everything(kube: Client,
                                                                                  controllers) -> None:
    await crd_established(kube)
    await kube.create(NAMESPACES, {"metadata": {"name": "doomed"}})
    await kube.create(NAMESPACES, {"metadata": {"name": "kept"}})
    semaphore = asyncio.Semaphore(20)

    async def create(resource: str, body: dict[str, Any], namespace: str) -> None:
        async with semaphore:
            await kube.create(resource, body, namespace=namespace)

    await asyncio.gather(*(create(r, b, "doomed") for i in range(50) for r, b in objects(i)))
    await asyncio.gather(*(create(r, b, "kept") for r, b in objects(0)))
    assert await count_all(kube, "doomed") == 500
    await controllers("namespace")
    await kube.delete(NAMESPACES, "doomed")
    await eventually(lambda: namespace_gone(kube, "doomed"), within=60)
    assert await count_all(kube, "doomed") == 0
    assert await count_all(kube, "kept") == 10


async def test_conditions_say_what_blocks_and_finalizer_release_lets_it_go(kube: Client, controllers) -> None:
    await kube.create(NAMESPACES, {"metadata": {"name": "blocked"}})
    await kube.create("v1/configmaps", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}},
                      namespace="blocked")
    await kube.create("v1/configmaps", {"metadata": {"name": "free"}}, namespace="blocked")
    await controllers("namespace")
    await kube.delete(NAMESPACES, "blocked")

    async def blocked() -> dict[str, Any] | None:
        namespace = await kube.get(NAMESPACES, "blocked")
        conditions = {c["type"]: c for c in (namespace.get("status") or {}).get("conditions") or ()}
        remaining = conditions.get("NamespaceFinalizersRemaining", {})
        return conditions if remaining.get("status") == "True" else None

    conditions = await blocked() or await eventually(blocked)
    assert conditions["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizersRemain"
    assert conditions["NamespaceFinalizersRemaining"]["message"] == (
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
    assert conditions["NamespaceContentRemaining"]["status"] == "True"
    assert conditions["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert conditions["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: configmaps has 1 resource instances")
    assert conditions["NamespaceDeletionContentFailure"]["status"] == "False"
    assert conditions["NamespaceDeletionDiscoveryFailure"] == {
        **conditions["NamespaceDeletionDiscoveryFailure"], "status": "False", "reason": "ResourcesDiscovered",
        "message": "All resources successfully discovered"}
    namespace = await kube.get(NAMESPACES, "blocked")
    assert namespace["status"]["phase"] == "Terminating"
    assert namespace["spec"]["finalizers"] == ["kubernetes"]
    with pytest.raises(NotFound):  # what has no finalizer is gone already
        await kube.get("v1/configmaps", "free", namespace="blocked")
    # the finalizer's owner lets go: the namespace goes
    await kube.patch("v1/configmaps", "held", {"metadata": {"finalizers": None}}, namespace="blocked")
    await eventually(lambda: namespace_gone(kube, "blocked"), within=30)


async def test_live_namespaces_are_left_alone(kube: Client, controllers) -> None:
    await kube.create(NAMESPACES, {"metadata": {"name": "alive"}})
    await kube.create("v1/configmaps", {"metadata": {"name": "c"}}, namespace="alive")
    manager = await controllers("namespace")
    controller = manager.controllers["namespace"]
    await controller.sync("alive")
    await controller.sync("absent")
    assert (await kube.get("v1/configmaps", "c", namespace="alive"))["metadata"]["name"] == "c"
