"""Watch streams: newline framing, bookmarks as the resume point, 410 as Gone."""

from __future__ import annotations

import pytest
from aiohttp import web

from hyperkube.client import Gone, NotFound, TransportError, WatchEvent
from tests.client.conftest import status, watch_lines
from tests.client.fake_apiserver import FakeAPIServer
from tests.client.fake_apiserver import pod as fake_pod

PODS = "v1/pods"


def pod(name: str, rv: str) -> dict:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": "default",
                                                           "resourceVersion": rv}}


def bookmark(rv: str, **annotations: str) -> dict:
    metadata: dict = {"resourceVersion": rv}
    if annotations:
        metadata["annotations"] = annotations
    return {"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": metadata}}


EXPIRED = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                       "message": "too old resource version: 5 (20)", "reason": "Expired",
                                       "code": 410}}


def streaming_app(body_for: dict[str, bytes], seen: list[dict]) -> web.Application:
    """Answers a watch with the body chosen by its resourceVersion, chunked as the server does."""

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.query))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        body = body_for[request.query.get("resourceVersion", "")]
        for line in body.splitlines(keepends=True):
            await response.write(line)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/default/pods", handler)
    return app


async def test_bookmark_then_expired_raises_gone(serve):
    seen: list[dict] = []
    body = watch_lines({"type": "ADDED", "object": pod("a", "11")}, bookmark("20"), EXPIRED)
    client = await serve(streaming_app({"5": body}, seen))
    watch = client.watch(PODS, namespace="default", resource_version="5")
    received = []
    with pytest.raises(Gone) as info:
        async for event in watch:
            received.append(event)
    assert received == [WatchEvent("ADDED", pod("a", "11"))]  # bookmarks are tracked, not yielded
    assert watch.resource_version == "20"
    assert info.value.code == 410 and info.value.reason == "Expired"
    assert seen == [{"allowWatchBookmarks": "true", "watch": "true", "resourceVersion": "5"}]


async def test_resume_from_the_last_bookmark(serve):
    seen: list[dict] = []
    first = watch_lines({"type": "ADDED", "object": pod("a", "11")},
                        {"type": "MODIFIED", "object": pod("a", "12")}, bookmark("30"))
    second = watch_lines({"type": "DELETED", "object": pod("a", "31")})
    client = await serve(streaming_app({"": first, "30": second}, seen))
    watch = client.watch(PODS, namespace="default", label_selector={"app": "a"}, timeout_seconds=60)
    types = [event.type async for event in watch]  # ends when the server ends the stream
    assert types == ["ADDED", "MODIFIED"] and watch.resource_version == "30"
    resumed = client.watch(PODS, namespace="default", resource_version=watch.resource_version)
    assert [(e.type, e.object["metadata"]["resourceVersion"]) async for e in resumed] == [("DELETED", "31")]
    assert seen[0] == {"labelSelector": "app=a", "timeoutSeconds": "60", "allowWatchBookmarks": "true",
                       "watch": "true"}
    assert seen[1]["resourceVersion"] == "30"


async def test_initial_events_end_bookmark(serve):
    seen: list[dict] = []
    body = watch_lines({"type": "ADDED", "object": pod("a", "11")},
                       bookmark("11", **{"k8s.io/initial-events-end": "true"}))
    client = await serve(streaming_app({"": body}, seen))
    watch = client.watch(PODS, namespace="default", send_initial_events=True, yield_bookmarks=True)
    async with watch:
        events = [event async for event in watch]
    assert [e.type for e in events] == ["ADDED", "BOOKMARK"]
    assert watch.initial_events_done
    assert seen[0]["sendInitialEvents"] == "true" and seen[0]["resourceVersionMatch"] == "NotOlderThan"


async def test_large_events_are_not_truncated(serve):
    big = pod("big", "3")
    big["metadata"]["annotations"] = {"blob": "x" * 3_000_000}
    client = await serve(streaming_app({"": watch_lines({"type": "ADDED", "object": big})}, []))
    events = [event async for event in client.watch(PODS, namespace="default")]
    assert len(events[0].object["metadata"]["annotations"]["blob"]) == 3_000_000


async def test_watch_request_refused_with_410(serve):
    async def handler(request: web.Request) -> web.Response:
        if request.query.get("resourceVersion") == "1":
            return status(410, "Gone", "too old resource version: 1 (50)")
        return status(404, "NotFound", 'the server could not find the requested resource')

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/{ns}/pods", handler)
    client = await serve(app)
    with pytest.raises(Gone):
        async for _ in client.watch(PODS, namespace="default", resource_version="1"):
            pass
    with pytest.raises(NotFound):
        async for _ in client.watch(PODS, namespace="default"):
            pass


async def test_closing_the_client_ends_open_watches(serve):
    fake = FakeAPIServer()
    fake.write("ADDED", fake_pod("a"))
    client = await serve(fake.app)
    watch = client.watch(PODS)
    first = await watch.__anext__()
    assert first.type == "ADDED"
    await client.transport.reset()  # as client.close() does, before it refuses new requests
    with pytest.raises(TransportError):
        await watch.__anext__()
    fake.end_watches()
