"""``/openapi/v3`` over HTTP: the root and one document per group-version.

The documents themselves come from :mod:`hyperkube.api.openapi`; this module only serves them.
Building a document walks many schemas, so it runs in a thread executor, never on the event
loop. Results are cached per ``registry.generation`` (a CRD bumps it), and concurrent requests
for the same thing share one build, so a burst of kubectl processes at start-up builds once.

HTTP behaviour follows kube-apiserver:

- ``GET /openapi/v3`` -> ``{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=H"}}}``;
- ``GET /openapi/v3/apis/apps/v1?hash=H`` -> the document with ``ETag: "H"``; when ``hash``
  matches, ``Cache-Control: public, immutable``; a stale hash redirects (301) to the current
  URL; ``If-None-Match`` with the current ETag gives 304;
- unknown group-version -> 404 Status;
- ``/openapi/v2`` -> a Swagger 2.0 document with no definitions (JSON, or gnostic protobuf as
  ``application/octet-stream`` when asked for protobuf: kubectl refuses the protobuf type name
  in the header). kubectl validates the items of a ``kind: List`` against v2, so a 404 there
  made ``apply -f`` of a List fail; with an empty document it validates them itself.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web

from hyperkube.api.registry import Registry
from hyperkube.machinery.errors import APIError, NotFound

T = TypeVar("T")
_IMMUTABLE = "public, immutable, max-age=31536000"
_REVALIDATE = "no-cache, private"


def _status_response(error: APIError) -> web.Response:
    return web.Response(body=orjson.dumps(error.to_status()), status=error.code,
                        headers={"Content-Type": "application/json"})


def _not_found(what: str) -> web.Response:
    return _status_response(NotFound(f"the server could not find the requested resource ({what})"))


def _split(path: str) -> tuple[str, str] | None:
    """``api/v1`` -> ("", "v1"); ``apis/apps/v1`` -> ("apps", "v1"); anything else -> None."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        return "", parts[1]
    if len(parts) == 3 and parts[0] == "apis" and parts[1]:
        return parts[1], parts[2]
    return None


class OpenAPIRoutes:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._generation = -1
        self._cache: dict[Any, asyncio.Future[Any]] = {}

    async def _cached(self, key: Any, build: Callable[[], T]) -> T:
        """``build()`` in a thread, once per key and registry generation; failures aren't cached."""
        generation = self.registry.generation
        if generation != self._generation:
            self._generation, self._cache = generation, {}
        future = self._cache.get(key)
        if future is None:
            future = self._cache[key] = asyncio.get_running_loop().run_in_executor(None, build)
        try:
            return await asyncio.shield(future)
        except Exception:
            if self._cache.get(key) is future:
                del self._cache[key]
            raise

    def _build_root(self) -> tuple[bytes, str]:
        from hyperkube.api import openapi  # imported on first use: loading the schemas takes a moment

        body = orjson.dumps(openapi.openapi_v3_root(self.registry))
        return body, hashlib.sha512(body).hexdigest().upper()

    def _build_document(self, group: str, version: str) -> tuple[bytes, str]:
        from hyperkube.api import openapi

        return openapi.openapi_v3_document_and_hash(self.registry, group, version)

    async def root(self, request: web.Request) -> web.Response:
        body, digest = await self._cached("", self._build_root)
        return self._respond(request, body, digest, immutable=False)

    async def document(self, request: web.Request) -> web.Response:
        path = request.match_info["path"].strip("/")
        if not path:
            return await self.root(request)
        gv = _split(path)
        if gv is None:
            return _not_found(f"openapi/v3/{path}")
        try:
            body, digest = await self._cached(gv, lambda: self._build_document(*gv))
        except APIError as error:
            return _status_response(error)
        wanted = request.query.get("hash")
        if wanted is not None and wanted != digest:
            raise web.HTTPMovedPermanently(f"/openapi/v3/{path}?hash={digest}")
        return self._respond(request, body, digest, immutable=wanted is not None)

    @staticmethod
    def _respond(request: web.Request, body: bytes, digest: str, immutable: bool) -> web.Response:
        etag = f'"{digest}"'
        headers = {"ETag": etag, "Cache-Control": _IMMUTABLE if immutable else _REVALIDATE,
                   "Content-Type": "application/json"}
        if etag in (t.strip() for t in request.headers.get("If-None-Match", "").split(",")):
            return web.Response(status=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
        return web.Response(body=body, headers=headers)

    async def v2(self, request: web.Request) -> web.Response:
        from hyperkube.api import openapi

        if openapi.OPENAPI_V2_PROTOBUF in request.headers.get("Accept", ""):
            return web.Response(body=openapi.openapi_v2_protobuf(), content_type="application/octet-stream")
        return web.json_response(openapi.openapi_v2())


def add_routes(app: web.Application, registry: Registry) -> None:
    """Register ``/openapi/v3``, ``/openapi/v3/{group-version path}`` and ``/openapi/v2``."""
    routes = OpenAPIRoutes(registry)
    app.router.add_get("/openapi/v3", routes.root)
    app.router.add_get("/openapi/v3/{path:.*}", routes.document)
    app.router.add_get("/openapi/v2", routes.v2)
