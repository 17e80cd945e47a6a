"""ResourceQuota admission: the 4th pod under pods=3 is refused with Kubernetes' message, and
concurrent creates never overcommit."""

from __future__ import annotations

import asyncio

from tests.apiserver._admission import PODS, admitted, serving  # noqa: F401 - fixture
from tests.apiserver._server import Client, pod

QUOTAS = "/api/v1/namespaces/default/resourcequotas"


def quota(name: str, hard: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": {"hard": hard}}


async def test_quota_blocks_the_fourth_pod(admitted: Client) -> None:  # noqa: F811
    status, _ = await admitted.post(QUOTAS, quota("q", {"pods": "3"}))
    assert status == 201
    for i in range(3):
        status, body = await admitted.post(PODS, pod(f"web-{i}"))
        assert status == 201, body
    status, body = await admitted.post(PODS, pod("web-3"))
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert body["message"] == ('pods "web-3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=3, '
                               "limited: pods=3")
    status, listed = await admitted.get(PODS)
    assert sorted(p["metadata"]["name"] for p in listed["items"]) == ["web-0", "web-1", "web-2"]
    status, body = await admitted.post(PODS, pod("web-0"))  # exists: checked first, as in Kubernetes
    assert status == 403
    status, stored = await admitted.get(QUOTAS + "/q")
    assert stored["status"]["used"] == {"pods": "3"}
    assert stored["status"]["hard"] == {"pods": "3"}


async def test_object_count_quota(admitted: Client) -> None:  # noqa: F811
    await admitted.post(QUOTAS, quota("q", {"count/configmaps": "1"}))
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    assert (await admitted.post("/api/v1/namespaces/default/configmaps", cm))[0] == 201
    status, body = await admitted.post("/api/v1/namespaces/default/configmaps", {**cm, "metadata": {"name": "b"}})
    assert status == 403
    assert "exceeded quota: q, requested: count/configmaps=1, used: count/configmaps=1, " \
           "limited: count/configmaps=1" in body["message"]


async def test_twenty_concurrent_creates_against_five_give_five(admitted: Client) -> None:  # noqa: F811
    await admitted.post(QUOTAS, quota("q", {"pods": "5"}))
    results = await asyncio.gather(*(admitted.post(PODS, pod(f"p-{i}")) for i in range(20)))
    codes = sorted(status for status, _ in results)
    assert codes.count(201) == 5
    assert codes.count(403) == 15
    _, listed = await admitted.get(PODS)
    assert len(listed["items"]) == 5


async def test_compute_quota_needs_requests_and_counts_them(admitted: Client) -> None:  # noqa: F811
    await admitted.post(QUOTAS, quota("compute", {"requests.cpu": "1", "limits.memory": "1Gi"}))
    status, body = await admitted.post(PODS, pod("bare"))
    assert status == 403
    assert body["message"] == ('pods "bare" is forbidden: failed quota: compute: must specify '
                               "limits.memory for: c; requests.cpu for: c")
    sized = pod("sized")
    sized["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "600m"}, "limits": {"memory": "512Mi"}}
    assert (await admitted.post(PODS, sized))[0] == 201
    sized["metadata"]["name"] = "again"
    status, body = await admitted.post(PODS, sized)
    assert status == 403
    assert "exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, " \
           "limited: requests.cpu=1" in body["message"]


async def test_dry_run_is_checked_but_not_charged(admitted: Client) -> None:  # noqa: F811
    await admitted.post(QUOTAS, quota("q", {"pods": "1"}))
    status, _ = await admitted.post(PODS + "?dryRun=All", pod("dry"))
    assert status == 201
    _, stored = await admitted.get(QUOTAS + "/q")
    assert (stored.get("status") or {}).get("used", {}).get("pods") in (None, "0")
    assert (await admitted.post(PODS, pod("real")))[0] == 201
    _, stored = await admitted.get(QUOTAS + "/q")
    assert stored["status"]["used"] == {"pods": "1"}
    assert (await admitted.post(PODS + "?dryRun=All", pod("dry")))[0] == 403


async def test_in_process_default_has_no_quota(tmp_path) -> None:
    async with serving(tmp_path) as (_, client):  # enable_admission_plugins None: the in-process set
        await client.post(QUOTAS, quota("q", {"pods": "1"}))
        for i in range(2):
            assert (await client.post(PODS, pod(f"p{i}")))[0] == 201


async def test_two_api_servers_on_one_store_do_not_overcommit(tmp_path) -> None:
    """Each server's lock serialises only its own creates: the compare-and-swap on the quota
    is what keeps two servers from both taking the last slot."""
    import aiohttp

    from hyperkube.apiserver import admission
    from hyperkube.apiserver.app import APIServer, APIServerConfig

    plugins = list(admission.DEFAULT_PLUGINS)
    async with serving(tmp_path / "one", enable_admission_plugins=plugins) as (first, one):
        second = APIServer(APIServerConfig(port=0, data_dir=str(tmp_path / "two"), enable_admission_plugins=plugins),
                           store=first.store)
        await second.start()
        try:
            async with aiohttp.ClientSession() as session:
                two = Client(session, second.url)
                await one.post(QUOTAS, quota("q", {"pods": "6"}))
                results = await asyncio.gather(*((one if i % 2 else two).post(PODS, pod(f"p-{i}"))
                                                 for i in range(24)))
        finally:
            await second.stop()
        assert sorted(status for status, _ in results).count(201) == 6
        _, listed = await one.get(PODS)
        assert len(listed["items"]) == 6
        _, stored = await one.get(QUOTAS + "/q")
        assert stored["status"]["used"] == {"pods": "6"}


async def test_creating_an_existing_object_is_not_charged(admitted: Client) -> None:  # noqa: F811
    await admitted.post(QUOTAS, quota("q", {"pods": "5"}))
    assert (await admitted.post(PODS, pod("once")))[0] == 201
    assert (await admitted.post(PODS, pod("once")))[0] == 409
    _, stored = await admitted.get(QUOTAS + "/q")
    assert stored["status"]["used"] == {"pods": "1"}


async def test_an_update_is_charged_for_what_it_adds(admitted: Client) -> None:  # noqa: F811
    services = "/api/v1/namespaces/default/services"
    await admitted.post(QUOTAS, quota("q", {"services.loadbalancers": "0", "services": "5"}))
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}}
    status, created = await admitted.post(services, service)
    assert status == 201
    created["spec"]["type"] = "LoadBalancer"
    status, body = await admitted.put(services + "/web", created)
    assert status == 403
    assert body["message"] == ('services "web" is forbidden: exceeded quota: q, requested: services.loadbalancers=1, '
                               "used: services.loadbalancers=0, limited: services.loadbalancers=0")
    _, stored = await admitted.get(QUOTAS + "/q")
    assert stored["status"]["used"]["services"] == "2"  # with the kubernetes Service
