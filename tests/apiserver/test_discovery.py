"""Discovery against a real aiohttp server: legacy and aggregated shapes, CRD-style changes at
run time, 404s, /version, and the real kubectl (api-resources, version) reading it."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from hyperkube.api.registry import Registry, Resource
from hyperkube.apiserver import discovery

AGGDISC = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


def small_registry() -> Registry:
    registry = Registry()
    registry.add(Resource("", "v1", "Pod", "pods", "pod", True, short_names=("po",), categories=("all",),
                          subresources={"status": "Pod", "log": "Pod", "eviction": "Eviction"}))
    registry.add(Resource("", "v1", "Namespace", "namespaces", "namespace", False, short_names=("ns",)))
    registry.add(Resource("apps", "v1", "Deployment", "deployments", "deployment", True, short_names=("deploy",),
                          categories=("all",), subresources={"status": "Deployment", "scale": "Scale"}))
    registry.add(Resource("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
                          "horizontalpodautoscaler", True, short_names=("hpa",), categories=("all",)))
    registry.add(Resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
                          "horizontalpodautoscaler", True, short_names=("hpa",), categories=("all",)))
    registry.add(Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", False))
    return registry


@pytest.fixture
def registry() -> Registry:
    return small_registry()


@pytest.fixture
async def base_url(registry: Registry) -> AsyncIterator[str]:
    app = web.Application()
    discovery.add_routes(app, registry)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def get(url: str, accept: str = "application/json, */*") -> tuple[int, str, dict]:
    async with aiohttp.ClientSession() as session, session.get(url, headers={"Accept": accept}) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.json(content_type=None)


async def test_api_versions_echo_the_address_the_client_used(base_url: str) -> None:
    status, content_type, body = await get(f"{base_url}/api?timeout=32s")
    assert status == 200 and content_type.startswith("application/json")
    assert body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    assert body["serverAddressByClientCIDRs"] == [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": base_url.removeprefix("http://")}]


async def test_group_list_prefers_ga_and_newest_versions(base_url: str) -> None:
    status, _, body = await get(f"{base_url}/apis?timeout=32s")
    assert status == 200 and body["kind"] == "APIGroupList"
    groups = {g["name"]: g for g in body["groups"]}
    assert set(groups) == {"apps", "autoscaling", "rbac.authorization.k8s.io"}
    assert groups["autoscaling"]["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    assert [v["version"] for v in groups["autoscaling"]["versions"]] == ["v2", "v1"]
    status, _, group = await get(f"{base_url}/apis/apps")
    assert status == 200 and group["kind"] == "APIGroup" and group["preferredVersion"]["version"] == "v1"


async def test_resource_lists_include_subresources(base_url: str) -> None:
    status, _, body = await get(f"{base_url}/api/v1?timeout=32s")
    assert status == 200 and body["kind"] == "APIResourceList" and body["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["pods"] == {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
                               "verbs": ["create", "delete", "deletecollection", "get", "list", "patch",
                                         "update", "watch"],
                               "shortNames": ["po"], "categories": ["all"]}
    assert by_name["pods/log"] == {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                                   "verbs": ["get"]}
    assert by_name["pods/eviction"]["group"] == "policy" and by_name["pods/eviction"]["kind"] == "Eviction"
    assert by_name["namespaces"]["namespaced"] is False and "categories" not in by_name["namespaces"]

    status, _, apps = await get(f"{base_url}/apis/apps/v1")
    scale = {r["name"]: r for r in apps["resources"]}["deployments/scale"]
    assert scale == {"name": "deployments/scale", "singularName": "", "namespaced": True, "group": "autoscaling",
                     "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}


async def test_unknown_group_or_version_is_a_404_status(base_url: str) -> None:
    for path in ("/apis/nope.example.com/v1", "/apis/apps/v9", "/api/v2", "/apis/nope.example.com"):
        status, _, body = await get(base_url + path)
        assert status == 404, path
        assert body["kind"] == "Status" and body["reason"] == "NotFound" and body["code"] == 404


async def test_aggregated_discovery_when_asked(base_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/apis?timeout=32s", headers={"Accept": AGGDISC}) as resp:
            assert resp.headers["Content-Type"] == \
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            body = await resp.json(content_type=None)
        async with session.get(f"{base_url}/api", headers={"Accept": AGGDISC}) as resp:
            core = await resp.json(content_type=None)
    assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2"
    items = {i["metadata"]["name"]: i for i in body["items"]}
    assert [v["version"] for v in items["autoscaling"]["versions"]] == ["v2", "v1"]
    deployments = items["apps"]["versions"][0]["resources"][0]
    assert deployments["resource"] == "deployments" and deployments["scope"] == "Namespaced"
    assert deployments["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert {"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
            "verbs": ["get", "patch", "update"]} in deployments["subresources"]
    assert [i["metadata"]["name"] for i in core["items"]] == [""]
    pods = {r["resource"]: r for r in core["items"][0]["versions"][0]["resources"]}["pods"]
    assert pods["shortNames"] == ["po"] and pods["categories"] == ["all"] and pods["singularResource"] == "pod"
    # plain JSON first (kopf sends */*) keeps the legacy shape
    status, content_type, legacy = await get(f"{base_url}/apis", accept="*/*")
    assert legacy["kind"] == "APIGroupList" and "apidiscovery" not in content_type


async def test_registry_changes_show_up_at_once(base_url: str, registry: Registry) -> None:
    status, _, _ = await get(f"{base_url}/apis/example.com/v1")
    assert status == 404
    registry.add(Resource("example.com", "v1", "Widget", "widgets", "widget", True, short_names=("wd",),
                          subresources={"status": "Widget"}))
    status, _, body = await get(f"{base_url}/apis/example.com/v1")
    assert status == 200 and [r["name"] for r in body["resources"]] == ["widgets", "widgets/status"]
    _, _, groups = await get(f"{base_url}/apis")
    assert "example.com" in [g["name"] for g in groups["groups"]]
    registry.remove("example.com", "v1", "widgets")
    status, _, _ = await get(f"{base_url}/apis/example.com/v1")
    assert status == 404


async def test_version_with_and_without_trailing_slash(base_url: str) -> None:
    for path in ("/version", "/version/", "/version?timeout=32s"):
        status, _, body = await get(base_url + path)
        assert status == 200
        assert body["major"] == "1" and body["minor"] == "37"
        assert body["gitVersion"].startswith("v1.37.") and body["gitVersion"].endswith("-hyperkube")
        assert body["platform"].count("/") == 1 and body["goVersion"].startswith("python")


def _kubeconfig(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: dev, cluster: {{server: "{base_url}"}}}}]
users: [{{name: dev, user: {{}}}}]
contexts: [{{name: dev, context: {{cluster: dev, user: dev, namespace: default}}}}]
current-context: dev
""")
    return path


