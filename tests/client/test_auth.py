"""Exec credential plugins, as kubectl runs them for managed clusters."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from hyperkube.client import Client, load_kubeconfig
from tests.client.conftest import status

PLUGIN = '''#!{python}
import json, os, pathlib, sys
runs = pathlib.Path(sys.argv[1])
count = int(runs.read_text()) + 1 if runs.exists() else 1
runs.write_text(str(count))
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
assert info["kind"] == "ExecCredential" and os.environ["CLUSTER"] == "dev"
print(json.dumps({{"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                  "status": {{"token": f"tok-{{count}}"}}}}))
'''


@pytest.fixture
def kubeconfig(tmp_path: Path):
    def make(server: str) -> Path:
        plugin = tmp_path / "bin" / "get-token"
        plugin.parent.mkdir()
        plugin.write_text(PLUGIN.format(python=sys.executable))
        plugin.chmod(plugin.stat().st_mode | stat.S_IEXEC)
        path = tmp_path / "config"
        path.write_text(yaml.safe_dump({
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1", "command": "./bin/get-token",
                "args": [str(tmp_path / "runs")], "env": [{"name": "CLUSTER", "value": "dev"}]}}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}], "current-context": "x"}))
        return path
    return make


async def test_exec_plugin_token_is_cached_and_refreshed_on_401(serve, kubeconfig, tmp_path):
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        seen.append(auth)
        if auth == "Bearer tok-1" and len(seen) >= 3:  # the first token is revoked after two uses
            return status(401, "Unauthorized", "Unauthorized")
        return web.json_response({"kind": "Namespace", "metadata": {"name": "default"}})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/default", handler)
    base = await serve(app)
    await base.transport.start()
    config = load_kubeconfig(kubeconfig(base.transport.base_url), env={})
    assert config.exec_plugin["command"] == str(tmp_path / "bin" / "get-token")
    async with Client(config) as client:
        await client.get("v1/namespaces", "default")
        await client.get("v1/namespaces", "default")  # the token is reused: the plugin ran once
        assert (tmp_path / "runs").read_text() == "1"
        await client.get("v1/namespaces", "default")  # 401 for tok-1: run the plugin again, retry once
    assert seen == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    assert (tmp_path / "runs").read_text() == "2"
