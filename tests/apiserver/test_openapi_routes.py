"""/openapi/v3 over a real aiohttp server: root, documents, hashes and caching headers, 404s,
registry changes, and the real kubectl (explain, client-side validated create) reading it."""

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
from hyperkube.apiserver import discovery, openapi_routes


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.add(Resource("", "v1", "Pod", "pods", "pod", True, short_names=("po",), categories=("all",),
                          subresources={"status": "Pod", "log": "Pod"}))
    registry.add(Resource("apps", "v1", "Deployment", "deployments", "deployment", True,
                          subresources={"status": "Deployment", "scale": "Scale"}))
    return registry


@pytest.fixture
async def base_url(registry: Registry) -> AsyncIterator[str]:
    app = web.Application()
    discovery.add_routes(app, registry)
    openapi_routes.add_routes(app, registry)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_root_lists_every_group_version_and_documents_carry_their_hash(base_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/openapi/v3?timeout=32s") as resp:
            assert resp.status == 200
            root = await resp.json()
        assert set(root["paths"]) == {"api/v1", "apis/apps/v1"}
        url = root["paths"]["api/v1"]["serverRelativeURL"]
        assert url.startswith("/openapi/v3/api/v1?hash=")
        digest = url.partition("hash=")[2]
        async with session.get(f"{base_url}{url}&timeout=32s") as resp:
            assert resp.status == 200
            assert resp.headers["ETag"] == f'"{digest}"'
            assert "immutable" in resp.headers["Cache-Control"]
            document = await resp.json()
        pod = document["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
        assert {"group": "", "version": "v1", "kind": "Pod"} in pod["x-kubernetes-group-version-kind"]
        async with session.get(f"{base_url}/openapi/v3/api/v1") as resp:
            assert resp.status == 200 and resp.headers["Cache-Control"] == "no-cache, private"
        async with session.get(f"{base_url}/openapi/v3/api/v1", headers={"If-None-Match": f'"{digest}"'}) as resp:
            assert resp.status == 304
        async with session.get(f"{base_url}/openapi/v3/api/v1?hash=STALE", allow_redirects=False) as resp:
            assert resp.status == 301 and resp.headers["Location"] == url


async def test_unknown_paths_are_404_status_and_v2_is_an_empty_swagger(base_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/openapi/v3/apis/nope.example.com/v1", "/openapi/v3/api/v9", "/openapi/v3/garbage/x/y/z"):
            async with session.get(base_url + path) as resp:
                assert resp.status == 404, path
                body = await resp.json()
                assert body["kind"] == "Status" and body["reason"] == "NotFound"
        async with session.get(base_url + "/openapi/v2") as resp:
            body = await resp.json()
            assert resp.status == 200 and body["swagger"] == "2.0" and body["paths"] == {}


async def test_new_group_versions_appear(base_url: str, registry: Registry) -> None:
    async with aiohttp.ClientSession() as session:
        registry.add(Resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
                              "horizontalpodautoscaler", True))
        async with session.get(f"{base_url}/openapi/v3") as resp:
            root = await resp.json()
        assert "apis/autoscaling/v2" in root["paths"]
        async with session.get(base_url + root["paths"]["apis/autoscaling/v2"]["serverRelativeURL"]) as resp:
            assert resp.status == 200


async def _kubectl(tmp_path: Path, base_url: str, *args: str) -> tuple[int, str, str]:
    config = tmp_path / "kubeconfig"
    config.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: dev, cluster: {{server: "{base_url}"}}}}]
users: [{{name: dev, user: {{}}}}]
contexts: [{{name: dev, context: {{cluster: dev, user: dev, namespace: default}}}}]
current-context: dev
""")
    env = {**os.environ, "KUBECONFIG": str(config), "KUBECACHEDIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(str(Path(sys.executable).parent / "kubectl"), *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_real_kubectl_explain_and_validate(base_url: str, tmp_path: Path) -> None:
    rc, out, err = await _kubectl(tmp_path, base_url, "explain", "pods.spec.containers")
    assert rc == 0, err
    assert "KIND:       Pod" in out and "FIELD: containers <[]Container>" in out
    assert "image\t<string>" in out

    manifest = tmp_path / "pod.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
                        "spec: {containers: [{name: c, image: nginx}]}\n")
    rc, out, err = await _kubectl(tmp_path, base_url, "create", "--dry-run=client", "-f", str(manifest), "-o", "name")
    assert rc == 0, err
    assert out.strip() == "pod/web"
