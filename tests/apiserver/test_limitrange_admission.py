"""LimitRanger at the API: defaults land in the created pod, bounds refuse with Kubernetes' words."""

from __future__ import annotations

from tests.apiserver._admission import PODS, admitted  # noqa: F401 - fixture
from tests.apiserver._server import Client, pod

RANGES = "/api/v1/namespaces/default/limitranges"


def limit_range(*items: dict) -> dict:
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"}, "spec": {"limits": list(items)}}


async def test_defaults_appear_in_the_created_pod(admitted: Client) -> None:  # noqa: F811
    await admitted.post(RANGES, limit_range({"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                                             "defaultRequest": {"cpu": "100m"}}))
    status, created = await admitted.post(PODS, pod("web"))
    assert status == 201, created
    resources = created["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "500m", "memory": "256Mi"},
                         "requests": {"cpu": "100m", "memory": "256Mi"}}
    assert created["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == \
        "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c"
    assert created["status"]["qosClass"] == "Burstable"


async def test_own_limits_are_kept_and_become_requests(admitted: Client) -> None:  # noqa: F811
    await admitted.post(RANGES, limit_range({"type": "Container", "default": {"cpu": "500m"},
                                             "defaultRequest": {"cpu": "100m"}}))
    sized = pod("sized")
    sized["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "300m"}}
    status, created = await admitted.post(PODS, sized)
    assert status == 201
    assert created["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "300m"}, "requests": {"cpu": "300m"}}


async def test_max_min_and_ratio_are_enforced(admitted: Client) -> None:  # noqa: F811
    await admitted.post(RANGES, limit_range({"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"},
                                             "maxLimitRequestRatio": {"cpu": "2"}}))
    big = pod("big")
    big["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "2", "memory": "128Mi"},
                                                 "requests": {"cpu": "2", "memory": "128Mi"}}
    status, body = await admitted.post(PODS, big)
    assert status == 403
    assert body["message"] == 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
    spiky = pod("spiky")
    spiky["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "32Mi"},
                                                   "requests": {"cpu": "250m", "memory": "32Mi"}}
    status, body = await admitted.post(PODS, spiky)
    assert status == 403
    assert body["message"] == (
        'pods "spiky" is forbidden: [minimum memory usage per Container is 64Mi, but request is 32Mi, '
        "cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000]")
    fine = pod("fine")
    fine["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "128Mi"},
                                                  "requests": {"cpu": "500m", "memory": "64Mi"}}
    assert (await admitted.post(PODS, fine))[0] == 201


async def test_pod_totals_and_claims(admitted: Client) -> None:  # noqa: F811
    await admitted.post(RANGES, limit_range({"type": "Pod", "max": {"memory": "1Gi"}},
                                            {"type": "PersistentVolumeClaim", "max": {"storage": "2Gi"}}))
    two = pod("two")
    two["spec"]["containers"] = [{"name": n, "image": "nginx", "resources": {"limits": {"memory": "600Mi"}}}
                                 for n in ("a", "b")]
    status, body = await admitted.post(PODS, two)
    assert status == 403
    assert body["message"] == 'pods "two" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1200Mi'
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}}
    status, body = await admitted.post("/api/v1/namespaces/default/persistentvolumeclaims", claim)
    assert status == 403
    assert body["message"] == ('persistentvolumeclaims "data" is forbidden: maximum storage usage per '
                               "PersistentVolumeClaim is 2Gi, but limit is 5Gi")