async def _kubectl(tmp_path: Path, base_url: str, *args: str) -> tuple[int, str, str]:
    kubectl = Path(sys.executable).parent / "kubectl"
    env = {**os.environ, "KUBECONFIG": str(_kubeconfig(tmp_path, base_url)),
           "KUBECACHEDIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(str(kubectl), *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_real_kubectl_api_resources_and_version(base_url: str, tmp_path: Path) -> None:
    rc, out, err = await _kubectl(tmp_path, base_url, "api-resources")
    assert rc == 0, err
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert lines["pods"] == ["pods", "po", "v1", "true", "Pod"]
    assert lines["deployments"] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    assert lines["horizontalpodautoscalers"][2] == "autoscaling/v2"
    assert lines["namespaces"] == ["namespaces", "ns", "v1", "false", "Namespace"]
    assert lines["clusterroles"] == ["clusterroles", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"]

    rc, out, err = await _kubectl(tmp_path, base_url, "api-resources", "--api-group=apps", "-o", "wide")
    assert rc == 0, err
    assert "deployments" in out and "pods" not in out.split()

    rc, out, err = await _kubectl(tmp_path, base_url, "version")
    assert rc == 0, err
    assert "Client Version: v1.37" in out and "Server Version: v1.37.0-hyperkube" in out


async def test_official_python_client_reads_discovery(base_url: str) -> None:
    from kubernetes import client

    def read() -> tuple:
        configuration = client.Configuration()
        configuration.host = base_url
        with client.ApiClient(configuration) as api:
            return (client.VersionApi(api).get_code(), client.CoreApi(api).get_api_versions(),
                    client.ApisApi(api).get_api_versions(), client.CoreV1Api(api).get_api_resources(),
                    client.AppsV1Api(api).get_api_resources())

    version, core, groups, core_resources, apps_resources = await asyncio.to_thread(read)
    assert version.git_version == "v1.37.0-hyperkube" and version.minor == "37"
    assert core.versions == ["v1"]
    assert "apps" in [g.name for g in groups.groups]
    assert "pods/log" in [r.name for r in core_resources.resources]
    scale = [r for r in apps_resources.resources if r.name == "deployments/scale"][0]
    assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")


async def test_real_kubectl_reads_every_built_in_kind(tmp_path: Path) -> None:
    from hyperkube.api.kinds import builtin_registry

    registry = builtin_registry()
    app = web.Application()
    discovery.add_routes(app, registry)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        rc, out, err = await _kubectl(tmp_path, base_url, "api-resources", "-o", "name")
        assert rc == 0, err
        names = set(out.split())
        assert {r.qualified for r in registry} <= names
        rc, out, err = await _kubectl(tmp_path, base_url, "api-resources", "--categories=all", "-o", "name")
        assert rc == 0, err
        assert {"pods", "services", "deployments.apps", "jobs.batch"} <= set(out.split())
    finally:
        await runner.cleanup()
