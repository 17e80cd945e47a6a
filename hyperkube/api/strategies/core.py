"""core/v1 kinds without pods, services or nodes: Namespace, ConfigMap, Secret, ServiceAccount,
LimitRange, ResourceQuota, ComponentStatus, Binding.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import (
    Causes,
    ClusterStrategy,
    KindStrategy,
    PlainStrategy,
    dicts,
    ensure_map,
    get,
    get_dicts,
    get_map,
    mapping,
    name_of,
    seq,
    spec,
)
from hyperkube.api.strategies.common import age, validate_resource_list
from hyperkube.machinery import validation as v

MAX_DATA_SIZE = 1024 * 1024
CREATED_AT = Column("Created At", type="date", description="CreationTimestamp is a timestamp representing "
                    "the server time when this object was created.")


def created_at_row(obj: Object) -> list[Any]:
    meta = mapping(obj.get("metadata"))
    return [meta.get("name", ""), meta.get("creationTimestamp", "")]


class NamespaceStrategy(ClusterStrategy):
    tracks_generation = False
    name_check = staticmethod(v.dns1123_label)  # type: ignore[assignment]
    field_labels = ("status.phase",)

    def default(self, obj: Object) -> None:
        name, meta = name_of(obj), obj.get("metadata")
        if name and isinstance(meta, dict):
            if not isinstance(meta.get("labels"), dict):
                meta["labels"] = {}
            meta["labels"]["kubernetes.io/metadata.name"] = name

    def prepare_for_create(self, obj: Object) -> None:
        namespace_spec = spec(obj)
        if not isinstance(namespace_spec.get("finalizers"), list):
            namespace_spec["finalizers"] = []
        finalizers = namespace_spec["finalizers"]
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
        super().prepare_for_create(obj)

    def initial_status(self, obj: Object) -> Object:
        return {"phase": "Active"}

    def prepare_for_update(self, new: Object, old: Object) -> None:
        """spec.finalizers change only through /finalize."""
        if "spec" in old:
            new["spec"] = copy.deepcopy(old["spec"])
        super().prepare_for_update(new, old)

    def prepare_for_finalize(self, new: Object, old: Object) -> None:
        """A /finalize update changes spec.finalizers only (extension hook)."""
        finalizers = seq(get(new, "spec", "finalizers"))
        new.clear()
        new.update(copy.deepcopy(old))
        ensure_map(new, "spec")["finalizers"] = finalizers

    def validate_spec(self, obj: Object) -> Causes:
        out: Causes = []
        for i, fin in enumerate(seq(get(obj, "spec", "finalizers"))):
            out += v.checked(f"spec.finalizers[{i}]", fin, v.qualified_name)
        return out

    def validate_status_update(self, new: Object, old: Object) -> Causes:
        out = super().validate_status_update(new, old)
        return out + v.enum("status.phase", get(new, "status", "phase"), ("Active", "Terminating"))

    def field_values(self, obj: Object) -> dict[str, str]:
        return {"status.phase": str(get(obj, "status", "phase", default=""))}

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Status", description="The status of the namespace"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        return [get(obj, "metadata", "name", default=""), get(obj, "status", "phase", default=""), age(obj, now)]


def _decoded_size(value: Any) -> int:
    """Bytes a base64 value decodes to (without decoding it)."""
    text_value = str(value)
    return len(text_value) * 3 // 4 - text_value[-2:].count("=")


def _validate_data_keys(obj: Object, fields: tuple[str, ...], base64_fields: tuple[str, ...]) -> Causes:
    """Keys of data/binaryData: valid config keys, not in both maps; total size at most 1 MiB."""
    out: Causes = []
    size = 0
    maps = {field: mapping(obj.get(field)) for field in fields}
    for field, data in maps.items():
        for key, value in data.items():
            out += [v.invalid(f"{field}[{key}]", key, m) for m in v.config_map_key(key)]
            for other in fields:
                if other != field and field == fields[0] and key in maps[other]:
                    out.append(v.invalid(f"{field}[{key}]", key, f"duplicate of key present in {other}"))
            size += _decoded_size(value) if field in base64_fields else len(str(value).encode())
    if size > MAX_DATA_SIZE:
        out.append(v.too_long("", MAX_DATA_SIZE))
    return out


def _validate_immutable_data(new: Object, old: Object, fields: tuple[str, ...]) -> Causes:
    if not old.get("immutable"):
        return []
    out: Causes = []
    if not new.get("immutable"):
        out.append(v.forbidden("immutable", "field is immutable when `immutable` is set"))
    for field in fields:
        if (new.get(field) or {}) != (old.get(field) or {}):
            out.append(v.forbidden(field, "field is immutable when `immutable` is set"))
    return out


class ConfigMapStrategy(PlainStrategy):
    def validate_spec(self, obj: Object) -> Causes:
        return _validate_data_keys(obj, ("data", "binaryData"), ("binaryData",))

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        return _validate_immutable_data(new, old, ("data", "binaryData"))

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Data", description="Number of data entries"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        count = len(mapping(obj.get("data"))) + len(mapping(obj.get("binaryData")))
        return [get(obj, "metadata", "name", default=""), count, age(obj, now)]


#: secret type -> keys it must carry
SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


class SecretStrategy(PlainStrategy):
    field_labels = ("type",)

    def default(self, obj: Object) -> None:
        if not obj.get("type"):
            obj["type"] = "Opaque"
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data

    def validate_spec(self, obj: Object) -> Causes:
        out = _validate_data_keys(obj, ("data",), ("data",))
        secret_type = obj.get("type")
        data = mapping(obj.get("data"))
        for key in SECRET_REQUIRED_KEYS.get(secret_type, ()):
            if key not in data:
                out.append(v.required(f"data[{key}]"))
        if secret_type == "kubernetes.io/service-account-token":
            annotations = get_map(obj, "metadata", "annotations")
            if not annotations.get("kubernetes.io/service-account.name"):
                out.append(v.required("metadata.annotations[kubernetes.io/service-account.name]"))
        if secret_type == "kubernetes.io/basic-auth" and not ({"username", "password"} & set(data)):
            out.append(v.required("data[username]", "either username or password must be set"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        out = _validate_immutable_data(new, old, ("data",))
        if old.get("type") and new.get("type") != old.get("type"):
            out.append(v.immutable("type", new.get("type")))
        return out

    def field_values(self, obj: Object) -> dict[str, str]:
        return {"type": str(obj.get("type") or "")}

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Type", description="The type of secret"),
                Column("Data", description="Number of data entries"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        return [get(obj, "metadata", "name", default=""), obj.get("type", ""), len(mapping(obj.get("data"))),
                age(obj, now)]


class ServiceAccountStrategy(PlainStrategy):
    def validate_spec(self, obj: Object) -> Causes:
        out: Causes = []
        for i, ref in enumerate(dicts(obj.get("secrets"))):
            if isinstance(ref, dict) and ref.get("name"):
                out += v.checked(f"secrets[{i}].name", ref["name"], v.dns1123_subdomain)
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Secrets", description="Number of secrets"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        return [get(obj, "metadata", "name", default=""), len(dicts(obj.get("secrets"))), age(obj, now)]


class LimitRangeStrategy(PlainStrategy):
    def default(self, obj: Object) -> None:
        for item in get_dicts(obj, "spec", "limits"):
            if not isinstance(item, dict) or item.get("type") != "Container":
                continue
            maximum = mapping(item.get("max"))
            default = ensure_map(item, "default") if maximum else mapping(item.get("default"))
            for name, qty in maximum.items():
                default.setdefault(name, qty)
            if default or item.get("min"):
                request = ensure_map(item, "defaultRequest")
                for name, qty in default.items():
                    request.setdefault(name, qty)
                for name, qty in mapping(item.get("min")).items():
                    request.setdefault(name, qty)

    def validate_spec(self, obj: Object) -> Causes:
        out: Causes = []
        for i, item in enumerate(get_dicts(obj, "spec", "limits")):
            if not isinstance(item, dict):
                continue
            out += v.enum(f"spec.limits[{i}].type", item.get("type"), ("Pod", "Container", "PersistentVolumeClaim"),
                          allow_empty=False)
            for part in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
                out += validate_resource_list(item.get(part), f"spec.limits[{i}].{part}")
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, CREATED_AT]

    def row(self, obj: Object, now: float) -> list[Any]:
        return created_at_row(obj)


class ResourceQuotaStrategy(KindStrategy):
    tracks_generation = False

    def validate_spec(self, obj: Object) -> Causes:
        out = validate_resource_list(get(obj, "spec", "hard"), "spec.hard")
        for i, scope in enumerate(seq(get(obj, "spec", "scopes"))):
            out += v.enum(f"spec.scopes[{i}]", scope, ("Terminating", "NotTerminating", "BestEffort",
                                                      "NotBestEffort", "PriorityClass",
                                                      "CrossNamespacePodAffinity", "VolumeAttributesClass"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN,
                Column("Request", description="Request represents a minimum amount of cpu/memory that a "
                       "container may consume."),
                Column("Limit", description="Limits control the maximum amount of cpu/memory that a container "
                       "may use independent of contention on the node."),
                AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        hard = get_map(obj, "status", "hard")
        used = get_map(obj, "status", "used")
        requests, limits = [], []
        for name in sorted(hard):
            cell = f"{name}: {used.get(name, '0')}/{hard[name]}"
            (limits if name.split(".")[0] == "limits" and "." in name else requests).append(cell)
        return [get(obj, "metadata", "name", default=""), ", ".join(requests), ", ".join(limits), age(obj, now)]


class ComponentStatusStrategy(PlainStrategy):
    namespaced = False

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Status", description="Status of the component conditions"),
                Column("Message", description="Message of the component conditions"),
                Column("Error", description="Error of the component conditions")]

    def row(self, obj: Object, now: float) -> list[Any]:
        status, message, error = "Unknown", "", ""
        for cond in dicts(obj.get("conditions")):
            if cond.get("type") == "Healthy":
                status = "Healthy" if cond.get("status") == "True" else "Unhealthy"
                message, error = cond.get("message", ""), cond.get("error", "")
                break
        return [get(obj, "metadata", "name", default=""), status, message, error]


class BindingStrategy(PlainStrategy):
    """pods/binding's body, also creatable as /bindings: a target node for a pod."""

    def validate_spec(self, obj: Object) -> Causes:
        target = mapping(obj.get("target"))
        out: Causes = []
        if not target.get("name"):
            out.append(v.required("target.name"))
        if target.get("kind") and target["kind"] != "Node":
            out.append(v.not_supported("target.kind", target["kind"], ("Node", "<empty>")))
        return out
