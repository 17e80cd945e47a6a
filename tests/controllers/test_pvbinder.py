"""The PersistentVolume binder and local-path provisioner against a real API server."""

from __future__ import annotations

from typing import Any

from hyperkube.client import Client, NotFound
from tests.controllers.conftest import eventually

PVS = "v1/persistentvolumes"
PVCS = "v1/persistentvolumeclaims"


def volume(name: str, size: str, path: str, policy: str = "Retain", cls: str = "manual",
           modes: list[str] | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"capacity": {"storage": size}, "accessModes": modes or ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": policy, "storageClassName": cls,
                     "hostPath": {"path": path}}}


def claim(name: str, size: str, cls: str | None = "manual", modes: list[str] | None = None,
          selector: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": modes or ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    if selector:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": spec}


async def bound(kube: Client, name: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        found = await kube.get(PVCS, name, namespace="default")
        return found if (found.get("status") or {}).get("phase") == "Bound" else None

    return await eventually(probe)


async def volume_phase(kube: Client, name: str, wanted: str | None) -> Any:
    async def probe() -> Any:
        try:
            found = await kube.get(PVS, name)
        except NotFound:
            return wanted is None
        return found if (found.get("status") or {}).get("phase") == wanted else None

    return await eventually(probe)


async def test_binds_the_smallest_matching_volume_and_retains_it(kube: Client, controllers, tmp_path) -> None:
    await kube.create(PVS, volume("small", "1Gi", str(tmp_path / "a")))
    await kube.create(PVS, volume("big", "10Gi", str(tmp_path / "b")))
    await kube.create(PVS, volume("rwx", "5Gi", str(tmp_path / "c"), modes=["ReadWriteMany"]))
    await kube.create(PVS, volume("fast", "5Gi", str(tmp_path / "d"), labels={"speed": "fast"}))
    await kube.create(PVS, volume("other-class", "5Gi", str(tmp_path / "e"), cls="gold"))
    await controllers("persistentvolume-binder", options={"local_path_dir": str(tmp_path / "lp")})
    await kube.create(PVCS, claim("picky", "1Gi", selector={"matchLabels": {"speed": "fast"}}), namespace="default")
    picky = await bound(kube, "picky")
    assert picky["spec"]["volumeName"] == "fast"  # the only one its selector matches
    await kube.create(PVCS, claim("data", "2Gi"), namespace="default")
    await kube.create(PVCS, claim("shared", "1Gi", modes=["ReadWriteMany"]), namespace="default")
    data = await bound(kube, "data")
    assert data["spec"]["volumeName"] == "big"  # small is too small, fast is taken, the others don't match
    assert data["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    shared = await bound(kube, "shared")
    assert shared["spec"]["volumeName"] == "rwx"
    assert data["status"]["capacity"] == {"storage": "10Gi"} and data["status"]["accessModes"] == ["ReadWriteOnce"]
    pv = await volume_phase(kube, "big", "Bound")
    assert pv["spec"]["claimRef"]["name"] == "data" and pv["spec"]["claimRef"]["uid"] == data["metadata"]["uid"]
    # nothing fits: Pending
    await kube.create(PVCS, claim("huge", "100Gi"), namespace="default")
    assert (await kube.get(PVCS, "huge", namespace="default")).get("status", {}).get("phase") in (None, "Pending")
    # Retain: the claim goes, the volume is Released and kept
    await kube.delete(PVCS, "data", namespace="default")
    await volume_phase(kube, "big", "Released")


async def test_local_path_provisioning_delete_and_recycle(kube: Client, controllers, tmp_path) -> None:
    recycled = tmp_path / "recycled"
    (recycled / "sub").mkdir(parents=True)
    (recycled / "file").write_text("old data")
    await kube.create(PVS, volume("recyclable", "1Gi", str(recycled), policy="Recycle"))
    await controllers("persistentvolume-binder", options={"local_path_dir": str(tmp_path / "lp")})

    async def default_class() -> bool:
        classes = (await kube.list("storage.k8s.io/v1/storageclasses"))["items"]
        return any(c["metadata"]["name"] == "local-path" for c in classes)

    await eventually(default_class)
    # a claim without a class gets the default one, and a provisioned hostPath volume
    created = await kube.create(PVCS, claim("db", "1Gi", cls=None), namespace="default")
    db = await bound(kube, "db")
    pv = await kube.get(PVS, db["spec"]["volumeName"])
    assert pv["spec"]["storageClassName"] == "local-path"
    assert pv["metadata"]["name"] == f"pvc-{created['metadata']['uid']}"
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "rancher.io/local-path"
    assert pv["spec"]["hostPath"]["path"].startswith(str(tmp_path / "lp"))
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    directory = tmp_path / "lp" / pv["spec"]["hostPath"]["path"].rsplit("/", 1)[1]
    directory.mkdir(parents=True)  # what the kubelet's DirectoryOrCreate mount does
    (directory / "table").write_text("rows")
    await kube.delete(PVCS, "db", namespace="default")
    await volume_phase(kube, pv["metadata"]["name"], None)  # Delete: the volume goes, and its data
    assert not directory.exists()
    # Recycle: scrubbed and Available again
    await kube.create(PVCS, claim("tmp", "1Gi", cls="manual"), namespace="default")
    tmp = await bound(kube, "tmp")
    assert tmp["spec"]["volumeName"] == "recyclable"
    await kube.delete(PVCS, "tmp", namespace="default")
    found = await volume_phase(kube, "recyclable", "Available")
    assert "claimRef" not in found["spec"]
    assert recycled.is_dir() and list(recycled.iterdir()) == []
