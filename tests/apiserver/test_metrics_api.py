"""metrics.k8s.io/v1beta1 served by the API server from kubelet summaries: the stand-in kubelets
(``_stats_kubelet.py``) report cumulative CPU on their own clocks, so every number is exact."""

from __future__ import annotations

import socket

import pytest

from hyperkube.apiserver import metrics_api
from tests.apiserver._server import TABLE, pod
from tests.apiserver._stats_kubelet import stats_kubelet

BASE = "/apis/metrics.k8s.io/v1beta1"


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(metrics_api, "FIRST_WINDOW", 0.01)
    monkeypatch.setattr(metrics_api, "RESOLUTION", 0.0)  # every request scrapes, unless a test says otherwise


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_discovery_lists_the_group_legacy_and_aggregated(client) -> None:
    status, groups = await client.get("/apis")
    group = next(g for g in groups["groups"] if g["name"] == "metrics.k8s.io")
    assert group["preferredVersion"] == {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}
    status, listed = await client.get(BASE)
    assert status == 200
    assert listed["resources"] == [
        {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics", "verbs": ["get", "list"]},
        {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]}]
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    status, aggregated = await client.get("/apis", headers={"Accept": accept})
    item = next(i for i in aggregated["items"] if i["metadata"]["name"] == "metrics.k8s.io")
    resources = {r["resource"]: r for r in item["versions"][0]["resources"]}
    assert resources["pods"]["scope"] == "Namespaced"
    assert resources["nodes"]["responseKind"] == {"group": "metrics.k8s.io", "version": "v1beta1",
                                                  "kind": "NodeMetrics"}
    status, _ = await client.get("/openapi/v3")
    assert status == 200


async def test_node_and_pod_metrics_have_metrics_servers_shape(client) -> None:
    async with stats_kubelet("n1") as kubelet:
        kubelet.pods = {("default", "web"): {"c": (250, 10 * 1024 * 1024), "side": (1, 4096 * 3)}}
        assert (await client.post("/api/v1/nodes", kubelet.node_object(zone="a")))[0] == 201
        assert (await client.post("/api/v1/namespaces/default/pods", pod("web", {"app": "web"})))[0] == 201

        status, nodes = await client.get(f"{BASE}/nodes")
        assert status == 200
        assert nodes["kind"] == "NodeMetricsList" and nodes["apiVersion"] == "metrics.k8s.io/v1beta1"
        [item] = nodes["items"]
        assert set(item) == {"metadata", "timestamp", "window", "usage"}
        assert item["metadata"]["name"] == "n1" and item["metadata"]["labels"] == {"zone": "a"}
        assert item["window"] == "2s" and item["timestamp"].endswith("Z")
        assert item["usage"] == {"cpu": "1500m", "memory": "2Gi"}

        status, one = await client.get(f"{BASE}/nodes/n1")
        assert (one["kind"], one["apiVersion"], one["usage"]["cpu"]) == ("NodeMetrics", "metrics.k8s.io/v1beta1",
                                                                        "1500m")

        status, pods = await client.get(f"{BASE}/namespaces/default/pods")
        assert pods["kind"] == "PodMetricsList"
        [item] = pods["items"]
        assert item["metadata"]["name"] == "web" and item["metadata"]["namespace"] == "default"
        assert item["metadata"]["labels"] == {"app": "web"}
        assert item["window"] == "2s"
        assert item["containers"] == [{"name": "c", "usage": {"cpu": "250m", "memory": "10Mi"}},
                                      {"name": "side", "usage": {"cpu": "1m", "memory": "12Ki"}}]
        status, one = await client.get(f"{BASE}/namespaces/default/pods/web")
        assert status == 200 and one["kind"] == "PodMetrics" and one["containers"] == item["containers"]
        status, everywhere = await client.get(f"{BASE}/pods")
        assert [i["metadata"]["name"] for i in everywhere["items"]] == ["web"]

        status, table = await client.get(f"{BASE}/namespaces/default/pods", headers={"Accept": TABLE})
        assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "CPU", "Memory", "Window"]
        assert table["rows"][0]["cells"] == ["web", "251m", "10252Ki", "2s"]  # summed over the containers
        status, table = await client.get(f"{BASE}/nodes/n1", headers={"Accept": TABLE})
        assert table["rows"][0]["cells"] == ["n1", "1500m", "2Gi", "2s"]

        kubelet.node = (333, 1000 * 1024 + 512)  # not a whole Ki: plain bytes, as Kubernetes writes it
        status, one = await client.get(f"{BASE}/nodes/n1")
        assert one["usage"] == {"cpu": "333m", "memory": "1024512"}


