"""The HPA controller against a real API server, with the deployment and replicaset
controllers; metrics.k8s.io is the API server's own, scraping a stand-in kubelet whose
summaries report the CPU use the test sets for every pod of the app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from hyperkube.apiserver import metrics_api
from hyperkube.client import Client
from tests.apiserver._stats_kubelet import stats_kubelet
from tests.controllers.conftest import FakeKubelet, eventually

HPAS = "autoscaling/v2/horizontalpodautoscalers"


@pytest.fixture(autouse=True)
def quick_metrics(monkeypatch):
    monkeypatch.setattr(metrics_api, "RESOLUTION", 0.2)
    monkeypatch.setattr(metrics_api, "FIRST_WINDOW", 0.01)


class Load:
    millicores = 0


@asynccontextmanager
async def reporting(kube: Client) -> AsyncIterator[Load]:
    """A node whose kubelet reports ``load.millicores`` of CPU for every pod of the app, as they come."""
    load = Load()
    async with stats_kubelet("metrics-node") as kubelet:
        await kube.create("v1/nodes", kubelet.node_object())

        async def follow() -> None:
            while True:
                pods = (await kube.list("v1/pods", namespace="default", label_selector="app=web"))["items"]
                kubelet.pods = {("default", p["metadata"]["name"]): {"c": (load.millicores, 10 * 1024 * 1024)}
                                for p in pods}
                await asyncio.sleep(0.1)

        task = asyncio.create_task(follow())
        try:
            yield load
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def deployment(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                         {"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "100m"}}}]}}}}


def hpa(**behavior: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 5, "behavior": behavior,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}}]}}


async def hpa_where(kube: Client, check) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        found = await kube.get(HPAS, "web", namespace="default")
        return found if check(found) else None

    return await eventually(probe, within=30)


def conditions(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (found.get("status") or {}).get("conditions") or ()}


async def test_scales_up_under_load_and_down_after_the_window(kube: Client, controllers) -> None:
    options = {"horizontal_pod_autoscaler_sync_period": 0.3}
    await controllers("deployment", "replicaset", "horizontalpodautoscaling", options=options)
    async with FakeKubelet(kube), reporting(kube) as load:
        await kube.create("apps/v1/deployments", deployment(1), namespace="default")
        load.millicores = 200  # 200 % of the request against a 50 % target
        await kube.create(HPAS, hpa(scaleDown={"stabilizationWindowSeconds": 2}), namespace="default")
        found = await hpa_where(kube, lambda h: (h.get("status") or {}).get("desiredReplicas") == 5)
        assert conditions(found)["ScalingActive"]["reason"] == "ValidMetricFound"
        # 1 -> 4 (ratio 4), then the rest of the way, capped at maxReplicas
        found = await hpa_where(kube, lambda h: conditions(h).get("ScalingLimited", {}).get("reason")
                                == "TooManyReplicas")
        assert found["status"]["lastScaleTime"]
        scaled = await kube.get("apps/v1/deployments", "web", namespace="default")
        assert scaled["spec"]["replicas"] == 5
        load.millicores = 10  # idle: 10 %
        found = await hpa_where(kube, lambda h: (h.get("status") or {}).get("desiredReplicas") == 1)
        assert found["status"]["currentMetrics"][0]["resource"]["name"] == "cpu"
        assert (await kube.get("apps/v1/deployments", "web", namespace="default"))["spec"]["replicas"] == 1


async def test_conditions_explain_missing_target_and_metrics(kube: Client, controllers) -> None:
    await controllers("horizontalpodautoscaling", options={"horizontal_pod_autoscaler_sync_period": 0.3})
    await kube.create(HPAS, hpa(), namespace="default")
    found = await hpa_where(kube, lambda h: conditions(h).get("AbleToScale", {}).get("status") == "False")
    assert conditions(found)["AbleToScale"]["reason"] == "FailedGetScale"
    await kube.create("apps/v1/deployments", deployment(1), namespace="default")
    # no pods (no replicaset controller), so no metrics: scaling is not active
    found = await hpa_where(kube, lambda h: conditions(h).get("ScalingActive", {}).get("status") == "False")
    assert conditions(found)["ScalingActive"]["reason"] == "FailedGetResourceMetric"
    assert conditions(found)["AbleToScale"]["reason"] == "SucceededGetScale"


def test_normalize_stabilizes_scale_down_and_limits_rates() -> None:
    from hyperkube.client import Client as C
    from hyperkube.client import Config, EventRecorder, InformerFactory
    from hyperkube.controllers.base import ControllerContext
    from hyperkube.controllers.hpa import HorizontalPodAutoscalerController

    client = C(Config(server="http://127.0.0.1:1"))
    ctx = ControllerContext(client, InformerFactory(client), EventRecorder(client, "t"))
    controller = HorizontalPodAutoscalerController(ctx, downscale_stabilization=300)
    spec: dict[str, Any] = {}
    # scale-up: by max(4 pods, 100 %) per period
    assert controller.normalize("a", spec, 2, 20, 1, 50) == (6, "ScaleUpLimit", controller.normalize(
        "z", spec, 2, 20, 1, 50)[2])
    # scale-down within the window keeps the highest recent recommendation
    assert controller.normalize("b", spec, 10, 10, 1, 50)[0] == 10
    assert controller.normalize("b", spec, 10, 3, 1, 50)[0] == 10
    # bounds
    assert controller.normalize("c", spec, 3, 3, 5, 50)[:2] == (5, "TooFewReplicas")
