"""Naming a resource on the wire: group, version, plural, and the REST path built from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class GroupVersionResource:
    """``("apps", "v1", "deployments")``; the core group is ``""``.

    Whether a path is namespaced is decided by the call (a ``namespace`` argument), not by
    this value, so the client needs no discovery to build paths.
    """

    group: str
    version: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> GroupVersionResource:
        """``v1/pods``, ``apps/v1/deployments`` or ``coordination.k8s.io/v1/leases``."""
        parts = text.strip("/").split("/")
        if len(parts) == 2:
            return cls("", parts[0], parts[1])
        if len(parts) == 3:
            return cls(parts[0], parts[1], parts[2])
        raise ValueError(f"not a group/version/resource: {text!r}")

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``pods`` or ``deployments.apps``: how Kubernetes names a resource in messages."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def path(self, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        """``/api/v1/namespaces/default/pods/web/status`` and the like."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.resource}"
        if name:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base

    def __str__(self) -> str:
        return f"{self.group_version}/{self.resource}"


ResourceLike = GroupVersionResource | str | Any


def resource_of(value: ResourceLike) -> GroupVersionResource:
    """Accept a :class:`GroupVersionResource`, its ``group/version/plural`` text, or any object
    with ``group``, ``version`` and ``plural`` (a ``hyperkube.api.registry.Resource``)."""
    if isinstance(value, GroupVersionResource):
        return value
    if isinstance(value, str):
        return GroupVersionResource.parse(value)
    plural = getattr(value, "plural", None) or getattr(value, "resource", None)
    if plural is not None and hasattr(value, "group") and hasattr(value, "version"):
        return GroupVersionResource(value.group, value.version, plural)
    raise TypeError(f"cannot name a resource with {value!r}")


def object_key(obj: dict[str, Any]) -> str:
    """``namespace/name`` (or ``name`` for cluster-scoped objects): client-go's cache key."""
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata.get('name', '')}" if namespace else metadata.get("name", "")


def split_key(key: str) -> tuple[str, str]:
    """The inverse of :func:`object_key`: ``("default", "web")`` or ``("", "node-1")``."""
    namespace, _, name = key.rpartition("/")
    return namespace, name
