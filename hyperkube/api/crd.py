"""Custom resources: the registry entries a CustomResourceDefinition stands for.

A CRD is data; :func:`resources_for` turns it into one :class:`~hyperkube.api.registry.Resource`
per served version, each with a :class:`CustomResourceStrategy` built from that version, so the
generic handlers serve custom resources exactly like built-ins. The strategy carries what the
CRD says about behaviour:

- ``subresources.status``: the main resource keeps the stored status, ``/status`` changes only
  status, status is dropped on create; ``subresources.scale``: an ``autoscaling/v1`` Scale read
  and written through ``specReplicasPath``/``statusReplicasPath``/``labelSelectorPath``
  (:meth:`CustomResourceStrategy.scale_of`, :meth:`CustomResourceStrategy.set_replicas`);
- ``additionalPrinterColumns``: Table columns evaluated by JSONPath (default NAME, AGE);
- ``selectableFields``: extra field selector labels;
- the storage version: objects are written with its ``apiVersion`` and served under the
  requested one (conversion strategy None: only ``apiVersion`` changes).

Keys are ``/registry/<group>/<plural>/[<namespace>/]<name>``, as in Kubernetes. Schemas
(validation, pruning, defaults) are registered separately by the API server
(:func:`hyperkube.api.schemas.register_schema`), keyed by group/version/kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from hyperkube.api import crd_jsonpath
from hyperkube.api.crd_strategy import storage_version
from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object, Resource
from hyperkube.api.strategies.base import Causes, KindStrategy, dicts, mapping, name_of, text
from hyperkube.machinery import errors
from hyperkube.machinery import validation as v
from hyperkube.machinery.durations import age, human_duration, parse_rfc3339

CRD_GROUP = "apiextensions.k8s.io"


@dataclass(frozen=True)
class Names:
    plural: str
    singular: str
    kind: str
    list_kind: str
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @classmethod
    def of(cls, names: Any) -> Names | None:
        """Names from ``spec.names`` or ``status.acceptedNames``; None when plural or kind is missing."""
        names = mapping(names)
        plural, kind = text(names.get("plural")), text(names.get("kind"))
        if not plural or not kind:
            return None
        return cls(plural, text(names.get("singular")) or kind.lower(), kind,
                   text(names.get("listKind")) or kind + "List",
                   tuple(str(n) for n in names.get("shortNames") or ()),
                   tuple(str(c) for c in names.get("categories") or ()))

    def as_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"plural": self.plural, "singular": self.singular, "kind": self.kind,
                               "listKind": self.list_kind}
        if self.short_names:
            out["shortNames"] = list(self.short_names)
        if self.categories:
            out["categories"] = list(self.categories)
        return out


@dataclass(frozen=True)
class CustomResource(Resource):
    """A Resource whose list kind is the CRD's ``listKind``."""

    custom_list_kind: str = ""
    crd_name: str = field(default="", compare=False)

    @property
    def list_kind(self) -> str:
        return self.custom_list_kind or f"{self.kind}List"


@dataclass(frozen=True)
class PrinterColumn:
    column: Column
    steps: tuple[crd_jsonpath.Step, ...]


