"""API discovery: which resources the server serves, and resolving the names users type.

:class:`Discovery` reads ``/api``, ``/apis`` and every group version's ``APIResourceList``
(concurrently) once, then answers from memory until :meth:`Discovery.invalidate`. Names
resolve as kubectl resolves them: plural (``pods``), singular (``pod``), short name (``po``),
kind (``Pod``), each optionally qualified by group (``deploy.apps``) or version and group
(``deployments.v1.apps``), with each group's preferred version winning. Custom resources
appear as soon as the cache is invalidated, because nothing is compiled in.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from hyperkube.client._client import Client
from hyperkube.client._resources import GroupVersionResource
from hyperkube.machinery.errors import NotFound


@dataclass(frozen=True, slots=True)
class APIResource:
    group: str
    version: str
    name: str  # the plural
    kind: str
    namespaced: bool
    singular: str = ""
    verbs: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    preferred: bool = True  # served in its group's preferred version

    @property
    def gvr(self) -> GroupVersionResource:
        return GroupVersionResource(self.group, self.version, self.name)

    # duck-typed like hyperkube.api.registry.Resource, so the client accepts it directly
    @property
    def plural(self) -> str:
        return self.name

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


class ResourceNotFound(LookupError):
    """No served resource matches the name (kubectl: the server doesn't have a resource type)."""


class Discovery:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._resources: list[APIResource] | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._resources = None

    async def resources(self) -> list[APIResource]:
        """Every served resource (preferred versions first), fetched once."""
        async with self._lock:
            if self._resources is None:
                self._resources = await self._fetch()
            return self._resources

    async def _fetch(self) -> list[APIResource]:
        versions: list[tuple[str, str, bool]] = []
        try:
            core = await self.client.request("GET", "/api")
            versions += [("", v, i == 0) for i, v in enumerate(core.get("versions") or [])]
        except NotFound:
            pass
        groups = await self.client.request("GET", "/apis")
        for group in groups.get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("version")
            for entry in group.get("versions") or []:
                versions.append((group["name"], entry["version"], entry["version"] == preferred))
        lists = await asyncio.gather(*(self._group_version(g, v) for g, v, _ in versions), return_exceptions=True)
        found: list[APIResource] = []
        for (group, version, preferred), result in zip(versions, lists, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, NotFound):
                    continue  # a group going away between the two requests
                raise result
            found += _parse(group, version, preferred, result)
        found.sort(key=lambda r: not r.preferred)
        return found

    async def _group_version(self, group: str, version: str) -> dict[str, Any]:
        return await self.client.request("GET", f"/apis/{group}/{version}" if group else f"/api/{version}")

    async def resolve(self, name: str) -> APIResource:
        """The resource a user means by ``name`` (see the module docstring)."""
        resources = await self.resources()
        match = _match(resources, name)
        if match is None:
            self.invalidate()  # kubectl re-reads discovery once before giving up (new CRDs)
            match = _match(await self.resources(), name)
        if match is None:
            raise ResourceNotFound(f'the server doesn\'t have a resource type "{name}"')
        return match

    async def for_kind(self, api_version: str, kind: str) -> APIResource:
        """The resource serving objects of ``apiVersion``/``kind`` (for ``create -f``)."""
        group, _, version = api_version.rpartition("/")
        for resources in (await self.resources(), None):
            if resources is None:
                self.invalidate()
                resources = await self.resources()
            for resource in resources:
                if (resource.group, resource.version, resource.kind) == (group, version, kind):
                    return resource
        raise ResourceNotFound(f'no matches for kind "{kind}" in version "{api_version}"')

    async def by_category(self, category: str) -> list[APIResource]:
        """``all`` -> the resources ``kubectl get all`` shows (preferred versions only)."""
        return [r for r in await self.resources() if category in r.categories and r.preferred]


def _parse(group: str, version: str, preferred: bool, body: dict[str, Any]) -> list[APIResource]:
    entries = body.get("resources") or []
    subresources: dict[str, list[str]] = {}
    for entry in entries:
        parent, _, sub = entry["name"].partition("/")
        if sub:
            subresources.setdefault(parent, []).append(sub)
    return [APIResource(group, version, entry["name"], entry.get("kind", ""), bool(entry.get("namespaced")),
                        entry.get("singularName") or entry.get("kind", "").lower(), tuple(entry.get("verbs") or ()),
                        tuple(entry.get("shortNames") or ()), tuple(entry.get("categories") or ()),
                        tuple(subresources.get(entry["name"], ())), preferred)
            for entry in entries if "/" not in entry["name"]]


def _match(resources: list[APIResource], text: str) -> APIResource | None:
    name, _, qualifier = text.partition(".")
    name = name.lower()
    version = group = None
    if qualifier:
        first, _, rest = qualifier.partition(".")
        if rest and first[:1] == "v" and first[1:2].isdigit():
            version, group = first, rest
        else:
            group = qualifier
    for exact in (True, False):  # plural/singular/short names before kinds (case-insensitive)
        for resource in resources:
            if group is not None and resource.group != group:
                continue
            if version is not None and resource.version != version:
                continue
            if exact and name in (resource.name, resource.singular, *resource.short_names):
                return resource
            if not exact and name == resource.kind.lower():
                return resource
    return None
