"""Static pods from a manifest directory and a URL, with mirror pods in the API."""

from __future__ import annotations

import json

from aiohttp import web

from tests.kubelet._harness import PY, get_pod, phase, wait_for
from tests.kubelet.test_process_pods import _alive, _gone, _read

MIRROR = "kubernetes.io/config.mirror"


def manifest(name: str, code: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"tier": "static"}},
                       "spec": {"containers": [{"name": "main", "image": "python", "command": [PY, "-c", code]}],
                                "terminationGracePeriodSeconds": 2}})


async def test_manifest_directory_runs_a_static_pod_with_a_mirror(client, kubelet_factory, tmp_path):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    marker = tmp_path / "pid"
    (manifests / "broken.yaml").write_text("kind: Pod\nmetadata: [not, a, map")
    (manifests / "web.json").write_text(
        manifest("web", f"import os, time; open({str(marker)!r}, 'a').write(str(os.getpid()) + ' '); time.sleep(600)"))
    await kubelet_factory(manifest_path=str(manifests), file_check_frequency=20)

    async def running_mirror():
        mirror = await get_pod(client, "web-node-1")
        return mirror if phase(mirror) == "Running" else None

    mirror = await wait_for(running_mirror)
    meta = mirror["metadata"]
    assert meta["annotations"][MIRROR] == meta["annotations"]["kubernetes.io/config.hash"]
    assert meta["annotations"]["kubernetes.io/config.source"] == "file"
    assert meta["labels"] == {"tier": "static"} and mirror["spec"]["nodeName"] == "node-1"
    assert meta["ownerReferences"][0]["kind"] == "Node"
    pid = (await wait_for(lambda: _read(marker))).split()[0]

    # deleting the mirror pod recreates it; the static pod itself keeps running
    await client.delete("v1/pods", "web-node-1", namespace="default")

    async def recreated():
        again = await get_pod(client, "web-node-1")
        return again if again["metadata"]["uid"] != meta["uid"] and not again["metadata"].get(
            "deletionTimestamp") else None

    await wait_for(recreated)
    assert marker.read_text().split() == [pid] and _alive(int(pid))

    # removing the file stops the pod and removes its mirror
    (manifests / "web.json").unlink()
    await wait_for(lambda: _gone(client, "web-node-1"))
    await wait_for(lambda: _dead(int(pid)))


async def _dead(pid):
    return not _alive(pid)


async def test_manifest_url_is_polled(client, kubelet_factory, tmp_path, unused_tcp_port):
    body = {"text": manifest("fromurl", "import time; time.sleep(600)")}

    async def serve(request):
        return web.Response(text=body["text"])

    app = web.Application()
    app.router.add_get("/pods", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", unused_tcp_port)
    await site.start()
    try:
        await kubelet_factory(manifest_url=f"http://127.0.0.1:{unused_tcp_port}/pods", http_check_frequency=0.3)

        async def running():
            mirror = await get_pod(client, "fromurl-node-1")
            return phase(mirror) == "Running" and mirror

        mirror = await wait_for(running)
        assert mirror["metadata"]["annotations"]["kubernetes.io/config.source"] == "http"
        body["text"] = ""
        await wait_for(lambda: _gone(client, "fromurl-node-1"))
    finally:
        await runner.cleanup()


async def test_static_pod_runs_while_the_api_server_is_down(tmp_path, unused_tcp_port):
    from hyperkube.client import Client, Config
    from hyperkube.kubelet.kubelet import Kubelet, KubeletConfig

    manifests = tmp_path / "manifests"
    manifests.mkdir()
    marker = tmp_path / "ran"
    (manifests / "boot.yaml").write_text(manifest("boot", f"open({str(marker)!r}, 'w').write('yes')"))
    async with Client(Config(server=f"http://127.0.0.1:{unused_tcp_port}")) as nowhere:
        kubelet = Kubelet(nowhere, KubeletConfig(node_name="node-1", root_dir=str(tmp_path / "root"), port=0,
                                                 manifest_path=str(manifests)))
        await kubelet.start()
        try:
            assert await wait_for(lambda: _read(marker)) == "yes"
        finally:
            await kubelet.stop(stop_pods=True)


async def test_pods_posted_to_the_kubelet_run_and_are_mirrored(client, kubelet_factory, tmp_path):
    import aiohttp

    marker = tmp_path / "pid"
    kubelet = await kubelet_factory()
    base = f"http://127.0.0.1:{kubelet.port}"
    code = f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    async with aiohttp.ClientSession() as session:
        async with session.post(base + "/pods", data=manifest("posted", code)) as response:
            assert response.status == 201
            assert (await response.json())["items"][0]["metadata"]["name"] == "posted-node-1"

        async def running():
            mirror = await get_pod(client, "posted-node-1")
            return phase(mirror) == "Running" and mirror

        mirror = await wait_for(running)
        assert mirror["metadata"]["annotations"]["kubernetes.io/config.source"] == "server"
        pid = int(await wait_for(lambda: _read(marker)))
        async with session.delete(base + "/pods/default/posted-node-1") as response:
            assert response.status == 200
        await wait_for(lambda: _gone(client, "posted-node-1"))
        await wait_for(lambda: _dead(pid))
        async with session.delete(base + "/pods/default/posted-node-1") as response:
            assert response.status == 404


async def test_without_inotify_a_stat_scan_sees_a_dropped_manifest(client, kubelet_factory, tmp_path, monkeypatch):
    from hyperkube.kubelet import sources

    monkeypatch.setattr(sources.Inotify, "open", classmethod(lambda cls, path, callback: None))
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    await kubelet_factory(manifest_path=str(manifests), file_check_frequency=60)
    (manifests / "late.yaml").write_text(manifest("late", "import time; time.sleep(600)"))

    async def running():
        mirror = await get_pod(client, "late-node-1")
        return phase(mirror) == "Running"

    await wait_for(running, within=10)