class CustomResourceStrategy(KindStrategy):
    """How the objects of one served version of a CRD behave (see the module docstring)."""

    def __init__(self, group: str, version: str, storage: str, namespaced: bool, spec: dict[str, Any],
                 terminating: bool = False) -> None:
        self.group_version = f"{group}/{version}"
        self.storage_group_version = f"{group}/{storage}"
        self.namespaced = namespaced
        self.terminating = terminating
        subresources = mapping(spec.get("subresources"))
        self.has_status = "status" in subresources
        # without a status subresource any change but metadata bumps the generation, status too:
        # the strategy does it itself, since the generic rule only looks at what is not status
        self.tracks_generation = self.has_status
        scale = subresources.get("scale")
        self.scale_paths: tuple[Any, ...] | None = None
        if isinstance(scale, dict):
            self.scale_paths = tuple(
                crd_jsonpath.parse(scale[key]) if isinstance(scale.get(key), str) and scale.get(key) else None
                for key in ("specReplicasPath", "statusReplicasPath", "labelSelectorPath"))
        self.printer_columns: list[PrinterColumn] = []
        for column in dicts(spec.get("additionalPrinterColumns")):
            try:
                steps = crd_jsonpath.parse(text(column.get("jsonPath")))
            except ValueError:
                continue
            self.printer_columns.append(PrinterColumn(Column(
                text(column.get("name")), text(column.get("type")) or "string", text(column.get("format")),
                text(column.get("description")), int(column.get("priority") or 0)), steps))
        if not self.printer_columns:  # Kubernetes' default: NAME, AGE
            self.printer_columns = [PrinterColumn(Column("Age", "date", description=AGE_COLUMN.description),
                                                  crd_jsonpath.parse(".metadata.creationTimestamp"))]
        self.selectable: dict[str, tuple[crd_jsonpath.Step, ...]] = {}
        for entry in dicts(spec.get("selectableFields")):
            path = text(entry.get("jsonPath"))
            try:
                self.selectable[path.lstrip(".")] = crd_jsonpath.parse(path)
            except ValueError:
                continue
        self.field_labels = tuple(self.selectable)

    # ---- writes ------------------------------------------------------------------------------
    def prepare_for_create(self, obj: Object) -> None:
        if self.terminating:
            raise errors.MethodNotAllowed("create not allowed while custom resource definition is terminating")
        super().prepare_for_create(obj)
        if not self.has_status and isinstance(obj.get("metadata"), dict):
            obj["metadata"]["generation"] = 1

    def prepare_for_update(self, new: Object, old: Object) -> None:
        super().prepare_for_update(new, old)
        if not self.has_status and isinstance(new.get("metadata"), dict):
            generation = mapping(old.get("metadata")).get("generation")
            if {k: v for k, v in new.items() if k != "metadata"} != {k: v for k, v in old.items() if k != "metadata"}:
                new["metadata"]["generation"] = (generation if isinstance(generation, int) else 0) + 1

    def initial_status(self, obj: Object) -> Object | None:
        return None  # with a status subresource, status is not set on create

    def validate_spec(self, obj: Object) -> Causes:
        if self.scale_paths is None or self.scale_paths[0] is None:
            return []
        found = crd_jsonpath.find(obj, self.scale_paths[0])
        if not found:
            return []
        replicas = found[0]
        field_name = ".".join(str(arg) for _, arg in self.scale_paths[0])
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            return [v.invalid(field_name, replicas, "must be an integer")]
        if replicas < 0:
            return [v.invalid(field_name, replicas, "should be greater than or equal to 0")]
        if replicas > 2**31 - 1:
            return [v.invalid(field_name, replicas, f"should be less than or equal to {2**31 - 1}")]
        return []

    # ---- versions ----------------------------------------------------------------------------
    def to_storage(self, obj: Object) -> Object:
        if obj.get("apiVersion") == self.storage_group_version:
            return obj
        return {**obj, "apiVersion": self.storage_group_version}

    def from_storage(self, obj: Object) -> Object:
        obj["apiVersion"] = self.group_version
        return obj

    # ---- scale ----------------------------------------------------------------------------
    def scale_of(self, obj: Object) -> dict[str, Any]:
        """The autoscaling/v1 Scale view of ``obj`` through the CRD's paths."""
        assert self.scale_paths is not None
        spec_path, status_path, selector_path = self.scale_paths
        replicas = crd_jsonpath.first(obj, spec_path) if spec_path else None
        current = crd_jsonpath.first(obj, status_path) if status_path else None
        selector = crd_jsonpath.first(obj, selector_path) if selector_path else None
        metadata = mapping(obj.get("metadata"))
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: metadata[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                  "creationTimestamp") if k in metadata},
            "spec": {"replicas": replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else 0},
            "status": {"replicas": current if isinstance(current, int) and not isinstance(current, bool) else 0,
                       "selector": selector if isinstance(selector, str) else ""},
        }

    def set_replicas(self, obj: Object, replicas: int) -> None:
        assert self.scale_paths is not None and self.scale_paths[0] is not None
        crd_jsonpath.set_value(obj, self.scale_paths[0], replicas)

    # ---- reads ---------------------------------------------------------------------------------
    def field_values(self, obj: Object) -> dict[str, str]:
        out = {}
        for label, steps in self.selectable.items():
            value = crd_jsonpath.first(obj, steps)
            if value is None or isinstance(value, dict | list):
                continue
            out[label] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN] + [c.column for c in self.printer_columns]

    def row(self, obj: Object, now: float) -> list[Any]:
        return [name_of(obj)] + [cell(obj, c, now) for c in self.printer_columns]


def cell(obj: Object, printer: PrinterColumn, now: float) -> Any:
    """One printer column's cell: the first value its JSONPath finds, typed as the column says."""
    found = crd_jsonpath.find(obj, printer.steps)
    if not found:
        return None
    value = found[0]
    kind = printer.column.type
    if kind == "date":
        if printer.steps == (("field", "metadata"), ("field", "creationTimestamp")):
            return age(obj, now)
        if isinstance(value, str):
            try:
                return human_duration(now - parse_rfc3339(value))
            except ValueError:
                return value
        return None
    if kind == "string":
        parts = [item if isinstance(item, str) else orjson.dumps(item).decode() for item in found]
        return ",".join(parts)
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    return value


def resources_for(crd: Object, names: Names, terminating: bool = False) -> list[CustomResource]:
    """The registry entries of ``crd``'s served versions, preferred first, named by ``names``."""
    spec = mapping(crd.get("spec"))
    group = text(spec.get("group"))
    namespaced = spec.get("scope", "Namespaced") != "Cluster"
    storage = storage_version(crd) or ""
    out = []
    for version in dicts(spec.get("versions")):
        if not version.get("served"):
            continue
        name = text(version.get("name"))
        subresources = mapping(version.get("subresources"))
        served_subresources = {}
        if "status" in subresources:
            served_subresources["status"] = names.kind
        if isinstance(subresources.get("scale"), dict):
            served_subresources["scale"] = "Scale"
        strategy = CustomResourceStrategy(group, name, storage, namespaced, version, terminating)
        out.append(CustomResource(
            group, name, names.kind, names.plural, names.singular, namespaced, names.short_names,
            names.categories, subresources=served_subresources, strategy=strategy,
            storage_name=f"{group}/{names.plural}", custom_list_kind=names.list_kind,
            crd_name=name_of(crd)))
    return out


def schema_of(version: dict[str, Any]) -> dict[str, Any]:
    return mapping(mapping(version.get("schema")).get("openAPIV3Schema")) or {"type": "object"}
