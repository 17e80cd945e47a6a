"""Discovery: what the server serves, computed from the Registry.

Two shapes answer the same question:

- legacy discovery, one request per level: ``/api`` (APIVersions), ``/apis`` (APIGroupList),
  ``/apis/{group}`` (APIGroup), ``/api/v1`` and ``/apis/{group}/{version}`` (APIResourceList,
  one entry per resource and one per subresource such as ``pods/log``);
- aggregated discovery (``apidiscovery.k8s.io/v2``), everything in two responses, chosen when
  the Accept header names it. Clients decide which one they got by the response
  Content-Type, so that header must name the aggregated type exactly.

Everything is derived from the Registry and cached per ``registry.generation``: a CRD added at
run time bumps the generation and the next request rebuilds the (small) snapshot. Bodies are
serialized once per generation; only ``/api`` is per request, since it echoes the address the
client used. Unknown query parameters (clients send ``?timeout=32s``) are ignored.
"""

from __future__ import annotations

import platform
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from hyperkube import KUBERNETES_GIT_VERSION, KUBERNETES_VERSION, __version__
from hyperkube.api.registry import Registry, Resource
from hyperkube.machinery.errors import NotFound

AGGREGATED_GROUP = "apidiscovery.k8s.io"
AGGREGATED_KIND = "APIGroupDiscoveryList"

#: subresource -> (group, version) of its response kind when that is not the parent's own
_SUBRESOURCE_KIND_GV: dict[str, tuple[str, str]] = {
    "scale": ("autoscaling", "v1"),
    "eviction": ("policy", "v1"),
    "token": ("authentication.k8s.io", "v1"),
}
#: subresource -> verbs, as Kubernetes lists them
_SUBRESOURCE_VERBS: dict[str, list[str]] = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "log": ["get"],
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
    "proxy": ["create", "delete", "get", "patch", "update"],
    "binding": ["create"],
    "eviction": ["create"],
    "token": ["create"],
    "ephemeralcontainers": ["get", "patch", "update"],
    "resize": ["get", "patch", "update"],
    "approval": ["get", "patch", "update"],
    "finalize": ["update"],
}

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int]:
    """Sort key putting the version Kubernetes prefers first: GA > beta > alpha, higher
    numbers first within each, anything unparseable last (sort ascending on this key)."""
    match = _VERSION_RE.match(version)
    if not match:
        return (3, 0, 0)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0))


def version_info() -> dict[str, str]:
    """The ``/version`` body; every field the Python client's VersionInfo requires is set."""
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    major, minor, _patch = KUBERNETES_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": KUBERNETES_GIT_VERSION,
        "gitCommit": f"hyperkube-{__version__}",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": sys.implementation.name,
        "platform": f"{sys.platform}/{machine}",
    }


# --------------------------------------------------------------------------- snapshot


@dataclass
class _Snapshot:
    """Everything discovery answers at one registry generation, serialized once."""

    generation: int
    core_versions: list[str]
    group_bodies: dict[str, bytes] = field(default_factory=dict)  # "apps" -> APIGroup
    resource_lists: dict[str, bytes] = field(default_factory=dict)  # "apps/v1" -> APIResourceList
    group_list: bytes = b""
    aggregated: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (v2|v2beta1, api|apis)


def _subresource_kind(parent: Resource, name: str, kind: str) -> tuple[str, str, str]:
    group, version = _SUBRESOURCE_KIND_GV.get(name, (parent.group, parent.version))
    return group, version, kind


