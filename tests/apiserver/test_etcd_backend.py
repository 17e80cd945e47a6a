"""The same API over a real etcd (``--etcd-servers http://...``): CRUD, conflict, list, watch."""

from __future__ import annotations

import aiohttp

from hyperkube.apiserver.app import APIServer, APIServerConfig
from tests.apiserver._server import Client, pod
from tests.apiserver.test_watch import watching
from tests.storage.etcd_process import EtcdProcess

PODS = "/api/v1/namespaces/default/pods"


async def test_api_over_a_real_etcd(tmp_path):
    etcd = EtcdProcess.start(tmp_path / "etcd")
    server = APIServer(APIServerConfig(port=0, data_dir=str(tmp_path), etcd_servers=etcd.url))
    try:
        await server.start()
        async with aiohttp.ClientSession() as session:
            client = Client(session, server.url)
            status, namespaces = await client.get("/api/v1/namespaces")
            assert status == 200 and {"default", "kube-system"} <= {
                n["metadata"]["name"] for n in namespaces["items"]}
            async with watching(client, "resourceVersion=0") as stream:
                status, created = await client.post(PODS, pod("e1"))
                assert status == 201
                assert await stream.events(1) == [("ADDED", "e1")]
                stale = dict(created)
                created["metadata"]["labels"] = {"x": "y"}
                assert (await client.put(f"{PODS}/e1", created))[0] == 200
                assert await stream.events(1) == [("MODIFIED", "e1")]
                assert (await client.put(f"{PODS}/e1", stale))[0] == 409
                assert (await client.delete(f"{PODS}/e1"))[0] == 200
                assert await stream.events(1) == [("DELETED", "e1")]
            _, listing = await client.get(PODS + "?limit=1")
            assert listing["items"] == []
    finally:
        await server.stop()
        etcd.stop()
