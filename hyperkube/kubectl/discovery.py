"""Discovery for a short-lived process: aggregated documents, cached on disk.

A long-running component reads discovery once; kubectl runs once per command, so, like the
real kubectl, we keep what the server serves in ``$KUBECACHEDIR/discovery/<host_port>/``
(our own file beside kubectl's) for six hours. A name that does not resolve drops the cache
and asks again (:meth:`Discovery.resolve` calls :meth:`invalidate`), so new CRDs show up.

The server answers ``/api`` and ``/apis`` with an ``APIGroupDiscoveryList`` when asked
(aggregated discovery): two requests instead of one per group version. A server that does
not (its Content-Type says so) gets the per-group-version walk of the base class.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from hyperkube.client import APIResource, Discovery, NotFound

TTL = 6 * 3600.0
FILE = "hyperkube-resources.json"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
FIELDS = ("group", "version", "name", "kind", "namespaced", "singular", "verbs", "short_names",
          "categories", "subresources", "preferred")


class CachedDiscovery(Discovery):
    def __init__(self, client: Any, directory: str) -> None:
        super().__init__(client)
        self.path = os.path.join(directory, FILE)
        self._use_disk = True
        self.group_versions: list[str] = []

    def invalidate(self) -> None:
        super().invalidate()
        self._use_disk = False

    async def _fetch(self) -> list[APIResource]:
        if self._use_disk:
            cached = await asyncio.to_thread(self._read)
            if cached is not None:
                return cached
        found = await self._aggregated()
        if found is None:
            found = await super()._fetch()
            self.group_versions = sorted({r.group_version for r in found})
        await asyncio.to_thread(self._write, found)
        return found

    def _read(self) -> list[APIResource] | None:
        try:
            if time.time() - os.stat(self.path).st_mtime > TTL:
                return None
            with open(self.path) as handle:
                data = json.load(handle)
            self.group_versions = data["groupVersions"]
            return [APIResource(**{k: tuple(v) if isinstance(v, list) else v for k, v in zip(FIELDS, row, strict=True)})
                    for row in data["resources"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write(self, resources: list[APIResource]) -> None:
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            rows = [[getattr(r, f) for f in FIELDS] for r in resources]
            temporary = f"{self.path}.{os.getpid()}.tmp"
            with open(temporary, "w") as handle:
                json.dump({"groupVersions": self.group_versions, "resources": rows}, handle)
            os.replace(temporary, self.path)
        except OSError:
            pass  # a read-only home: discovery is simply fetched every time

    async def _aggregated(self) -> list[APIResource] | None:
        documents = []
        for path in ("/api", "/apis"):
            try:
                response = await self.client.open("GET", path, accept=AGGREGATED)
            except NotFound:
                if path == "/api":
                    continue
                raise
            body = json.loads(await response.read())
            if "apidiscovery" not in response.content_type and body.get("kind") != "APIGroupDiscoveryList":
                return None
            documents.append(body)
        found: list[APIResource] = []
        group_versions: list[str] = []
        for document in documents:
            for item in document.get("items") or []:
                group = (item.get("metadata") or {}).get("name") or ""
                for index, version in enumerate(item.get("versions") or []):
                    v = version.get("version", "")
                    group_versions.append(f"{group}/{v}" if group else v)
                    found += [_resource(group, v, index == 0, entry) for entry in version.get("resources") or []]
        found.sort(key=lambda r: not r.preferred)
        self.group_versions = group_versions
        return found

    async def server_group_versions(self) -> list[str]:
        """Every served group version, as ``kubectl api-versions`` lists them."""
        await self.resources()
        return self.group_versions


def _resource(group: str, version: str, preferred: bool, entry: dict[str, Any]) -> APIResource:
    kind = (entry.get("responseKind") or {}).get("kind", "")
    return APIResource(group, version, entry.get("resource", ""), kind, entry.get("scope") == "Namespaced",
                       entry.get("singularResource") or kind.lower(), tuple(entry.get("verbs") or ()),
                       tuple(entry.get("shortNames") or ()), tuple(entry.get("categories") or ()),
                       tuple(s.get("subresource", "") for s in entry.get("subresources") or ()), preferred)