def _legacy_entries(resources: list[Resource]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for res in sorted(resources, key=lambda r: r.plural):
        entry: dict[str, Any] = {"name": res.plural, "singularName": res.singular,
                                 "namespaced": res.namespaced, "kind": res.kind, "verbs": list(res.verbs)}
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        entries.append(entry)
        for sub, kind in sorted(res.subresources.items()):
            group, version, kind = _subresource_kind(res, sub, kind)
            sub_entry: dict[str, Any] = {"name": f"{res.plural}/{sub}", "singularName": "",
                                         "namespaced": res.namespaced}
            if (group, version) != (res.group, res.version):
                sub_entry["group"] = group
                sub_entry["version"] = version
            sub_entry["kind"] = kind
            sub_entry["verbs"] = _SUBRESOURCE_VERBS.get(sub, ["get"])
            entries.append(sub_entry)
    return entries


def _aggregated_resources(resources: list[Resource]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for res in sorted(resources, key=lambda r: r.plural):
        entry: dict[str, Any] = {
            "resource": res.plural,
            "responseKind": {"group": res.group, "version": res.version, "kind": res.kind},
            "scope": "Namespaced" if res.namespaced else "Cluster",
            "singularResource": res.singular,
            "verbs": list(res.verbs),
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        subs = []
        for sub, kind in sorted(res.subresources.items()):
            group, version, kind = _subresource_kind(res, sub, kind)
            subs.append({"subresource": sub,
                         "responseKind": {"group": group, "version": version, "kind": kind},
                         "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"])})
        if subs:
            entry["subresources"] = subs
        out.append(entry)
    return out


def _build(registry: Registry, generation: int) -> _Snapshot:
    by_gv: dict[tuple[str, str], list[Resource]] = {}
    for res in registry:
        by_gv.setdefault((res.group, res.version), []).append(res)
    # group -> versions, preferred first; groups in first-registration order
    groups: dict[str, list[str]] = {}
    for group, version in by_gv:
        groups.setdefault(group, []).append(version)
    for versions in groups.values():
        versions.sort(key=version_priority)

    snap = _Snapshot(generation=generation, core_versions=groups.get("", ["v1"]))
    group_entries = []
    for group, versions in groups.items():
        for version in versions:
            gv = f"{group}/{version}" if group else version
            snap.resource_lists[gv] = orjson.dumps({
                "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                "resources": _legacy_entries(by_gv[(group, version)])})
        if not group:
            continue
        listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        entry = {"name": group, "versions": listed, "preferredVersion": listed[0]}
        group_entries.append(entry)
        snap.group_bodies[group] = orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", **entry})
    snap.group_list = orjson.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": group_entries})

    for api_version in ("v2", "v2beta1"):
        for root in ("api", "apis"):
            items = []
            for group, versions in groups.items():
                if (root == "api") != (group == ""):
                    continue
                items.append({
                    "metadata": {"name": group, "creationTimestamp": None},
                    "versions": [{"version": v, "freshness": "Current",
                                  "resources": _aggregated_resources(by_gv[(group, v)])} for v in versions],
                })
            snap.aggregated[(api_version, root)] = orjson.dumps({
                "kind": AGGREGATED_KIND, "apiVersion": f"{AGGREGATED_GROUP}/{api_version}",
                "metadata": {}, "items": items})
    return snap


# --------------------------------------------------------------------------- negotiation


def aggregated_version(accept: str) -> str | None:
    """``v2``/``v2beta1`` when the Accept header asks for aggregated discovery before any plain
    JSON; None for legacy. Media types are taken in the order the client listed them."""
    for media in accept.split(","):
        parts = [p.strip() for p in media.split(";")]
        mime = parts[0].lower()
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        params.pop("q", None)
        if not params and mime in ("application/json", "*/*", "application/*"):
            return None
        if (mime == "application/json" and params.get("g") == AGGREGATED_GROUP
                and params.get("as") == AGGREGATED_KIND and params.get("v") in ("v2", "v2beta1")):
            return params["v"]
    return None


def _json(body: bytes, status: int = 200, content_type: str = "application/json") -> web.Response:
    return web.Response(body=body, status=status, headers={"Content-Type": content_type})


def _not_found() -> web.Response:
    error = NotFound("the server could not find the requested resource", details={})
    return _json(orjson.dumps(error.to_status()), status=404)


class Discovery:
    """The handlers, holding the per-generation snapshot."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._snapshot: _Snapshot | None = None

    def snapshot(self) -> _Snapshot:
        generation = self.registry.generation
        snap = self._snapshot
        if snap is None or snap.generation != generation:
            snap = self._snapshot = _build(self.registry, generation)
        return snap

    def _aggregated(self, request: web.Request, root: str) -> web.Response | None:
        version = aggregated_version(request.headers.get("Accept", ""))
        if version is None:
            return None
        return _json(self.snapshot().aggregated[(version, root)],
                     content_type=f"application/json;g={AGGREGATED_GROUP};v={version};as={AGGREGATED_KIND}")

    async def api(self, request: web.Request) -> web.Response:
        aggregated = self._aggregated(request, "api")
        if aggregated is not None:
            return aggregated
        return _json(orjson.dumps({
            "kind": "APIVersions", "versions": self.snapshot().core_versions,
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}]}))

    async def apis(self, request: web.Request) -> web.Response:
        aggregated = self._aggregated(request, "apis")
        if aggregated is not None:
            return aggregated
        return _json(self.snapshot().group_list)

    async def group(self, request: web.Request) -> web.Response:
        body = self.snapshot().group_bodies.get(request.match_info["group"])
        return _json(body) if body is not None else _not_found()

    async def core_resources(self, request: web.Request) -> web.Response:
        body = self.snapshot().resource_lists.get(request.match_info["version"])
        return _json(body) if body is not None else _not_found()

    async def group_resources(self, request: web.Request) -> web.Response:
        group, version = request.match_info["group"], request.match_info["version"]
        body = self.snapshot().resource_lists.get(f"{group}/{version}") if group else None
        return _json(body) if body is not None else _not_found()

    async def version(self, request: web.Request) -> web.Response:
        return _json(orjson.dumps(version_info()))


def add_routes(app: web.Application, registry: Registry) -> None:
    """Register the discovery endpoints on ``app`` (GET; aiohttp adds HEAD)."""
    discovery = Discovery(registry)
    router = app.router
    for path, handler in (
        ("/api", discovery.api), ("/api/", discovery.api),
        ("/apis", discovery.apis), ("/apis/", discovery.apis),
        ("/apis/{group}", discovery.group), ("/apis/{group}/", discovery.group),
        ("/api/{version}", discovery.core_resources), ("/api/{version}/", discovery.core_resources),
        ("/apis/{group}/{version}", discovery.group_resources),
        ("/apis/{group}/{version}/", discovery.group_resources),
        ("/version", discovery.version), ("/version/", discovery.version),
    ):
        router.add_get(path, handler)
