"""The PersistentVolume controller: claims bound to volumes, reclaim, and local-path provisioning.

Claims (``ns/name`` work items):

- a claim whose ``storageClassName`` is unset (not ``""``) is provisioned from the default
  StorageClass (annotated ``storageclass.kubernetes.io/is-default-class``); the API server
  does not let the field be set after creation, so the claim itself keeps it unset;
- an unbound claim is matched with the smallest Available volume of the same class that has
  its access modes, at least its requested storage, the same volumeMode and labels its
  selector matches (a volume pre-bound to the claim by ``claimRef`` wins); binding writes
  the volume's ``claimRef`` and phase Bound, then the claim's ``volumeName``, the annotations
  ``pv.kubernetes.io/bind-completed`` / ``bound-by-controller`` and its status (Bound,
  capacity, access modes);
- with no volume and a class whose provisioner is the local-path one, a hostPath volume
  ``pvc-<uid>`` under ``local_path_dir`` is created, pre-bound to the claim (k3s'
  local-path-provisioner, done in process); else the claim stays Pending with a
  FailedBinding / ProvisioningFailed event;
- a bound claim whose volume disappeared is Lost.

Volumes (``("pv", name)`` work items): no claimRef -> Available; a claimRef whose claim is
gone (or was recreated with another uid) -> Released, then the reclaim policy: Retain keeps
it; Delete removes the volume (and for local-path volumes their directory); Recycle scrubs a
hostPath directory (what the recycler pod would do) and makes the volume Available again.
Disk work runs in a thread. ``local-path`` is created as the default StorageClass at start
when no class is.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from typing import Any

from hyperkube.client import NORMAL, WARNING, AlreadyExists, Conflict, NotFound, object_key
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import is_terminating, meta
from hyperkube.controllers.resourcequota import quantity
from hyperkube.machinery.selectors import label_selector_from_dict

PVS = "v1/persistentvolumes"
PVCS = "v1/persistentvolumeclaims"
CLASSES = "storage.k8s.io/v1/storageclasses"
LOCAL_PATH = "rancher.io/local-path"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
log = logging.getLogger("hyperkube.controllers.pvbinder")


def spec(obj: Object) -> Object:
    return obj.get("spec") or {}


def phase(obj: Object) -> str:
    return (obj.get("status") or {}).get("phase", "")


def requested(claim: Object) -> Any:
    return quantity(((spec(claim).get("resources") or {}).get("requests") or {}).get("storage") or "0")


def matches(volume: Object, claim: Object) -> bool:
    """Whether an unclaimed volume satisfies the claim (class, modes, size, mode, selector)."""
    if (spec(volume).get("storageClassName") or "") != (spec(claim).get("storageClassName") or ""):
        return False
    if not set(spec(claim).get("accessModes") or []) <= set(spec(volume).get("accessModes") or []):
        return False
    if (spec(volume).get("volumeMode") or "Filesystem") != (spec(claim).get("volumeMode") or "Filesystem"):
        return False
    size, need = quantity((spec(volume).get("capacity") or {}).get("storage") or "0"), requested(claim)
    if size is None or need is None or size < need:
        return False
    selector = spec(claim).get("selector")
    return selector is None or label_selector_from_dict(selector).matches(meta(volume).get("labels") or {})


class PersistentVolumeBinder(Controller):
    name = "persistentvolume-binder"
    workers_option = "persistentvolume-binder"
    default_workers = 1  # one worker: two claims never race for one volume

    def __init__(self, ctx: ControllerContext, *, local_path_dir: str | None = None) -> None:
        super().__init__(ctx)
        self.local_path_dir = local_path_dir or ctx.options.get("local_path_dir") or os.path.join(
            tempfile.gettempdir(), "hyperkube-local-path")
        self.volumes = ctx.factory.informer(PVS)
        self.claims = ctx.factory.informer(PVCS)
        self.classes = ctx.factory.informer(CLASSES)
        self.volumes.add_event_handler(self._volume, lambda old, new: self._volume(new), self._volume)
        self.claims.add_event_handler(self._claim, lambda old, new: self._claim(new), self._claim_deleted)
        self.classes.add_event_handler(self._class, lambda old, new: self._class(new), None)

    # -- events -----------------------------------------------------------------------------------

    def _volume(self, volume: Object) -> None:
        self.enqueue(("pv", meta(volume).get("name", "")))
        ref = spec(volume).get("claimRef") or {}
        if ref.get("name"):
            self.enqueue(("pvc", f"{ref.get('namespace', '')}/{ref['name']}"))

    def _claim(self, claim: Object) -> None:
        self.enqueue(("pvc", object_key(claim)))

    def _claim_deleted(self, claim: Object) -> None:
        if spec(claim).get("volumeName"):
            self.enqueue(("pv", spec(claim)["volumeName"]))

    def _class(self, _: Object) -> None:
        for claim in self.claims.cache.list():
            if phase(claim) != "Bound":
                self._claim(claim)

    async def start(self) -> None:
        if not self.classes.cache.list():
            body = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                    "metadata": {"name": "local-path", "annotations": {DEFAULT_CLASS: "true"}},
                    "provisioner": LOCAL_PATH, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}
            try:
                await self.client.create(CLASSES, body)
            except AlreadyExists:
                pass

    async def sync(self, key: Any) -> None:
        kind, name = key
        if kind == "pvc":
            await self.sync_claim(name)
        else:
            await self.sync_volume(name)

    # -- claims -----------------------------------------------------------------------------------

    def default_class(self) -> str | None:
        for item in self.classes.cache.list():
            if (meta(item).get("annotations") or {}).get(DEFAULT_CLASS) == "true":
                return meta(item)["name"]
        return None

    async def sync_claim(self, key: str) -> None:
        claim = self.claims.cache.get(key)
        if claim is None or is_terminating(claim):
            return
        namespace, name = key.split("/", 1)
        volume_name = spec(claim).get("volumeName")
        if volume_name:
            volume = self.volumes.cache.get(volume_name)
            if volume is None:
                if phase(claim) == "Bound":
                    await self._claim_status(claim, {"phase": "Lost"})
                    self.recorder.event(self._typed(claim, "PersistentVolumeClaim"), WARNING, "ClaimLost",
                                        "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
                return
            await self.bind(claim, volume)
            return
        candidates = [v for v in self.volumes.cache.list() if not is_terminating(v)]
        prebound = [v for v in candidates if (spec(v).get("claimRef") or {}).get("name") == name
                    and (spec(v).get("claimRef") or {}).get("namespace") == namespace
                    and (spec(v).get("claimRef") or {}).get("uid") in (None, "", meta(claim).get("uid"))]
        free = [v for v in candidates if not spec(v).get("claimRef") and phase(v) in ("", "Available", "Pending")
                and matches(v, claim)]
        free.sort(key=lambda v: quantity((spec(v).get("capacity") or {}).get("storage") or "0").value)
        chosen = (prebound or free or [None])[0]
        if chosen is not None:
            await self.bind(claim, chosen)
            return
        await self.provision(claim)

    async def bind(self, claim: Object, volume: Object) -> None:
        ref = spec(volume).get("claimRef") or {}
        m = meta(claim)
        if ref.get("uid") != m.get("uid") or ref.get("name") != m.get("name"):
            if ref.get("uid") and ref.get("uid") != m.get("uid"):
                return  # the volume belongs to another claim
            annotations = {**(meta(volume).get("annotations") or {}), BOUND_BY_CONTROLLER: "yes"}
            claim_ref = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": m.get("namespace", ""),
                         "name": m.get("name", ""), "uid": m.get("uid", ""),
                         "resourceVersion": m.get("resourceVersion", "")}
            body = {**volume, "metadata": {**meta(volume), "annotations": annotations},
                    "spec": {**spec(volume), "claimRef": claim_ref}}
            volume = await self.client.update(PVS, body)
        if phase(volume) != "Bound":
            volume = await self.client.update_status(PVS, {**volume, "status": {**(volume.get("status") or {}),
                                                                                "phase": "Bound"}})
        annotations = dict(m.get("annotations") or {})
        if spec(claim).get("volumeName") != meta(volume)["name"] or annotations.get(BIND_COMPLETED) != "yes":
            if not spec(claim).get("volumeName"):
                annotations[BOUND_BY_CONTROLLER] = "yes"
            annotations[BIND_COMPLETED] = "yes"
            body = {**claim, "metadata": {**m, "annotations": annotations},
                    "spec": {**spec(claim), "volumeName": meta(volume)["name"]}}
            claim = await self.client.update(PVCS, body)
        status = {"phase": "Bound", "accessModes": spec(volume).get("accessModes") or [],
                  "capacity": spec(volume).get("capacity") or {}}
        if any((claim.get("status") or {}).get(k) != v for k, v in status.items()):
            await self._claim_status(claim, status)
            self.recorder.event(self._typed(claim, "PersistentVolumeClaim"), NORMAL, "Bound",
                                f"Bound to volume {meta(volume)['name']}")

    async def _claim_status(self, claim: Object, status: Object) -> None:
        try:
            await self.client.update_status(PVCS, {**claim, "status": {**(claim.get("status") or {}), **status}})
        except NotFound:
            pass

    async def provision(self, claim: Object) -> None:
        class_name = spec(claim).get("storageClassName")
        if class_name is None:  # unset (not ""): the default class, as DefaultStorageClass admission would set
            class_name = self.default_class()
        storage_class = self.classes.cache.get(class_name) if class_name else None
        if storage_class is None or storage_class.get("provisioner") != LOCAL_PATH:
            if phase(claim) != "Pending":
                await self._claim_status(claim, {"phase": "Pending"})
            message = ("no persistent volumes available for this claim and no storage class is set"
                       if not class_name else f'storageclass.storage.k8s.io "{class_name}" not found'
                       if storage_class is None else "waiting for a volume to be created by the external "
                       f"provisioner \"{storage_class.get('provisioner')}\"")
            self.recorder.event(self._typed(claim, "PersistentVolumeClaim"), NORMAL if storage_class else WARNING,
                                "ExternalProvisioning" if storage_class else "FailedBinding", message)
            return
        m = meta(claim)
        name = f"pvc-{m.get('uid', '')}"
        path = os.path.join(self.local_path_dir, f"{name}_{m.get('namespace', '')}_{m.get('name', '')}")
        volume = {"apiVersion": "v1", "kind": "PersistentVolume",
                  "metadata": {"name": name, "annotations": {PROVISIONED_BY: LOCAL_PATH}},
                  "spec": {"capacity": {"storage": str(requested(claim) or "0")},
                           "accessModes": spec(claim).get("accessModes") or ["ReadWriteOnce"],
                           "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
                           "storageClassName": class_name, "volumeMode": spec(claim).get("volumeMode") or "Filesystem",
                           "hostPath": {"path": path, "type": "DirectoryOrCreate"},
                           "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                                        "namespace": m.get("namespace", ""), "name": m.get("name", ""),
                                        "uid": m.get("uid", "")}}}
        try:
            await self.client.create(PVS, volume)
        except AlreadyExists:
            return
        self.recorder.event(self._typed(claim, "PersistentVolumeClaim"), NORMAL, "ProvisioningSucceeded",
                            f"Successfully provisioned volume {name} using {LOCAL_PATH}")

    # -- volumes ----------------------------------------------------------------------------------

    async def sync_volume(self, name: str) -> None:
        volume = self.volumes.cache.get(name)
        if volume is None or is_terminating(volume):
            return
        ref = spec(volume).get("claimRef")
        if not ref:
            if phase(volume) != "Available":
                await self._volume_status(volume, "Available")
            return
        claim = self.claims.cache.get(f"{ref.get('namespace', '')}/{ref.get('name', '')}")
        if claim is None and ref.get("uid"):
            try:
                claim = await self.client.get(PVCS, ref.get("name", ""), namespace=ref.get("namespace"))
            except NotFound:
                claim = None
        if claim is not None and (not ref.get("uid") or meta(claim).get("uid") == ref.get("uid")):
            return  # bound or being bound: the claim's sync does the work
        if not ref.get("uid"):
            return  # pre-bound to a claim that does not exist yet
        if phase(volume) not in ("Released", "Failed"):
            volume = await self._volume_status(volume, "Released")
        await self.reclaim(volume)

    async def reclaim(self, volume: Object) -> None:
        policy = spec(volume).get("persistentVolumeReclaimPolicy") or "Retain"
        name = meta(volume)["name"]
        host_path = (spec(volume).get("hostPath") or {}).get("path")
        if policy == "Delete":
            if (meta(volume).get("annotations") or {}).get(PROVISIONED_BY) == LOCAL_PATH and host_path:
                await asyncio.to_thread(shutil.rmtree, host_path, True)
            try:
                await self.client.delete(PVS, name)
            except NotFound:
                pass
        elif policy == "Recycle":
            if not host_path:
                await self._volume_status(volume, "Failed", "no volume plugin matched to recycle the volume")
                return
            await asyncio.to_thread(_scrub, host_path)
            body = {**volume, "spec": {k: v for k, v in spec(volume).items() if k != "claimRef"}}
            try:
                recycled = await self.client.update(PVS, body)
            except (NotFound, Conflict):
                return
            await self._volume_status(recycled, "Available")
            self.recorder.event(self._typed(volume, "PersistentVolume"), NORMAL, "RecyclerPod",
                                f"Recycled volume {name}")

    async def _volume_status(self, volume: Object, new_phase: str, message: str | None = None) -> Object:
        status = {**(volume.get("status") or {}), "phase": new_phase}
        if message:
            status["message"] = message
        try:
            return await self.client.update_status(PVS, {**volume, "status": status})
        except NotFound:
            return volume

    @staticmethod
    def _typed(obj: Object, kind: str) -> Object:
        return {**obj, "apiVersion": "v1", "kind": kind}


def _scrub(path: str) -> None:
    """Empty a directory, keeping the directory itself (the recycler's ``rm -rf path/*``)."""
    if not os.path.isdir(path):
        return
    for entry in os.listdir(path):
        full = os.path.join(path, entry)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full, ignore_errors=True)
        else:
            try:
                os.unlink(full)
            except OSError:
                pass
