"""The StatefulSet controller against a real API server (the test marks pods Running/Ready)."""

from __future__ import annotations

from typing import Any

from hyperkube.client import Client
from tests.controllers.conftest import FakeKubelet, eventually, mark_ready, pods_of

STS = "apps/v1/statefulsets"


def statefulset(name: str, replicas: int, image: str = "db:1", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}, **spec}}


async def names(kube: Client, app: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in await pods_of(kube, selector=f"app={app}")
                  if not p["metadata"].get("deletionTimestamp"))


async def test_ordered_creation_claims_and_scale_down(kube: Client, controllers) -> None:
    await controllers("statefulset")
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                     "resources": {"requests": {"storage": "1Gi"}}}}
    await kube.create(STS, statefulset("db", 3, volumeClaimTemplates=[claim]), namespace="default")
    for expected in (["db-0"], ["db-0", "db-1"], ["db-0", "db-1", "db-2"]):
        current = await eventually(lambda e=expected: _names_are(kube, "db", e))
        newest = await kube.get("v1/pods", current[-1], namespace="default")
        assert newest["spec"]["hostname"] == current[-1] and newest["spec"]["subdomain"] == "db"
        assert newest["spec"]["volumes"][-1] == {"name": "data", "persistentVolumeClaim": {
            "claimName": f"data-{current[-1]}"}}
        assert await names(kube, "db") == expected  # the next ordinal waits for this one
        await mark_ready(kube, newest)
    claims = sorted(c["metadata"]["name"] for c in (await kube.list("v1/persistentvolumeclaims",
                                                                      namespace="default"))["items"])
    assert claims == ["data-db-0", "data-db-1", "data-db-2"]

    async def status_ready() -> dict[str, Any] | None:
        st = (await kube.get(STS, "db", namespace="default")).get("status") or {}
        return st if st.get("readyReplicas") == 3 else None

    st = await eventually(status_ready)
    assert st["currentRevision"] == st["updateRevision"] and st["currentRevision"].startswith("db-")
    revisions = (await kube.list("apps/v1/controllerrevisions", namespace="default"))["items"]
    assert [r["metadata"]["name"] for r in revisions] == [st["updateRevision"]] and revisions[0]["revision"] == 1

    await kube.patch(STS, "db", {"spec": {"replicas": 1}}, namespace="default")
    await eventually(lambda: _names_are(kube, "db", ["db-0"]))
    claims = (await kube.list("v1/persistentvolumeclaims", namespace="default"))["items"]
    assert len(claims) == 3  # claims survive scale-down


async def test_rolling_update_with_partition(kube: Client, controllers) -> None:
    await controllers("statefulset")
    async with FakeKubelet(kube):
        await kube.create(STS, statefulset("db", 3, podManagementPolicy="Parallel",
                                           updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}),
                          namespace="default")
        await eventually(lambda: _images(kube, {"db-0": "db:1", "db-1": "db:1", "db-2": "db:1"}))
        await kube.patch(STS, "db", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "db:2"}]}}}},
                         namespace="default", patch_type="strategic")
        await eventually(lambda: _images(kube, {"db-0": "db:1", "db-1": "db:2", "db-2": "db:2"}))
        st = (await kube.get(STS, "db", namespace="default"))["status"]
        assert st["currentRevision"] != st["updateRevision"]
        await kube.patch(STS, "db", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}},
                         namespace="default")
        await eventually(lambda: _images(kube, {"db-0": "db:2", "db-1": "db:2", "db-2": "db:2"}))

        async def finished() -> bool:
            st = (await kube.get(STS, "db", namespace="default"))["status"]
            return st["currentRevision"] == st["updateRevision"] and st.get("updatedReplicas") == 3

        await eventually(finished)


async def test_on_delete_waits_for_the_user(kube: Client, controllers) -> None:
    await controllers("statefulset")
    async with FakeKubelet(kube):
        await kube.create(STS, statefulset("db", 2, podManagementPolicy="Parallel",
                                           updateStrategy={"type": "OnDelete"}), namespace="default")
        await eventually(lambda: _images(kube, {"db-0": "db:1", "db-1": "db:1"}))
        await kube.patch(STS, "db", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "db:2"}]}}}},
                         namespace="default", patch_type="strategic")

        async def update_seen() -> bool:
            st = (await kube.get(STS, "db", namespace="default")).get("status") or {}
            return st.get("updateRevision") != st.get("currentRevision")

        await eventually(update_seen)
        assert await _images(kube, {"db-0": "db:1", "db-1": "db:1"})
        await kube.delete("v1/pods", "db-1", namespace="default")
        await eventually(lambda: _images(kube, {"db-0": "db:1", "db-1": "db:2"}))


async def _names_are(kube: Client, app: str, expected: list[str]) -> list[str] | None:
    current = await names(kube, app)
    return current if current == expected else None


async def _images(kube: Client, expected: dict[str, str]) -> bool:
    pods = [p for p in await pods_of(kube, selector="app=db") if not p["metadata"].get("deletionTimestamp")]
    return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in pods} == expected


async def test_claim_retention_policy_delete(kube: Client, controllers) -> None:
    await controllers("statefulset", "garbagecollector")
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                     "resources": {"requests": {"storage": "1Gi"}}}}
    body = statefulset("db", 2, podManagementPolicy="Parallel", volumeClaimTemplates=[claim],
                       persistentVolumeClaimRetentionPolicy={"whenScaled": "Delete", "whenDeleted": "Delete"})
    async with FakeKubelet(kube):
        await kube.create(STS, body, namespace="default")
        await eventually(lambda: _claims_are(kube, ["data-db-0", "data-db-1"]))
        await kube.patch(STS, "db", {"spec": {"replicas": 1}}, namespace="default")
        await eventually(lambda: _claims_are(kube, ["data-db-0"]))  # whenScaled: Delete
        await kube.delete(STS, "db", namespace="default")
        await eventually(lambda: _claims_are(kube, []))  # whenDeleted: Delete


async def _claims_are(kube: Client, expected: list[str]) -> bool:
    items = (await kube.list("v1/persistentvolumeclaims", namespace="default"))["items"]
    return sorted(c["metadata"]["name"] for c in items if not c["metadata"].get("deletionTimestamp")) == expected
