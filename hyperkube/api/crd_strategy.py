"""CustomResourceDefinitions themselves (apiextensions.k8s.io/v1): defaults and validation.

What a CRD *does* (serving its custom resources) is the API server's CRD controller
(``hyperkube.apiserver.crds``) and :mod:`hyperkube.api.crd`; this module only decides which
CRDs may be stored. The rules are Kubernetes' ``ValidateCustomResourceDefinition`` in the
parts users meet: the name is ``<plural>.<group>``, the group a domain with a dot, names are
DNS labels, exactly one version is the storage version, every version has a structural
schema (:func:`hyperkube.api.crd_structural.structural_problems`), scale paths, printer
columns and selectable fields are well-formed.

A new CRD carries the ``customresourcecleanup.apiextensions.k8s.io`` finalizer from the start
(Kubernetes adds it on the first DELETE; adding it at create keeps the generic DELETE path
unchanged), so a deletion waits until the controller has deleted the custom resources.
``status.storedVersions`` records every version ever used for storage.
"""

from __future__ import annotations

import re
from typing import Any

from hyperkube.api import crd_jsonpath
from hyperkube.api.crd_structural import structural_problems
from hyperkube.api.registry import NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import Causes, ClusterStrategy, dicts, mapping, name_of, text
from hyperkube.machinery import validation as v

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
SCOPES = ("Namespaced", "Cluster")
COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")
COLUMN_FORMATS = ("int32", "int64", "float", "double", "byte", "date", "date-time", "password")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def storage_version(crd: Object) -> str | None:
    for version in dicts(mapping(crd.get("spec")).get("versions")):
        if version.get("storage"):
            return text(version.get("name")) or None
    return None


