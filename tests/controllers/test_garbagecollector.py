"""Garbage collection and deletion propagation against a real API server."""

from __future__ import annotations

from typing import Any

from hyperkube.client import Client, NotFound
from tests.controllers.conftest import eventually, pods_of

CM = "v1/configmaps"
SECRETS = "v1/secrets"


async def gone(kube: Client, resource: str, name: str) -> bool:
    try:
        await kube.get(resource, name, namespace="default")
    except NotFound:
        return True
    return False


def ref(owner: dict[str, Any], block: bool = False) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "blockOwnerDeletion": block}


async def owner_and_dependents(kube: Client, *holds: str, block: bool = True) -> tuple[dict, list[dict]]:
    owner = await kube.create(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}},
                              namespace="default")
    owner.setdefault("apiVersion", "v1")
    owner.setdefault("kind", "ConfigMap")
    dependents = []
    for i, hold in enumerate(holds):
        metadata: dict[str, Any] = {"name": f"dep-{i}", "ownerReferences": [ref(owner, block)]}
        if hold:
            metadata["finalizers"] = [hold]
        dependents.append(await kube.create(SECRETS, {"metadata": metadata}, namespace="default"))
    return owner, dependents


async def test_background_collects_dependents_across_kinds(kube: Client, controllers) -> None:
    await controllers("garbagecollector")
    await owner_and_dependents(kube, "", "")
    await kube.delete(CM, "owner", namespace="default", propagation_policy="Background")
    await eventually(lambda: gone(kube, SECRETS, "dep-0"))
    await eventually(lambda: gone(kube, SECRETS, "dep-1"))


async def test_dangling_owner_reference_is_collected_and_solid_owner_keeps_it(kube: Client, controllers) -> None:
    await controllers("garbagecollector")
    keeper = await kube.create(CM, {"metadata": {"name": "keeper"}}, namespace="default")
    keeper.update(apiVersion="v1", kind="ConfigMap")
    missing = {"apiVersion": "v1", "kind": "ConfigMap", "name": "never", "uid": "00000000-0000-0000-0000-000000000001"}
    await kube.create(SECRETS, {"metadata": {"name": "lonely", "ownerReferences": [missing]}}, namespace="default")
    await kube.create(SECRETS, {"metadata": {"name": "shared", "ownerReferences": [missing, ref(keeper)]}},
                      namespace="default")
    await eventually(lambda: gone(kube, SECRETS, "lonely"))

    async def dangling_removed() -> bool:
        refs = (await kube.get(SECRETS, "shared", namespace="default"))["metadata"].get("ownerReferences") or []
        return [r["uid"] for r in refs] == [keeper["metadata"]["uid"]]

    await eventually(dangling_removed)


async def test_foreground_waits_for_blocking_dependents(kube: Client, controllers) -> None:
    await controllers("garbagecollector")
    await owner_and_dependents(kube, "example.com/hold", "")
    deleted = await kube.delete(CM, "owner", namespace="default", propagation_policy="Foreground")
    assert "foregroundDeletion" in deleted["metadata"]["finalizers"]
    await eventually(lambda: gone(kube, SECRETS, "dep-1"))

    async def held() -> bool:
        dep = await kube.get(SECRETS, "dep-0", namespace="default")
        return bool(dep["metadata"].get("deletionTimestamp"))

    await eventually(held)
    owner = await kube.get(CM, "owner", namespace="default")  # still there: dep-0 blocks it
    assert owner["metadata"]["deletionTimestamp"] and owner["metadata"]["finalizers"] == ["foregroundDeletion"]
    await kube.patch(SECRETS, "dep-0", {"metadata": {"finalizers": None}}, namespace="default")
    await eventually(lambda: gone(kube, SECRETS, "dep-0"))
    await eventually(lambda: gone(kube, CM, "owner"))


async def test_orphan_keeps_dependents_and_removes_references(kube: Client, controllers) -> None:
    await controllers("garbagecollector")
    owner, _ = await owner_and_dependents(kube, "", "")
    deleted = await kube.delete(CM, "owner", namespace="default", propagation_policy="Orphan")
    assert "orphan" in deleted["metadata"]["finalizers"]
    await eventually(lambda: gone(kube, CM, "owner"))
    for name in ("dep-0", "dep-1"):
        dep = await kube.get(SECRETS, name, namespace="default")
        assert not dep["metadata"].get("ownerReferences")


async def test_deleting_a_deployment_cascades_to_replicasets_and_pods(kube: Client, controllers) -> None:
    await controllers("deployment", "replicaset", "garbagecollector")
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    await kube.create("apps/v1/deployments", body, namespace="default")

    async def two_pods() -> bool:
        return len(await pods_of(kube, selector="app=web")) == 2

    await eventually(two_pods)
    await kube.delete("apps/v1/deployments", "web", namespace="default", propagation_policy="Foreground")

    async def all_gone() -> bool:
        rs = (await kube.list("apps/v1/replicasets", namespace="default"))["items"]
        return not rs and not await pods_of(kube, selector="app=web") and await gone(kube, "apps/v1/deployments", "web")

    await eventually(all_gone)