async def test_selectors_filter_the_pods_and_nodes(client) -> None:
    async with stats_kubelet("n1") as kubelet:
        kubelet.pods = {("default", name): {"c": (100, 4096)} for name in ("a", "b")}
        await client.post("/api/v1/nodes", kubelet.node_object(role="big"))
        await client.post("/api/v1/namespaces/default/pods", pod("a", {"app": "x"}))
        await client.post("/api/v1/namespaces/default/pods", pod("b", {"app": "y"}))

        async def names(path: str) -> list[str]:
            status, body = await client.get(path)
            assert status == 200, body
            return sorted(i["metadata"]["name"] for i in body["items"])

        assert await names(f"{BASE}/namespaces/default/pods") == ["a", "b"]
        assert await names(f"{BASE}/namespaces/default/pods?labelSelector=app%3Dy") == ["b"]
        assert await names(f"{BASE}/pods?fieldSelector=metadata.name%3Da") == ["a"]
        assert await names(f"{BASE}/namespaces/other/pods") == []
        assert await names(f"{BASE}/nodes?labelSelector=role%3Dbig") == ["n1"]
        assert await names(f"{BASE}/nodes?labelSelector=role%3Dsmall") == []
        assert await names(f"{BASE}/nodes?fieldSelector=metadata.name%3Dn1") == ["n1"]


async def test_missing_metrics_are_not_found_and_writes_are_refused(client) -> None:
    async with stats_kubelet("n1") as kubelet:
        await client.post("/api/v1/nodes", kubelet.node_object())
        await client.post("/api/v1/namespaces/default/pods", pod("quiet"))  # the kubelet does not report it
        status, body = await client.get(f"{BASE}/namespaces/default/pods/quiet")
        assert status == 404
        assert body["message"] == 'podmetrics.metrics.k8s.io "default/quiet" not found'
        status, body = await client.get(f"{BASE}/nodes/nowhere")
        assert status == 404 and body["message"] == 'nodemetrics.metrics.k8s.io "nowhere" not found'
        assert (await client.post(f"{BASE}/namespaces/default/pods", {"metadata": {"name": "x"}}))[0] == 405
        assert (await client.delete(f"{BASE}/nodes/n1"))[0] == 405
        assert (await client.get(f"{BASE}/pods?watch=true"))[0] == 405
        assert (await client.get(f"{BASE}/nodes/n1/status"))[0] == 404


async def test_a_node_whose_kubelet_does_not_answer_is_left_out(client) -> None:
    async with stats_kubelet("up") as kubelet:
        await client.post("/api/v1/nodes", kubelet.node_object())
        down = kubelet.node_object(port=closed_port())
        down["metadata"]["name"] = "down"
        await client.post("/api/v1/nodes", down)
        status, body = await client.get(f"{BASE}/nodes")
        assert status == 200 and [i["metadata"]["name"] for i in body["items"]] == ["up"]
        status, body = await client.get(f"{BASE}/nodes/down")
        assert status == 404


async def test_a_batch_is_reused_within_the_resolution(client, monkeypatch) -> None:
    monkeypatch.setattr(metrics_api, "RESOLUTION", 60.0)
    async with stats_kubelet("n1") as kubelet:
        await client.post("/api/v1/nodes", kubelet.node_object())
        first = (await client.get(f"{BASE}/nodes"))[1]["items"]
        scraped = kubelet.requests
        assert scraped == 2  # the first contact takes two samples for a rate
        for _ in range(3):
            assert (await client.get(f"{BASE}/nodes"))[1]["items"][0]["usage"] == first[0]["usage"]
        assert kubelet.requests == scraped


def test_quantities_and_windows_are_written_as_kubernetes_does() -> None:
    assert metrics_api.cpu_quantity(329087452) == "329087452n"
    assert metrics_api.cpu_quantity(2_000_000_000) == "2"
    assert metrics_api.cpu_quantity(0) == "0"
    assert metrics_api.memory_quantity(2748180 * 1024) == "2748180Ki"
    assert metrics_api.go_duration(20.064) == "20.064s"
    assert metrics_api.go_duration(75.5) == "1m15.5s"
    assert metrics_api.go_duration(15) == "15s"


def test_the_kubelets_own_rate_spans_at_least_a_second() -> None:
    """``usageNanoCores`` of /stats/summary: readers polling faster than MIN_WINDOW see the last
    rate instead of one over a few milliseconds; sample times carry microseconds."""
    from hyperkube.kubelet.stats import StatsCollector

    collector = StatsCollector()
    first = collector._cpu("c", 0, 100.0)
    assert "usageNanoCores" not in first and first["time"] == "1970-01-01T00:01:40.000000Z"
    assert "usageNanoCores" not in collector._cpu("c", 400_000_000, 100.5)
    assert collector._cpu("c", 500_000_000, 101.0)["usageNanoCores"] == 500_000_000  # half a core
    assert collector._cpu("c", 900_000_000, 101.2)["usageNanoCores"] == 500_000_000  # kept: 0.2 s is too short
    assert collector._cpu("c", 100, 101.5).get("usageNanoCores") is None  # restarted counter: a new baseline
