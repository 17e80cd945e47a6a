"""The dashboard: static files served by the API server at ``/ui/``.

The page is plain HTML, CSS and JavaScript modules shipped as package data (no build step);
everything it shows comes from the ordinary REST API, fetched by the browser from the same
origin (the API server itself, or ``kubectl proxy`` in front of it).

The files are read once, in a thread, when the application starts (``on_startup``) and kept
in memory with their content type and a content hash as ETag, so a request never touches the
disk on the event loop. Responses carry ``Cache-Control: no-cache`` (the browser revalidates
each time) and answer a matching ``If-None-Match`` with 304. ``/ui`` redirects to ``/ui/``
with a relative Location, so the redirect also holds behind a proxy with a path prefix.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).with_name("static")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets(directory: Path = STATIC) -> dict[str, Asset]:
    """Every servable file under ``directory`` by its name relative to it (blocking: run in a thread)."""
    assets: dict[str, Asset] = {}
    for path in sorted(directory.rglob("*")):
        content_type = TYPES.get(path.suffix)
        if content_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        assets[path.relative_to(directory).as_posix()] = Asset(
            body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return assets


class Dashboard:
    def __init__(self, directory: Path = STATIC) -> None:
        self.directory = directory
        self.assets: dict[str, Asset] | None = None
        self._lock = asyncio.Lock()

    async def load(self, _app: web.Application | None = None) -> None:
        async with self._lock:
            if self.assets is None:
                self.assets = await asyncio.to_thread(load_assets, self.directory)

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently(location="ui/")

    async def serve(self, request: web.Request) -> web.StreamResponse:
        if self.assets is None:  # an app served without its startup signal (tests building it by hand)
            await self.load()
        assert self.assets is not None
        asset = self.assets.get(request.match_info.get("name") or "index.html")
        if asset is None:
            raise web.HTTPNotFound()
        headers = {**HEADERS, "ETag": asset.etag}
        if asset.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=asset.body, headers={**headers, "Content-Type": asset.content_type})


def add_routes(app: web.Application) -> None:
    dashboard = Dashboard()
    app.on_startup.append(dashboard.load)
    app.router.add_get("/ui", dashboard.redirect)
    app.router.add_get("/ui/", dashboard.serve)
    app.router.add_get("/ui/{name:[A-Za-z0-9_.-]+}", dashboard.serve)
