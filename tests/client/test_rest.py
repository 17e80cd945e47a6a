"""REST verbs, typed errors, paging and the retry rules, against small aiohttp apps."""

from __future__ import annotations

import socket

import orjson
import pytest
from aiohttp import web

from hyperkube.client import (
    AlreadyExists,
    Client,
    Config,
    Conflict,
    ConnectError,
    Gone,
    GroupVersionResource,
    HTTPTransport,
    InternalError,
    Invalid,
    NotFound,
    RetryPolicy,
    ServiceUnavailable,
    TooManyRequests,
    TransportError,
)
from tests.client.conftest import status

PODS = GroupVersionResource("", "v1", "pods")
DEPLOYMENTS = "apps/v1/deployments"


def pod(name: str, rv: str = "1", namespace: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": rv}}


def test_paths():
    assert PODS.path("default", "web", "status") == "/api/v1/namespaces/default/pods/web/status"
    assert PODS.path() == "/api/v1/pods"
    assert GroupVersionResource.parse(DEPLOYMENTS).path("ns") == "/apis/apps/v1/namespaces/ns/deployments"
    assert GroupVersionResource.parse("coordination.k8s.io/v1/leases").qualified == "leases.coordination.k8s.io"


async def test_verbs_send_what_kubernetes_expects(serve):
    seen: list[tuple[str, str, str, str, bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, request.query_string,
                     request.headers.get("Content-Type", ""), await request.read()))
        if request.method == "DELETE" and request.path.endswith("/pods"):
            return web.json_response({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []})
        if request.method == "DELETE":
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Success"})
        return web.json_response(pod("web", "7"), status=201 if request.method == "POST" else 200)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    client = await serve(app)

    assert (await client.get(PODS, "web", namespace="default"))["metadata"]["resourceVersion"] == "7"
    await client.create(PODS, {"metadata": {"name": "web", "namespace": "default"}}, field_manager="me")
    await client.update_status(PODS, pod("web", "7"))
    await client.patch(DEPLOYMENTS, "d", {"spec": {"replicas": 3}}, namespace="ns", subresource="scale")
    await client.patch(PODS, "web", [{"op": "add", "path": "/x", "value": 1}], namespace="ns", patch_type="json")
    await client.patch(PODS, "web", {"a": 1}, namespace="ns", patch_type="apply", field_manager="m", force=True)
    await client.delete(PODS, "web", namespace="default", propagation_policy="Foreground")
    await client.delete_collection(PODS, namespace="default", label_selector={"app": "web"})

    assert [(m, p) for m, p, *_ in seen] == [
        ("GET", "/api/v1/namespaces/default/pods/web"),
        ("POST", "/api/v1/namespaces/default/pods"),
        ("PUT", "/api/v1/namespaces/default/pods/web/status"),
        ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale"),
        ("PATCH", "/api/v1/namespaces/ns/pods/web"),
        ("PATCH", "/api/v1/namespaces/ns/pods/web"),
        ("DELETE", "/api/v1/namespaces/default/pods/web"),
        ("DELETE", "/api/v1/namespaces/default/pods"),
    ]
    assert seen[1][2] == "fieldManager=me"
    assert [s[3] for s in seen[3:6]] == ["application/merge-patch+json", "application/json-patch+json",
                                         "application/apply-patch+yaml"]
    assert seen[5][2] == "fieldManager=m&force=true"
    assert orjson.loads(seen[6][4])["propagationPolicy"] == "Foreground"
    assert seen[7][2] == "labelSelector=app%3Dweb"


async def test_typed_errors_carry_the_status(serve):
    async def handler(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "missing":
            return status(404, "NotFound", 'pods "missing" not found', name="missing", kind="pods")
        if name == "exists":
            return status(409, "AlreadyExists", 'pods "exists" already exists')
        if name == "stale":
            return status(409, "Conflict", 'Operation cannot be fulfilled on pods "stale"')
        if name == "bad":
            return status(422, "Invalid", 'Pod "bad" is invalid', causes=[
                {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}])
        if name == "old":
            return status(410, "Expired", "too old resource version: 1 (5)")
        return web.Response(status=500, text="boom")

    app = web.Application()
    app.router.add_route("*", "/api/v1/namespaces/default/pods/{name}", handler)
    client = await serve(app)

    with pytest.raises(NotFound) as info:
        await client.get(PODS, "missing", namespace="default")
    assert info.value.code == 404 and info.value.message == 'pods "missing" not found'
    assert info.value.status["details"] == {"name": "missing", "kind": "pods"}
    with pytest.raises(AlreadyExists):
        await client.get(PODS, "exists", namespace="default")
    with pytest.raises(Conflict):
        await client.update(PODS, pod("stale"))
    with pytest.raises(Invalid) as invalid:
        await client.get(PODS, "bad", namespace="default")
    assert invalid.value.details["causes"][0]["field"] == "spec.containers"
    with pytest.raises(Gone) as gone:
        await client.get(PODS, "old", namespace="default")
    assert gone.value.reason == "Expired"
    with pytest.raises(InternalError) as internal:
        await client.get(PODS, "other", namespace="default")
    assert internal.value.message == "boom"


async def test_429_with_retry_after_then_success(serve, sleeps):
    calls = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(request.method)
        if len(calls) == 1:
            response = status(429, "TooManyRequests", "Too many requests, please try again later.")
            response.headers["Retry-After"] = "3"
            return response
        return web.json_response(pod("made"), status=201)

    app = web.Application()
    app.router.add_post("/api/v1/namespaces/default/pods", handler)
    client = await serve(app)
    created = await client.create(PODS, {"metadata": {"name": "made"}}, namespace="default")
    assert created["metadata"]["name"] == "made"
    assert calls == ["POST", "POST"]  # a 429 was never processed, so even a POST is retried
    assert sleeps == [3.0]


async def test_503_retries_only_idempotent_requests(serve, sleeps):
    calls = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(request.method)
        if len(calls) % 2 == 1:
            return status(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        return web.json_response(pod("web"))

    app = web.Application()
    app.router.add_route("*", "/api/v1/namespaces/default/pods/web", handler)
    client = await serve(app)

    assert (await client.get(PODS, "web", namespace="default"))["metadata"]["name"] == "web"
    assert calls == ["GET", "GET"] and len(sleeps) == 1
    calls.clear()
    with pytest.raises(ServiceUnavailable):  # a blind merge patch may have been applied
        await client.patch(PODS, "web", {"spec": {"x": 1}}, namespace="default")
    assert calls == ["PATCH"]
    calls.clear()
    guarded = [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
               {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}]
    await client.patch(PODS, "web", guarded, namespace="default", patch_type="json")
    assert calls == ["PATCH", "PATCH"]


async def test_retries_give_up_after_max_retries(serve, sleeps):
    async def handler(request: web.Request) -> web.Response:
        return status(429, "TooManyRequests", "slow down")

    app = web.Application()
    app.router.add_get("/api/v1/pods", handler)
    client = await serve(app, retry=RetryPolicy(max_retries=3, sleep=sleeps))
    with pytest.raises(TooManyRequests):
        await client.list(PODS)
    assert len(sleeps) == 3
    assert sleeps == sorted(sleeps)  # exponential backoff without Retry-After


async def test_lost_connection_retries_get_but_not_post(serve, sleeps):
    calls = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(request.method)
        if len(calls) == 1 or request.method == "POST":
            assert request.transport is not None
            request.transport.close()  # the request arrived; the answer never leaves
            raise ConnectionResetError
        return web.json_response(pod("web"))

    app = web.Application()
    app.router.add_route("*", "/api/v1/namespaces/default/pods{tail:.*}", handler)
    client = await serve(app)
    assert (await client.get(PODS, "web", namespace="default"))["metadata"]["name"] == "web"
    assert calls == ["GET", "GET"]
    calls.clear()
    with pytest.raises(TransportError):
        await client.create(PODS, {"metadata": {"name": "web"}}, namespace="default")
    assert calls == ["POST"]


async def test_connection_refused_is_retried_then_raised(sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config(server=f"http://127.0.0.1:{port}")
    async with Client(config, transport=HTTPTransport(config.server),
                      retry=RetryPolicy(max_retries=2, sleep=sleeps)) as client:
        with pytest.raises(ConnectError):
            await client.create(PODS, {"metadata": {"name": "x"}}, namespace="default")
    assert len(sleeps) == 2  # never sent, so safe to retry even a POST


async def test_list_all_follows_continue_tokens(serve):
    names = [f"p{i}" for i in range(5)]
    seen = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        limit = int(request.query.get("limit", "0")) or len(names)
        start = int(request.query.get("continue", "0"))
        page = names[start:start + limit]
        metadata = {"resourceVersion": "42"}
        if start + limit < len(names):
            metadata["continue"] = str(start + limit)
        return web.json_response({"kind": "PodList", "apiVersion": "v1", "metadata": metadata,
                                  "items": [pod(n) for n in page]})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/default/pods", handler)
    client = await serve(app)
    result = await client.list_all(PODS, namespace="default", page_size=2, label_selector="app=web")
    assert [i["metadata"]["name"] for i in result["items"]] == names
    assert result["metadata"] == {"resourceVersion": "42"}
    assert [q.get("continue") for q in seen] == [None, "2", "4"]
    assert all(q["labelSelector"] == "app=web" and q["limit"] == "2" for q in seen)


async def test_expired_continue_token_falls_back_to_a_full_list(serve):
    seen = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        if "continue" in request.query:
            return status(410, "Expired", "The provided continue parameter is too old")
        if "limit" in request.query:
            return web.json_response({"kind": "PodList", "metadata": {"continue": "x", "resourceVersion": "1"},
                                      "items": [pod("a")]})
        return web.json_response({"kind": "PodList", "metadata": {"resourceVersion": "9"},
                                  "items": [pod("a"), pod("b")]})

    app = web.Application()
    app.router.add_get("/api/v1/pods", handler)
    client = await serve(app)
    result = await client.list_all(PODS, page_size=1)
    assert [i["metadata"]["name"] for i in result["items"]] == ["a", "b"]
    assert seen[-1] == {}
    assert result["metadata"]["resourceVersion"] == "9"


async def test_client_side_throttle(serve, sleeps):
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(pod("web"))

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/default/pods/web", handler)
    client = await serve(app, qps=10, burst=2)
    for _ in range(4):
        await client.get(PODS, "web", namespace="default")
    assert sleeps == [pytest.approx(0.1, abs=0.05), pytest.approx(0.2, abs=0.05)]


async def test_503_with_retry_after_retries_even_a_post(serve, sleeps):
    calls = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(await request.read())
        if len(calls) == 1:
            response = status(503, "ServiceUnavailable", "apiserver is shutting down")
            response.headers["Retry-After"] = "1"
            return response
        return web.json_response(pod("x"), status=201)

    app = web.Application()
    app.router.add_post("/api/v1/namespaces/default/pods", handler)
    client = await serve(app)
    await client.create(PODS, {"metadata": {"name": "x", "namespace": "default"}}, dry_run=True)
    assert len(calls) == 2 and calls[0] == calls[1] and sleeps == [1.0]


async def test_delete_options_and_dry_run(serve):
    seen = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.query_string, orjson.loads(await request.read())))
        return web.json_response(pod("x"))

    app = web.Application()
    app.router.add_route("*", "/api/v1/namespaces/default/pods/x", handler)
    client = await serve(app)
    await client.delete(PODS, "x", namespace="default", grace_period_seconds=0,
                        preconditions={"uid": "u-1", "resourceVersion": "5"}, dry_run=True)
    query, body = seen[0]
    assert query == ""
    assert body == {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                    "preconditions": {"uid": "u-1", "resourceVersion": "5"}, "dryRun": ["All"]}
