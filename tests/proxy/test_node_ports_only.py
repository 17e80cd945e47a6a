"""``ProxyConfig.serve_cluster_ips=False``: a second proxy on the same host (``hyperkube up
--nodes N`` runs one per node IP) binds only node ports on its own address, and leaves cluster
and external IPs to the proxy that serves them; the node port still reaches the endpoints."""

from __future__ import annotations

import asyncio

from hyperkube.proxy.server import ProxyConfig
from hyperkube.proxy.table import Endpoint, ServicePort, ServicePortName
from hyperkube.proxy.userspace import UserspaceProxier
from tests.proxy._helpers import TCPBackend, free_port, greet


async def test_node_ports_only_on_the_bind_address():
    assert ProxyConfig(hostname="n").serve_cluster_ips is True  # the default: everything
    backend = await TCPBackend("pod-0").start()
    name = ServicePortName("default", "web", "")
    cluster_port, node_port = free_port(), free_port()
    service = ServicePort(name, "TCP", cluster_port, "127.64.9.9", node_port=node_port, external_ips=("127.0.0.9",))
    proxier = UserspaceProxier("127.0.0.2", serve_cluster_ips=False)
    try:
        await proxier.sync({name: service}, {name: [Endpoint("127.0.0.1", backend.port)]})
        assert {(key.ip, key.port) for key in proxier.listeners} == {("127.0.0.2", node_port)}
        assert await greet("127.0.0.2", node_port) == "pod-0"
        for ip in ("127.64.9.9", "127.0.0.9"):
            try:
                await asyncio.open_connection(ip, cluster_port)
            except OSError:
                continue
            raise AssertionError(f"something listens on {ip}:{cluster_port}")
    finally:
        await proxier.shutdown(0.1)
        await backend.stop()
