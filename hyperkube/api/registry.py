"""The resource registry: what the API serves, one entry per resource.

Handlers in ``hyperkube.apiserver`` are generic over these entries: a built-in kind and a
custom resource (a CRD adds one entry at run time) go through the same code. An entry says
*what* a resource is (names, scope, verbs, subresources); its :class:`Strategy` says how
objects of the kind are defaulted, validated, split into spec and status, and printed as
Table rows. Schemas (strict field validation, pruning, OpenAPI) come from
``hyperkube.api.schemas``, keyed by the entry's group/version/kind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

Object = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Column:
    """One ``columnDefinitions`` entry of a Table; priority > 0 shows only with ``-o wide``."""

    name: str
    type: str = "string"  # string, integer, number, boolean, date
    format: str = ""  # "name" for the NAME column
    description: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


NAME_COLUMN = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE_COLUMN = Column("Age", description="CreationTimestamp is a timestamp representing the server time "
                    "when this object was created.")


class Strategy:
    """How one kind behaves at the API. The defaults suit a plain spec/status kind; each
    built-in kind that needs more subclasses it (``hyperkube.api.strategies``).

    Every method works on plain dicts in place; none touches storage.
    """

    #: updates to the main resource keep the stored status; /status updates keep the rest
    has_status: bool = True
    #: bump metadata.generation when anything but metadata and status changes
    tracks_generation: bool = True
    #: field selectors this kind supports besides metadata.name and metadata.namespace
    field_labels: tuple[str, ...] = ()

    def prepare_for_create(self, obj: Object) -> None:
        """Fill Kubernetes' defaults and reset what a client may not set on create."""

    def prepare_for_update(self, new: Object, old: Object) -> None:
        """Carry over what an update of the main resource may not change (status, ...)."""
        if self.has_status and "status" in old:
            new["status"] = old["status"]
        elif self.has_status:
            new.pop("status", None)

    def prepare_for_status_update(self, new: Object, old: Object) -> None:
        """A /status update changes status only: everything else comes from ``old``."""
        status = new.get("status")
        new.clear()
        new.update({k: v for k, v in old.items() if k != "status"})
        if status is not None:
            new["status"] = status

    def validate(self, obj: Object) -> list[dict[str, str]]:
        """Semantic rules no schema states; return causes (``machinery.errors.cause``)."""
        return []

    def validate_update(self, new: Object, old: Object) -> list[dict[str, str]]:
        """Rules for updates: immutable fields and the like, on top of :meth:`validate`."""
        return self.validate(new)

    def field_values(self, obj: Object) -> dict[str, str]:
        """Values of :attr:`field_labels` for field selectors (metadata.* are added by the server)."""
        return {}

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        """The cells of one Table row, in :meth:`columns` order; ages rendered for humans."""
        from hyperkube.machinery.durations import age  # local: machinery is tiny, keep import lazy

        return [obj.get("metadata", {}).get("name", ""), age(obj, now)]


@dataclass(frozen=True)
class Resource:
    group: str  # "" for core
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    #: subresource name -> response kind, e.g. {"status": "Pod", "scale": "Scale", "log": "Pod"}
    subresources: dict[str, str] = field(default_factory=dict)
    strategy: Strategy = field(default_factory=Strategy)
    #: the first path segment of the store key; Kubernetes uses the plural for built-ins
    storage_name: str = ""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """``pods`` or ``deployments.apps``: how messages name this resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def key_prefix(self, prefix: str = "/registry") -> str:
        return f"{prefix}/{self.storage_name or self.plural}/"

    def key(self, name: str, namespace: str = "", prefix: str = "/registry") -> str:
        if self.namespaced:
            return f"{self.key_prefix(prefix)}{namespace}/{name}"
        return f"{self.key_prefix(prefix)}{name}"


class Registry:
    """Every served resource, by group/version/plural. Thread-safe for CRDs added at run time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_gvr: dict[tuple[str, str, str], Resource] = {}
        self.generation = 0  # bumped on every change, so discovery/openapi caches can tell

    def add(self, resource: Resource) -> None:
        with self._lock:
            self._by_gvr[(resource.group, resource.version, resource.plural)] = resource
            self.generation += 1

    def remove(self, group: str, version: str, plural: str) -> None:
        with self._lock:
            if self._by_gvr.pop((group, version, plural), None) is not None:
                self.generation += 1

    def get(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> Resource | None:
        for resource in list(self._by_gvr.values()):
            if (resource.group, resource.version, resource.kind) == (group, version, kind):
                return resource
        return None

    def __iter__(self) -> Iterator[Resource]:
        return iter(list(self._by_gvr.values()))

    def group_versions(self) -> dict[str, list[str]]:
        """group -> versions served, preferred first (core is the group "")."""
        out: dict[str, list[str]] = {}
        for resource in self:
            versions = out.setdefault(resource.group, [])
            if resource.version not in versions:
                versions.append(resource.version)
        return out
