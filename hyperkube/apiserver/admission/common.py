"""What the plugins share: Kubernetes' admission 403, and reading the small kinds plugins consult
(LimitRanges, ResourceQuotas, StorageClasses) from the watch feed's cache.

The feed's cache serves a lookup without a store read; it is trusted only when it has seen this
server's last write under the prefix (``Objects.written_revision``), so a LimitRange created a
moment ago through this server applies to the next pod. Otherwise the store is read.
"""

from __future__ import annotations

from typing import Any

from hyperkube.apiserver.auth import AdmissionRequest
from hyperkube.machinery import errors
from hyperkube.machinery.quantity import Quantity, QuantityError, parse_quantity
from hyperkube.storage.interface import RangeRequest, prefix_end

Object = dict[str, Any]


def forbidden(request: AdmissionRequest, message: str) -> errors.Forbidden:
    """Kubernetes' admission.NewForbidden: ``pods "web" is forbidden: <message>``."""
    resource = request.resource
    name = request.name
    if not name and isinstance(request.obj, dict):
        metadata = request.obj.get("metadata") or {}
        name = metadata.get("name") or metadata.get("generateName") or ""
    qualified = errors.qualified_resource(resource.plural, resource.group)
    details: dict[str, Any] = {"name": name, "kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    return errors.Forbidden(f'{qualified} "{name}" is forbidden: {message}', details=details)


def quantity(value: Any) -> Quantity | None:
    try:
        return parse_quantity(value)
    except (QuantityError, TypeError, ValueError):
        return None


def is_pods(resource: Any) -> bool:
    return resource.group == "" and resource.plural == "pods"


def metadata(obj: Object | None) -> Object:
    found = (obj or {}).get("metadata")
    return found if isinstance(found, dict) else {}


async def listed(objects: Any, group: str, plural: str, namespace: str = "") -> list[Object]:
    """Every object of a (small) kind in ``namespace`` (or cluster-wide), from the feed's cache."""
    resource = objects.registry.get(group, "v1", plural)
    if resource is None:
        return []
    prefix = objects.resource_prefix(resource)
    start = prefix + (f"{namespace}/" if namespace else "")
    hub = objects.hub
    if hub is not None and not hub.closed:
        feed = await hub.feed(prefix)
        if feed.revision >= objects.written_revision(resource):
            found = [change.obj() for key, change in list(feed.cache.items()) if key.startswith(start)]
            return [obj for obj in found if obj is not None]
    result = await objects.store.range(RangeRequest(start, prefix_end(start)))
    return [objects.decode(resource, kv.value, kv.mod_revision) for kv in result.kvs]
