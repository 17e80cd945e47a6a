"""Mode choice and graceful shutdown."""

from __future__ import annotations

import asyncio

import pytest

from hyperkube.client import Client, Config
from hyperkube.proxy.server import ProxyConfig, ProxyServer, choose_mode
from tests.proxy._helpers import TCPBackend, create_service, eventually, free_port, put_slice, slice_body


def test_choose_mode_annotation_wins_and_iptables_falls_back():
    assert choose_mode("", None, usable=False) == "userspace"
    assert choose_mode("", None, usable=True) == "iptables"  # automatic: iptables where usable
    assert choose_mode("userspace", None, usable=True) == "userspace"
    assert choose_mode("iptables", "userspace", usable=True) == "userspace"
    assert choose_mode("userspace", "iptables", usable=True) == "iptables"
    assert choose_mode("userspace", "bogus", usable=True) == "userspace"
    # asked for where it is not usable (not root, no binaries): served in userspace
    assert choose_mode("iptables", None, usable=False) == "userspace"
    assert choose_mode("userspace", "iptables", usable=False) == "userspace"


async def test_node_annotation_is_read(server, api):
    await api.create("v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "node-x", "annotations": {"net.experimental.kubernetes.io/proxy-mode": "userspace"}}})
    client = Client(Config(server=server.url))
    proxy = ProxyServer(client, ProxyConfig(hostname="node-x", proxy_mode="iptables", healthz_bind_address=None))
    assert await proxy._node_annotation() == "userspace"
    await client.close()


async def test_graceful_shutdown_refuses_new_and_drains_open(server, api):
    backend = await TCPBackend("pod-0").start()
    port = free_port()
    ip = (await create_service(api, "grace", [{"port": port}]))["spec"]["clusterIP"]
    await put_slice(api, slice_body("grace", [("127.0.0.1", True)], backend.port))
    client = Client(Config(server=server.url))
    proxy = ProxyServer(client, ProxyConfig(hostname="n", bind_address="127.0.0.1", healthz_bind_address=None,
                                            shutdown_grace=10, proxy_mode="userspace"))
    await proxy.start()
    try:
        reader, writer = await eventually(lambda: asyncio.open_connection(ip, port))
        assert await reader.readline() == b"pod-0\n"
        stopping = asyncio.create_task(proxy.stop())
        await asyncio.sleep(0.2)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(ip, port)
        assert not stopping.done()  # waiting for the open connection
        writer.write(b"still here\n")
        assert await reader.readline() == b"still here\n"
        writer.close()
        await asyncio.wait_for(stopping, 5)
    finally:
        await proxy.stop()
        await client.close()
        await backend.stop()
