"""Turn a REST path into what it addresses: resource, namespace, name, subresource.

Every shape Kubernetes serves, for the core group (``/api/v1/...``) and named groups
(``/apis/G/V/...``)::

    {plural}                              cluster-scoped list, or a namespaced kind across all namespaces
    {plural}/{name}[/{sub}]               cluster-scoped object (namespaces/x, nodes/x/status)
    namespaces/{ns}/{plural}              namespaced list
    namespaces/{ns}/{plural}/{name}[/{sub}]
    watch/...                             the deprecated watch prefix: same, with watch=true

The lookup goes through the registry, so a CRD added at run time is routed like a built-in.
"""

from __future__ import annotations

from dataclasses import dataclass

from hyperkube.api.registry import Registry, Resource
from hyperkube.machinery import errors


@dataclass(frozen=True, slots=True)
class Target:
    resource: Resource
    namespace: str  # "" for cluster-scoped kinds and all-namespaces lists
    name: str  # "" for collections
    subresource: str = ""
    legacy_watch: bool = False

    @property
    def is_collection(self) -> bool:
        return not self.name


def not_found() -> errors.NotFound:
    return errors.NotFound("the server could not find the requested resource", details={})


def resolve(registry: Registry, group: str, version: str, rest: str) -> Target:
    parts = rest.split("/")
    if parts and parts[-1] == "":
        parts.pop()
    legacy_watch = False
    if parts and parts[0] == "watch":
        legacy_watch = True
        parts = parts[1:]
    if not parts or any(p == "" for p in parts):
        raise not_found()
    if parts[0] == "namespaces" and len(parts) >= 3:
        namespaced = registry.get(group, version, parts[2])
        if namespaced is not None and namespaced.namespaced:
            if len(parts) > 5:
                raise not_found()
            name = parts[3] if len(parts) > 3 else ""
            sub = parts[4] if len(parts) > 4 else ""
            return _checked(Target(namespaced, parts[1], name, sub, legacy_watch))
    resource = registry.get(group, version, parts[0])
    if resource is None or len(parts) > 3:
        raise not_found()
    if resource.namespaced:
        if len(parts) != 1:
            raise not_found()
        return Target(resource, "", "", "", legacy_watch)
    name = parts[1] if len(parts) > 1 else ""
    sub = parts[2] if len(parts) > 2 else ""
    return _checked(Target(resource, "", name, sub, legacy_watch))


def _checked(target: Target) -> Target:
    if target.subresource and target.subresource not in target.resource.subresources \
            and not (target.resource.plural == "namespaces" and target.resource.group == ""
                     and target.subresource == "finalize"):
        raise not_found()
    if target.legacy_watch and target.subresource:
        raise not_found()
    return target
