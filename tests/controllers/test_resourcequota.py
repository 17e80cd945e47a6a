"""The ResourceQuota controller against a real API server: status.used follows the namespace."""

from __future__ import annotations

from typing import Any

from hyperkube.client import Client
from tests.controllers.conftest import eventually

QUOTAS = "v1/resourcequotas"
PODS = "v1/pods"


def pod(name: str, cpu: str | None = None, memory: str | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "nginx"}
    if cpu or memory:
        limits = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
        container["resources"] = {"requests": dict(limits), "limits": limits}
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


async def used_where(kube: Client, name: str, expected: dict[str, str]) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        quota = await kube.get(QUOTAS, name, namespace="default")
        return quota if (quota.get("status") or {}).get("used") == expected else None

    return await eventually(probe)


async def test_used_counts_pods_requests_limits_and_objects(kube: Client, controllers) -> None:
    await controllers("resourcequota")
    hard = {"pods": "10", "requests.cpu": "4", "requests.memory": "1Gi", "limits.cpu": "4",
            "limits.memory": "2Gi", "configmaps": "10", "services": "5", "count/deployments.apps": "3",
            "secrets": "9"}
    await kube.create(QUOTAS, {"metadata": {"name": "q"}, "spec": {"hard": hard}}, namespace="default")
    quota = await used_where(kube, "q", {"pods": "0", "requests.cpu": "0", "requests.memory": "0",
                                         "limits.cpu": "0", "limits.memory": "0", "configmaps": "0",
                                         "services": "1", "count/deployments.apps": "0", "secrets": "0"})
    assert quota["status"]["hard"] == hard
    await kube.create(PODS, pod("a", "500m", "128Mi"), namespace="default")
    await kube.create(PODS, pod("b", "250m", "64Mi"), namespace="default")
    await kube.create(PODS, pod("c"), namespace="default")
    await kube.create("v1/configmaps", {"metadata": {"name": "cm"}}, namespace="default")
    await kube.create("apps/v1/deployments", {"metadata": {"name": "d"}, "spec": {
        "replicas": 0, "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}},
        namespace="default")
    await used_where(kube, "q", {"pods": "3", "requests.cpu": "750m", "requests.memory": "192Mi",
                                 "limits.cpu": "750m", "limits.memory": "192Mi", "configmaps": "1",
                                 "services": "1", "count/deployments.apps": "1", "secrets": "0"})
    # a finished pod no longer counts; a deleted one neither
    await kube.patch_status(PODS, "a", {"status": {"phase": "Succeeded"}}, namespace="default")
    await kube.delete(PODS, "c", namespace="default")
    await used_where(kube, "q", {"pods": "1", "requests.cpu": "250m", "requests.memory": "64Mi",
                                 "limits.cpu": "250m", "limits.memory": "64Mi", "configmaps": "1",
                                 "services": "1", "count/deployments.apps": "1", "secrets": "0"})


async def test_scopes_and_init_containers(kube: Client, controllers) -> None:
    await controllers("resourcequota")
    await kube.create(QUOTAS, {"metadata": {"name": "best-effort"}, "spec": {"hard": {"pods": "5"},
                                                                             "scopes": ["BestEffort"]}},
                      namespace="default")
    await kube.create(QUOTAS, {"metadata": {"name": "cpu"}, "spec": {"hard": {"cpu": "8"},
                                                                     "scopes": ["NotBestEffort"]}},
                      namespace="default")
    heavy_init = pod("init", "100m")
    heavy_init["spec"]["initContainers"] = [{"name": "i", "image": "x", "resources": {
        "requests": {"cpu": "2"}, "limits": {"cpu": "2"}}}]
    await kube.create(PODS, heavy_init, namespace="default")
    await kube.create(PODS, pod("free"), namespace="default")
    await kube.create(PODS, pod("free2"), namespace="default")
    await used_where(kube, "best-effort", {"pods": "2"})
    await used_where(kube, "cpu", {"cpu": "2"})
