"""PersistentVolumes, PersistentVolumeClaims and StorageClasses."""

from __future__ import annotations

from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import (
    Causes,
    ClusterStrategy,
    KindStrategy,
    PlainStrategy,
    get,
    get_map,
    mapping,
    seq,
    spec,
)
from hyperkube.api.strategies.common import age, validate_resource_list
from hyperkube.api.strategies.podspec import VOLUME_SOURCES
from hyperkube.machinery import validation as v

ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
VOLUME_MODE = Column("VolumeMode", priority=1, description="Defines if a volume is intended to be used with a "
                     "formatted filesystem or to remain in raw block state.")
ATTRIBUTES_CLASS = Column("VolumeAttributesClass", description="VolumeAttributesClass assigned to the volume")


def access_modes(modes: Any) -> str:
    seen = []
    for mode in seq(modes):
        short = ACCESS_MODES.get(mode, mode)
        if short not in seen:
            seen.append(short)
    order = list(ACCESS_MODES.values())
    return ",".join(sorted(seen, key=lambda m: order.index(m) if m in order else 99))


def _validate_access_modes(modes: Any, field: str) -> Causes:
    if not modes:
        return [v.required(field)]
    return [c for m in modes for c in v.enum(field, m, ACCESS_MODES)]


class PersistentVolumeStrategy(ClusterStrategy):
    tracks_generation = False

    def default(self, obj: Object) -> None:
        s = spec(obj)
        s.setdefault("persistentVolumeReclaimPolicy", "Retain")
        s.setdefault("volumeMode", "Filesystem")

    def initial_status(self, obj: Object) -> Object:
        return {"phase": "Pending"}

    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
        out: Causes = []
        if not mapping(s.get("capacity")).get("storage"):
            out.append(v.required("spec.capacity", "must specify a storage capacity" if s.get("capacity") else ""))
        out += validate_resource_list(s.get("capacity"), "spec.capacity")
        out += _validate_access_modes(s.get("accessModes"), "spec.accessModes")
        out += v.enum("spec.persistentVolumeReclaimPolicy", s.get("persistentVolumeReclaimPolicy"),
                      ("Recycle", "Delete", "Retain"))
        out += v.enum("spec.volumeMode", s.get("volumeMode"), ("Block", "Filesystem"))
        sources = [src for src in VOLUME_SOURCES + ("local",) if src in s]
        if not sources:
            out.append(v.required("spec", "must specify a volume type"))
        elif len(sources) > 1:
            out.append(v.forbidden(f"spec.{sources[1]}", "may not specify more than 1 volume type"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        if get(old, "spec", "volumeMode") and get(new, "spec", "volumeMode") != get(old, "spec", "volumeMode"):
            return [v.immutable("spec.volumeMode", get(new, "spec", "volumeMode"))]
        return []

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Capacity", description="The capacity of the volume"),
                Column("Access Modes", description="The access modes of the volume"),
                Column("Reclaim Policy", description="What happens to a persistent volume when released from "
                       "its claim."),
                Column("Status", description="The phase of the volume"),
                Column("Claim", description="The claim bound to the volume"),
                Column("StorageClass", description="StorageClass of the pv"), ATTRIBUTES_CLASS,
                Column("Reason", description="Reason the volume is in this phase"), AGE_COLUMN, VOLUME_MODE]

    def row(self, obj: Object, now: float) -> list[Any]:
        s, st = mapping(obj.get("spec")), mapping(obj.get("status"))
        claim = mapping(s.get("claimRef"))
        claim_cell = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim.get("name") else ""
        phase = st.get("phase", "")
        if get(obj, "metadata", "deletionTimestamp"):
            phase = "Terminating"
        return [get(obj, "metadata", "name", default=""), str(mapping(s.get("capacity")).get("storage", "")),
                access_modes(s.get("accessModes")), s.get("persistentVolumeReclaimPolicy", ""), phase, claim_cell,
                s.get("storageClassName", ""), s.get("volumeAttributesClassName") or "<unset>",
                st.get("reason", ""), age(obj, now), s.get("volumeMode") or "<unset>"]


class PersistentVolumeClaimStrategy(KindStrategy):
    tracks_generation = False

    def default(self, obj: Object) -> None:
        spec(obj).setdefault("volumeMode", "Filesystem")

    def initial_status(self, obj: Object) -> Object:
        return {"phase": "Pending"}

    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
        out = _validate_access_modes(s.get("accessModes"), "spec.accessModes")
        requests = get_map(s, "resources", "requests")
        if not requests.get("storage"):
            out.append(v.required("spec.resources[storage]"))
        out += validate_resource_list(requests, "spec.resources.requests")
        out += v.enum("spec.volumeMode", s.get("volumeMode"), ("Block", "Filesystem"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        def frozen(obj: Object) -> dict[str, Any]:
            s = dict(mapping(obj.get("spec")))
            s.pop("resources", None)
            s.pop("volumeAttributesClassName", None)
            if not get(old, "spec", "volumeName"):
                s.pop("volumeName", None)
            return s
        if frozen(new) != frozen(old):
            return [v.forbidden("spec", "spec is immutable after creation except resources.requests and "
                                "volumeAttributesClassName for bound claims")]
        return []

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Status", description="The phase of the claim"),
                Column("Volume", description="The volume bound to the claim"),
                Column("Capacity", description="The capacity of the claim"),
                Column("Access Modes", description="The access modes of the claim"),
                Column("StorageClass", description="StorageClass of the pvc"), ATTRIBUTES_CLASS, AGE_COLUMN,
                VOLUME_MODE]

    def row(self, obj: Object, now: float) -> list[Any]:
        s, st = mapping(obj.get("spec")), mapping(obj.get("status"))
        phase = st.get("phase", "")
        if get(obj, "metadata", "deletionTimestamp"):
            phase = "Terminating"
        bound = bool(s.get("volumeName"))
        capacity = str(mapping(st.get("capacity")).get("storage", "")) if bound else ""
        modes = access_modes(st.get("accessModes")) if bound else ""
        return [get(obj, "metadata", "name", default=""), phase, s.get("volumeName", ""), capacity, modes,
                s.get("storageClassName") or "", s.get("volumeAttributesClassName") or "<unset>", age(obj, now),
                s.get("volumeMode") or "<unset>"]


class StorageClassStrategy(PlainStrategy):
    namespaced = False
    IMMUTABLE = ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode")

    def default(self, obj: Object) -> None:
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")

    def validate_spec(self, obj: Object) -> Causes:
        out: Causes = []
        if not obj.get("provisioner"):
            out.append(v.required("provisioner"))
        else:
            out += v.checked("provisioner", obj["provisioner"], v.qualified_name)
        out += v.enum("reclaimPolicy", obj.get("reclaimPolicy"), ("Delete", "Retain"))
        out += v.enum("volumeBindingMode", obj.get("volumeBindingMode"), ("Immediate", "WaitForFirstConsumer"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        return [v.forbidden(field, f"updates to {field} are forbidden.") for field in self.IMMUTABLE
                if new.get(field) != old.get(field)]

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Provisioner", description="Indicates the type of the provisioner."),
                Column("ReclaimPolicy", description="Dynamically provisioned PersistentVolumes of this storage "
                       "class are created with this reclaimPolicy."),
                Column("VolumeBindingMode", description="VolumeBindingMode indicates how PersistentVolumeClaims "
                       "should be provisioned and bound."),
                Column("AllowVolumeExpansion", description="AllowVolumeExpansion shows whether "
                       "the storage class allow volume expand."),
                AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        name = get(obj, "metadata", "name", default="")
        annotations = get_map(obj, "metadata", "annotations")
        if annotations.get(DEFAULT_CLASS_ANNOTATION) == "true" or \
                annotations.get("storageclass.beta.kubernetes.io/is-default-class") == "true":
            name += " (default)"
        return [name, obj.get("provisioner", ""), obj.get("reclaimPolicy") or "Delete",
                obj.get("volumeBindingMode") or "Immediate", bool(obj.get("allowVolumeExpansion")), age(obj, now)]
