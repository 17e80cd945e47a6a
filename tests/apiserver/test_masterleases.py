"""The ``kubernetes`` Service's endpoints are the live API servers on the store (lease reconciler)."""

from __future__ import annotations

import asyncio

from hyperkube.apiserver.app import APIServer, APIServerConfig
from hyperkube.storage import open_store


async def _endpoints(server: APIServer) -> tuple[list[str], list[list[str]]]:
    endpoints = server.registry.get("", "v1", "endpoints")
    slices = server.registry.get("discovery.k8s.io", "v1", "endpointslices")
    objects = server.masters.objects
    ep = await objects.get(endpoints, "default", "kubernetes")
    piece = await objects.get(slices, "default", "kubernetes")
    ips = [a["ip"] for subset in ep.get("subsets") or [] for a in subset["addresses"]]
    return ips, [e["addresses"] for e in piece.get("endpoints") or []]


async def test_two_api_servers_list_each_other_and_a_stopped_one_leaves(tmp_path) -> None:
    store = open_store("", data_dir=str(tmp_path), overrides=[], prefix="/registry")
    await store.start()
    first = APIServer(APIServerConfig(port=0, bind_address="127.0.0.1", data_dir=str(tmp_path)), store=store)
    second = APIServer(APIServerConfig(port=0, bind_address="127.0.0.2", data_dir=str(tmp_path)), store=store)
    try:
        await first.start()
        ips, slice_ips = await _endpoints(first)
        assert ips == ["127.0.0.1"] and slice_ips == [["127.0.0.1"]]
        ep = await first.masters.objects.get(first.registry.get("", "v1", "endpoints"), "default", "kubernetes")
        assert ep["subsets"][0]["ports"] == [{"name": "https", "port": first.port, "protocol": "TCP"}]
        assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
        await second.start()
        assert (await _endpoints(second))[0] == ["127.0.0.1", "127.0.0.2"]
        await second.stop()
        for _ in range(50):  # the first server's cache follows the store
            if (await _endpoints(first))[0] == ["127.0.0.1"]:
                break
            await asyncio.sleep(0.1)
        assert (await _endpoints(first)) == (["127.0.0.1"], [["127.0.0.1"]])
    finally:
        await second.stop()
        await first.stop()
        await store.close()
