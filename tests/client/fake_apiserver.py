"""A small stand-in for the API server's list and watch of one namespaced resource.

It keeps what the real server keeps for these cases: a global revision, an event log keyed by
revision, a compaction point (watching from below it yields an ERROR 410 Expired event),
paged lists with continue tokens, and BOOKMARKs. Tests drive it directly (``write``,
``silently``, ``expire_watches``, ``end_watches``) to produce each situation on demand.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import orjson
from aiohttp import web

from tests.client.conftest import status


class FakeAPIServer:
    def __init__(self, group: str = "", version: str = "v1", plural: str = "pods", kind: str = "Pod") -> None:
        self.kind, self.api_version = kind, f"{group}/{version}" if group else version
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.revision = 1
        self.log: list[tuple[int, str, dict[str, Any]]] = []
        self.compacted = 0
        self.watchers: list[asyncio.Queue[dict[str, Any] | None]] = []
        self._connections: dict[asyncio.Queue[dict[str, Any] | None], asyncio.BaseTransport] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.fail_next: list[int] = []
        self.watches_opened = 0
        self._watch_opened = asyncio.Event()
        base = f"/apis/{group}/{version}" if group else f"/api/{version}"
        self.app = web.Application()
        self.app.router.add_route("*", base + "/" + plural, self.collection)
        self.app.router.add_route("*", base + "/namespaces/{namespace}/" + plural, self.collection)
        self.app.router.add_route("*", base + "/namespaces/{namespace}/" + plural + "/{name}", self.item)

    # -- driving it from a test -------------------------------------------------------------------

    def _stamp(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.revision += 1
        obj = copy.deepcopy(obj)
        obj.setdefault("kind", self.kind)
        obj.setdefault("apiVersion", self.api_version)
        obj["metadata"]["resourceVersion"] = str(self.revision)
        return obj

    def write(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """ADDED, MODIFIED or DELETED, logged and sent to every open watch."""
        obj = self._stamp(obj)
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if event_type == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        self.log.append((self.revision, event_type, obj))
        for queue in self.watchers:
            queue.put_nowait({"type": event_type, "object": obj})
        return obj

    def silently(self, event_type: str, obj: dict[str, Any]) -> None:
        """A change whose event is lost to compaction: only a relist can see it."""
        obj = self._stamp(obj)
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if event_type == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        self.compacted = self.revision

    def bookmark(self) -> None:
        for queue in self.watchers:
            queue.put_nowait({"type": "BOOKMARK", "object": {
                "kind": self.kind, "apiVersion": self.api_version,
                "metadata": {"resourceVersion": str(self.revision)}}})

    def expire_watches(self) -> None:
        self.compacted = self.revision
        for queue in self.watchers:
            queue.put_nowait(expired(self.revision - 1, self.revision))

    def end_watches(self) -> None:
        """As when the watch's timeoutSeconds runs out: the stream simply ends."""
        for queue in self.watchers:
            queue.put_nowait(None)

    def break_watches(self) -> None:
        """The network drops every watch connection (the client sees the stream break)."""
        for queue in self.watchers:
            connection = self._connections.get(queue)
            if connection is not None:
                connection.close()
            queue.put_nowait(None)

    async def wait_for_watches(self, count: int = 1) -> None:
        """Until ``count`` watches in all have been opened (and registered for events)."""
        while self.watches_opened < count:
            self._watch_opened.clear()
            await self._watch_opened.wait()

    def watch_requests(self) -> list[dict[str, str]]:
        return [q for m, _, q in self.requests if m == "GET" and q.get("watch") == "true"]

    def list_requests(self) -> list[dict[str, str]]:
        return [q for m, _, q in self.requests if m == "GET" and q.get("watch") != "true"]

    # -- serving -----------------------------------------------------------------------------------

    async def collection(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.requests.append((request.method, request.path, query))
        if self.fail_next:
            code = self.fail_next.pop(0)
            return status(code, "InternalError" if code == 500 else "ServiceUnavailable", "try again")
        namespace = request.match_info.get("namespace")
        if query.get("watch") == "true":
            return await self.watch(request, namespace, int(query.get("resourceVersion") or 0))
        items = sorted((o for (ns, _), o in self.objects.items() if namespace in (None, ns)),
                       key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or 0) or len(items)
        metadata: dict[str, Any] = {"resourceVersion": str(self.revision)}
        if start + limit < len(items):
            metadata["continue"] = str(start + limit)
        page = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items[start:start + limit]]
        return web.json_response({"kind": self.kind + "List", "apiVersion": self.api_version,
                                  "metadata": metadata, "items": page})

    async def item(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path, dict(request.query)))
        key = (request.match_info["namespace"], request.match_info["name"])
        if key not in self.objects:
            return status(404, "NotFound", f'pods "{key[1]}" not found')
        return web.json_response(self.objects[key])

    async def watch(self, request: web.Request, namespace: str | None, since: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        if since and since < self.compacted:
            await response.write(orjson.dumps(expired(since, self.revision)) + b"\n")
            return response
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        for revision, event_type, obj in self.log:
            if since and revision > since:
                queue.put_nowait({"type": event_type, "object": obj})
        if not since:
            for obj in self.objects.values():
                queue.put_nowait({"type": "ADDED", "object": obj})
        self.watchers.append(queue)
        if request.transport is not None:
            self._connections[queue] = request.transport
        self.watches_opened += 1
        self._watch_opened.set()
        try:
            while (event := await queue.get()) is not None:
                obj_ns = (event["object"].get("metadata") or {}).get("namespace")
                if event["type"] in ("ERROR", "BOOKMARK") or namespace in (None, obj_ns):
                    await response.write(orjson.dumps(event) + b"\n")
                if event["type"] == "ERROR":
                    break
        finally:
            self.watchers.remove(queue)
            self._connections.pop(queue, None)
        return response


def expired(asked: int, current: int) -> dict[str, Any]:
    return {"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Expired",
        "message": f"too old resource version: {asked} ({current})", "code": 410}}


def pod(name: str, namespace: str = "default", node: str = "", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"nodeName": node} if node else {}}