class CustomResourceDefinitionStrategy(ClusterStrategy):
    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        names = spec.get("names")
        if isinstance(names, dict) and isinstance(names.get("kind"), str) and names["kind"]:
            if not names.get("singular"):
                names["singular"] = names["kind"].lower()
            if not names.get("listKind"):
                names["listKind"] = names["kind"] + "List"
        conversion = spec.get("conversion")
        if not isinstance(conversion, dict):
            spec["conversion"] = {"strategy": "None"}
        elif not conversion.get("strategy"):
            conversion["strategy"] = "None"

    def prepare_for_create(self, obj: Object) -> None:
        self.default(obj)
        stored = storage_version(obj)
        obj["status"] = {"conditions": [], "acceptedNames": {"plural": "", "kind": ""},
                         "storedVersions": [stored] if stored else []}
        metadata = obj.get("metadata")
        if isinstance(metadata, dict):
            finalizers = _list(metadata.get("finalizers"))
            if CLEANUP_FINALIZER not in finalizers:
                metadata["finalizers"] = finalizers + [CLEANUP_FINALIZER]

    def prepare_for_update(self, new: Object, old: Object) -> None:
        super().prepare_for_update(new, old)
        stored = storage_version(new)
        status = new.get("status")
        if stored and isinstance(status, dict):
            versions = _list(status.get("storedVersions"))
            if stored not in versions:
                status["storedVersions"] = versions + [stored]
        metadata = new.get("metadata")
        old_meta = mapping(old.get("metadata"))
        if not isinstance(metadata, dict):
            return
        finalizers = _list(metadata.get("finalizers"))
        # the cleanup finalizer stays until deletion starts (then only the controller removes it)
        if not old_meta.get("deletionTimestamp") and CLEANUP_FINALIZER in _list(old_meta.get("finalizers")) \
                and CLEANUP_FINALIZER not in finalizers:
            metadata["finalizers"] = finalizers + [CLEANUP_FINALIZER]

    # ---- validation ---------------------------------------------------------------------------
    def validate_spec(self, obj: Object) -> Causes:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [v.required("spec")]
        out: Causes = []
        group = text(spec.get("group"))
        names = mapping(spec.get("names"))
        plural = text(names.get("plural"))
        name = name_of(obj)
        if plural and group and name != f"{plural}.{group}":
            out.append(v.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
        if not group:
            out.append(v.required("spec.group"))
        else:
            out += v.checked("spec.group", group, v.dns1123_subdomain)
            if "." not in group:
                out.append(v.invalid("spec.group", group, "should be a domain with at least one dot"))
        scope = spec.get("scope")
        if not scope:
            out.append(v.required("spec.scope"))
        elif scope not in SCOPES:
            out.append(v.not_supported("spec.scope", scope, SCOPES))
        out += _validate_names(names, "spec.names")
        conversion = mapping(spec.get("conversion"))
        if conversion.get("strategy") not in (None, "None"):
            out.append(v.not_supported("spec.conversion.strategy", conversion.get("strategy"), ("None",)))
        out += _validate_versions(spec.get("versions"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        out: Causes = []
        new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
        if old_spec.get("scope") and new_spec.get("scope") != old_spec.get("scope"):
            out.append(v.immutable("spec.scope", new_spec.get("scope")))
        served = {text(version.get("name")) for version in dicts(new_spec.get("versions"))}
        for index, stored in enumerate(_list(mapping(new.get("status")).get("storedVersions"))):
            if stored not in served:
                out.append(v.invalid(f"status.storedVersions[{index}]", stored, "must appear in spec.versions"))
        return out

    def prepare_for_status_update(self, new: Object, old: Object) -> None:
        super().prepare_for_status_update(new, old)
        status = new.get("status")
        if isinstance(status, dict):  # fields Kubernetes always serializes
            if not isinstance(status.get("acceptedNames"), dict):
                status["acceptedNames"] = {"plural": "", "kind": ""}
            if not isinstance(status.get("storedVersions"), list):
                status["storedVersions"] = []

    # ---- Table --------------------------------------------------------------------------------
    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Created At", "date", description="CreationTimestamp is a timestamp "
                                    "representing the server time when this object was created.")]

    def row(self, obj: Object, now: float) -> list[Any]:
        return [name_of(obj), mapping(obj.get("metadata")).get("creationTimestamp") or ""]


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _validate_names(names: dict[str, Any], field: str) -> Causes:
    out: Causes = []
    for key in ("plural", "singular"):
        value = names.get(key)
        if not value:
            out.append(v.required(f"{field}.{key}"))
        elif not isinstance(value, str):
            out.append(v.invalid(f"{field}.{key}", value, "must be a string"))
        else:
            out += v.checked(f"{field}.{key}", value, v.dns1035_label)
    kind = names.get("kind")
    if not kind:
        out.append(v.required(f"{field}.kind"))
    elif not isinstance(kind, str) or not _KIND.match(kind):
        out.append(v.invalid(f"{field}.kind", kind, "may have mixed case, but should otherwise match: "
                             "[a-z]([-a-z0-9]*[a-z0-9])?"))
    list_kind = names.get("listKind")
    if list_kind and (not isinstance(list_kind, str) or not _KIND.match(list_kind)):
        out.append(v.invalid(f"{field}.listKind", list_kind, "may have mixed case, but should otherwise match: "
                             "[a-z]([-a-z0-9]*[a-z0-9])?"))
    elif list_kind and list_kind == kind:
        out.append(v.invalid(f"{field}.listKind", list_kind, "kind and listKind may not be the same"))
    for key in ("shortNames", "categories"):
        values = names.get(key)
        if values is None:
            continue
        if not isinstance(values, list):
            out.append(v.invalid(f"{field}.{key}", values, "must be a list"))
            continue
        for index, value in enumerate(values):
            if not isinstance(value, str):
                out.append(v.invalid(f"{field}.{key}[{index}]", value, "must be a string"))
            else:
                out += v.checked(f"{field}.{key}[{index}]", value, v.dns1035_label)
    return out


def _validate_versions(versions: Any) -> Causes:
    if not isinstance(versions, list) or not versions:
        return [v.required("spec.versions", "must have at least one version")]
    out: Causes = []
    seen: set[str] = set()
    storage = 0
    for index, version in enumerate(versions):
        field = f"spec.versions[{index}]"
        if not isinstance(version, dict):
            out.append(v.invalid(field, version, "must be an object"))
            continue
        name = version.get("name")
        if not name or not isinstance(name, str):
            out.append(v.required(f"{field}.name"))
        else:
            out += v.checked(f"{field}.name", name, v.dns1035_label)
            if name in seen:
                out.append(v.duplicate(f"{field}.name", name))
            seen.add(name)
        if version.get("storage"):
            storage += 1
        schema = mapping(version.get("schema")).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            out.append(v.required(f"{field}.schema.openAPIV3Schema", "schemas are required"))
        else:
            out += structural_problems(schema, f"{field}.schema.openAPIV3Schema")
        out += _validate_subresources(mapping(version.get("subresources")), f"{field}.subresources")
        out += _validate_columns(version.get("additionalPrinterColumns"), f"{field}.additionalPrinterColumns")
        out += _validate_selectable(version.get("selectableFields"), f"{field}.selectableFields")
    if storage != 1:
        out.append(v.invalid("spec.versions", [mapping(x).get("name") for x in versions],
                             "must have exactly one version marked as storage version"))
    return out


def _path_problem(field: str, path: Any, prefixes: tuple[str, ...]) -> Causes:
    if not isinstance(path, str) or not path:
        return [v.required(field)]
    try:
        steps = crd_jsonpath.parse(path)
    except ValueError as exc:
        return [v.invalid(field, path, str(exc))]
    if prefixes and not any(path.startswith(p) for p in prefixes):
        return [v.invalid(field, path, "should be a json path under " + " or ".join(prefixes))]
    if prefixes and any(kind != "field" for kind, _ in steps):
        return [v.invalid(field, path, "must be a simple json path with field names only")]
    return []


def _validate_subresources(subresources: dict[str, Any], field: str) -> Causes:
    scale = subresources.get("scale")
    if scale is None:
        return []
    if not isinstance(scale, dict):
        return [v.invalid(f"{field}.scale", scale, "must be an object")]
    out = _path_problem(f"{field}.scale.specReplicasPath", scale.get("specReplicasPath"), (".spec.",))
    out += _path_problem(f"{field}.scale.statusReplicasPath", scale.get("statusReplicasPath"), (".status.",))
    if scale.get("labelSelectorPath") is not None:
        out += _path_problem(f"{field}.scale.labelSelectorPath", scale.get("labelSelectorPath"),
                             (".spec.", ".status."))
    return out


def _validate_columns(columns: Any, field: str) -> Causes:
    out: Causes = []
    for index, column in enumerate(_list(columns)):
        here = f"{field}[{index}]"
        if not isinstance(column, dict):
            out.append(v.invalid(here, column, "must be an object"))
            continue
        if not column.get("name"):
            out.append(v.required(f"{here}.name"))
        if column.get("type") not in COLUMN_TYPES:
            out.append(v.not_supported(f"{here}.type", column.get("type"), COLUMN_TYPES))
        if column.get("format") and column["format"] not in COLUMN_FORMATS:
            out.append(v.not_supported(f"{here}.format", column["format"], COLUMN_FORMATS))
        priority = column.get("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
            out.append(v.invalid(f"{here}.priority", priority, "must be greater than or equal to 0"))
        out += _path_problem(f"{here}.jsonPath", column.get("jsonPath"), ())
    return out


def _validate_selectable(fields: Any, field: str) -> Causes:
    fields = _list(fields)
    out: Causes = []
    seen: set[str] = set()
    for index, entry in enumerate(fields):
        here = f"{field}[{index}].jsonPath"
        path = mapping(entry).get("jsonPath")
        problems = _path_problem(here, path, (".spec.", ".status.", ".metadata."))
        out += problems
        if not problems and path in seen:
            out.append(v.duplicate(here, path))
        seen.add(str(path))
    if len(fields) > 8:
        out.append(v.too_many(field, len(fields), 8))
    return out
