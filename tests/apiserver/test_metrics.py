"""/metrics against a real aiohttp server whose handlers set request["verb"]/["resource"] as the
core handlers do; the exposition is parsed line by line as Prometheus would."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from hyperkube.api.registry import Resource
from hyperkube.apiserver.metrics import Metrics
from hyperkube.machinery.errors import NotFound

pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning")

PODS = Resource("", "v1", "Pod", "pods", "pod", True)
DEPLOYMENTS = Resource("apps", "v1", "Deployment", "deployments", "deployment", True)
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.e+-]+|\+Inf|NaN)$')


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def base_url(metrics: Metrics) -> AsyncIterator[str]:
    async def list_pods(request: web.Request) -> web.Response:
        request["verb"], request["resource"] = "list", PODS
        return web.json_response({"kind": "PodList", "items": []})

    async def get_pod(request: web.Request) -> web.Response:
        request["verb"], request["resource"] = "get", PODS
        raise web.HTTPNotFound(text="nope")

    async def scale(request: web.Request) -> web.Response:
        request["verb"], request["resource"], request["subresource"] = "patch", DEPLOYMENTS, "scale"
        return web.json_response({})

    async def failing(request: web.Request) -> web.Response:
        request["verb"], request["resource"] = "delete", "widgets"
        raise NotFound("widgets \"w\" not found")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(middlewares=[metrics.middleware])
    app.router.add_get("/api/v1/namespaces/{namespace}/pods", list_pods)
    app.router.add_get("/api/v1/namespaces/{namespace}/pods/{name}", get_pod)
    app.router.add_patch("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", scale)
    app.router.add_delete("/apis/example.com/v1/widgets/{name}", failing)
    app.router.add_get("/healthz", healthz)
    metrics.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def scrape(session: aiohttp.ClientSession, base_url: str) -> dict[str, float]:
    async with session.get(f"{base_url}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("# HELP "):
            continue
        match = SAMPLE.match(line)
        assert match, f"not valid exposition: {line!r}"
        family = re.sub(r"_(bucket|sum|count)$", "", match.group(1))
        assert family in typed or match.group(1) in typed, line
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


async def test_requests_are_counted_and_timed(base_url: str, metrics: Metrics) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.get(f"{base_url}/api/v1/namespaces/default/pods") as resp:
                assert resp.status == 200
        async with session.get(f"{base_url}/api/v1/namespaces/default/pods/web") as resp:
            assert resp.status == 404
        async with session.patch(f"{base_url}/apis/apps/v1/namespaces/default/deployments/d/scale") as resp:
            assert resp.status == 200
        async with session.delete(f"{base_url}/apis/example.com/v1/widgets/w") as resp:
            assert resp.status == 500  # no error middleware in this app; the code on the error is counted
        async with session.get(f"{base_url}/healthz") as resp:
            assert resp.status == 200
        for path in ("/random/a", "/random/b"):
            async with session.get(base_url + path) as resp:
                assert resp.status == 404
        samples = await scrape(session, base_url)

    def total(**labels: str) -> float:
        keys = ("verb", "group", "version", "resource", "subresource", "scope", "component", "code")
        rendered = ",".join(f'{k}="{labels.get(k, "apiserver" if k == "component" else "")}"' for k in keys)
        return samples.get(f"apiserver_request_total{{{rendered}}}", 0)

    assert total(verb="LIST", version="v1", resource="pods", scope="namespace", code="200") == 3
    assert total(verb="GET", version="v1", resource="pods", scope="resource", code="404") == 1
    assert total(verb="PATCH", group="apps", version="v1", resource="deployments", subresource="scale",
                 scope="resource", code="200") == 1
    assert total(verb="DELETE", resource="widgets", scope="resource", code="404") == 1
    assert total(verb="GET", subresource="/healthz", code="200") == 1
    assert total(verb="GET", subresource="other", code="404") == 2  # random paths share one series

    lst = ('verb="LIST",group="",version="v1",resource="pods",subresource="",scope="namespace",'
           'component="apiserver"')
    assert samples[f'apiserver_request_duration_seconds_bucket{{{lst},le="+Inf"}}'] == 3
    assert samples[f"apiserver_request_duration_seconds_count{{{lst}}}"] == 3
    assert samples[f'apiserver_request_duration_seconds_bucket{{{lst},le="60"}}'] == 3
    assert samples["process_resident_memory_bytes"] > 1_000_000
    assert samples["process_start_time_seconds"] == pytest.approx(metrics.start_time, abs=0.01)


async def test_storage_histogram_and_watch_gauges(base_url: str, metrics: Metrics) -> None:
    metrics.observe_storage("get", 0.0007)
    metrics.observe_storage("get", 0.003)
    metrics.observe_storage("txn", 2.5)
    metrics.watch_opened("Pod", "", "pods")
    metrics.watch_opened("Pod", "", "pods")
    metrics.watch_opened("Deployment", "apps", "deployments")
    metrics.watch_closed("Pod", "", "pods")
    async with aiohttp.ClientSession() as session:
        samples = await scrape(session, base_url)
    bucket = "apiserver_storage_operation_duration_seconds_bucket"
    assert samples[f'{bucket}{{operation="get",le="0.0005"}}'] == 0
    assert samples[f'{bucket}{{operation="get",le="0.001"}}'] == 1
    assert samples[f'{bucket}{{operation="get",le="0.005"}}'] == 2
    assert samples[f'{bucket}{{operation="txn",le="2"}}'] == 0
    assert samples[f'{bucket}{{operation="txn",le="3"}}'] == 1
    assert samples['apiserver_storage_operation_duration_seconds_sum{operation="txn"}'] == 2.5
    assert samples['apiserver_longrunning_requests{verb="WATCH",group="",resource="pods"}'] == 1
    assert samples['apiserver_longrunning_requests{verb="WATCH",group="apps",resource="deployments"}'] == 1
    assert samples['apiserver_registered_watchers{group="",kind="Pod"}'] == 1
    assert metrics.open_watches == 2


async def test_label_values_are_escaped(base_url: str, metrics: Metrics) -> None:
    metrics.observe_storage('we"ird\\op\n', 0.01)
    async with aiohttp.ClientSession() as session:
        samples = await scrape(session, base_url)
    assert samples['apiserver_storage_operation_duration_seconds_count{operation="we\\"ird\\\\op\\n"}'] == 1
