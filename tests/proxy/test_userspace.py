"""The userspace proxy against a real API server, with real TCP/UDP backends on 127.0.0.1.

Services get their cluster IPs (127.64.0.0/16) and node ports from the API server; the tests
write EndpointSlices themselves (as the endpoints controller would) and talk to the proxy's
listeners as any client would.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.proxy._helpers import (
    TCPBackend,
    UDPBackend,
    create_service,
    eventually,
    free_port,
    greet,
    put_slice,
    slice_body,
)


async def three_backends():
    return [await TCPBackend(f"pod-{i}").start() for i in range(3)]


def slice_for(name, backends, ready=None):
    # each backend listens on 127.0.0.1 with its own port, so give each its own slice
    return [slice_body(name, [("127.0.0.1", True if ready is None else ready[i])], b.port, name=f"{name}-{i}")
            for i, b in enumerate(backends)]


async def rotation(host: str, port: int, count: int) -> list[str]:
    return [await greet(host, port) for _ in range(count)]


async def test_cluster_ip_and_node_port_round_robin(api, proxy):
    backends = await three_backends()
    port = free_port()
    service = await create_service(api, "web", [{"port": port, "protocol": "TCP"}], type="NodePort")
    ip, node_port = service["spec"]["clusterIP"], service["spec"]["ports"][0]["nodePort"]
    assert ip.startswith("127.64.")
    for body in slice_for("web", backends):
        await put_slice(api, body)
    await eventually(lambda: rotation(ip, port, 3), within=5)
    seen = await rotation(ip, port, 6)
    assert sorted(seen[:3]) == ["pod-0", "pod-1", "pod-2"] and seen[3:] == seen[:3]
    node_seen = await rotation(proxy.config.bind_address, node_port, 3)
    assert sorted(node_seen) == ["pod-0", "pod-1", "pod-2"]

    # removing a pod's endpoint takes it out of the rotation within a second
    await api.delete("discovery.k8s.io/v1/endpointslices", "web-1", namespace="default")
    started = time.monotonic()
    await eventually(lambda: _without(ip, port, "pod-1"), within=3, interval=0.02)
    assert time.monotonic() - started < 1.0
    # a not-ready endpoint is not used either
    await put_slice(api, slice_body("web", [("127.0.0.1", False)], backends[2].port, name="web-2"))
    await eventually(lambda: _only(ip, port, {"pod-0"}), within=3)
    metrics = await _get(proxy, "/metrics")
    assert "kubeproxy_connections_total" in metrics and 'kubeproxy_bytes_total{direction="out"}' in metrics
    assert "kubeproxy_sync_proxy_rules_duration_seconds_count" in metrics
    assert '"mode": "userspace"' in (await _get(proxy, "/healthz")).replace('":"', '": "')
    for backend in backends:
        await backend.stop()


async def _without(ip: str, port: int, name: str) -> bool:
    return name not in await rotation(ip, port, 4)


async def _only(ip: str, port: int, names: set[str]) -> bool:
    return set(await rotation(ip, port, 4)) == names


async def _get(proxy, path: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{proxy.healthz_port}{path}") as response:
            assert response.status == 200
            return await response.text()


async def test_session_affinity_client_ip(api, proxy):
    backends = await three_backends()
    port = free_port()
    service = await create_service(api, "sticky", [{"port": port}], sessionAffinity="ClientIP",
                                   sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    ip = service["spec"]["clusterIP"]
    for body in slice_for("sticky", backends):
        await put_slice(api, body)
    first = await eventually(lambda: greet(ip, port))
    assert await rotation(ip, port, 6) == [first] * 6
    for backend in backends:
        await backend.stop()


async def test_no_endpoints_refused_at_once_then_served(api, proxy):
    backends = await three_backends()
    port = free_port()
    service = await create_service(api, "empty", [{"port": port}])
    ip = service["spec"]["clusterIP"]
    await asyncio.sleep(0.3)  # the proxy has seen the Service
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        await greet(ip, port)
    assert time.monotonic() - started < 0.5
    await put_slice(api, slice_body("empty", [("127.0.0.1", True)], backends[0].port))
    assert await eventually(lambda: greet(ip, port), within=2) == "pod-0"
    # back to no ready endpoints: refused again
    await put_slice(api, slice_body("empty", [("127.0.0.1", False)], backends[0].port))
    await eventually(lambda: _refused(ip, port), within=2)
    for backend in backends:
        await backend.stop()


async def _refused(ip: str, port: int) -> bool:
    try:
        await greet(ip, port)
    except ConnectionRefusedError:
        return True
    return False


async def test_removed_endpoint_drains_open_connections(api, proxy):
    backends = await three_backends()
    port = free_port()
    service = await create_service(api, "drain", [{"port": port}])
    ip = service["spec"]["clusterIP"]
    for body in slice_for("drain", backends[:2]):
        await put_slice(api, body)
    reader, writer = await eventually(lambda: asyncio.open_connection(ip, port))
    owner = (await reader.readline()).decode().strip()
    gone = int(owner.split("-")[1])
    await api.delete("discovery.k8s.io/v1/endpointslices", f"drain-{gone}", namespace="default")
    await eventually(lambda: _only(ip, port, {f"pod-{1 - gone}"}), within=3)
    # the open connection to the removed endpoint still works, in both directions
    writer.write(b"x" * 300_000 + b"\n")
    echoed = await asyncio.wait_for(reader.readexactly(300_001), 5)
    assert echoed.endswith(b"x\n")
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # half-close passed through
    writer.close()
    for backend in backends:
        await backend.stop()


async def test_endpoint_down_is_skipped(api, proxy):
    live = await TCPBackend("live").start()
    dead = await TCPBackend("dead").start()
    await dead.stop()
    port = free_port()
    service = await create_service(api, "half", [{"port": port}])
    ip = service["spec"]["clusterIP"]
    await put_slice(api, slice_body("half", [("127.0.0.1", True)], live.port, name="half-0"))
    await put_slice(api, slice_body("half", [("127.0.0.1", True)], dead.port, name="half-1"))
    await eventually(lambda: greet(ip, port))
    assert await rotation(ip, port, 4) == ["live"] * 4
    await live.stop()


class _UDPClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.replies.put_nowait(data)

    def error_received(self, exc):
        self.replies.put_nowait(exc)


async def udp_ask(ip: str, port: int, payload: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_UDPClient, remote_addr=(ip, port))
    try:
        transport.sendto(payload)
        reply = await asyncio.wait_for(protocol.replies.get(), 2)
        if isinstance(reply, Exception):
            raise reply
        return reply
    finally:
        transport.close()


async def test_udp_echo_round_robin(api, proxy):
    backends = [await UDPBackend(f"udp-{i}").start() for i in range(2)]
    port = free_port()
    service = await create_service(api, "dns", [{"port": port, "protocol": "UDP"}], type="NodePort")
    ip, node_port = service["spec"]["clusterIP"], service["spec"]["ports"][0]["nodePort"]
    for i, backend in enumerate(backends):
        await put_slice(api, slice_body("dns", [("127.0.0.1", True)], backend.port, protocol="UDP",
                                        name=f"dns-{i}"))
    await eventually(lambda: udp_ask(ip, port, b"hello"))
    replies = {await udp_ask(ip, port, b"hello") for _ in range(4)}  # a new client socket each time
    assert replies == {b"udp-0:hello", b"udp-1:hello"}
    assert (await udp_ask(proxy.config.bind_address, node_port, b"n")).endswith(b":n")
    await eventually(lambda: _no_udp_sessions(proxy), within=3)  # idle sessions expire (--udp-timeout)
    for backend in backends:
        await backend.stop()


async def test_bulk_transfer_is_intact_both_ways(api, proxy):
    """Megabytes each way (large reads switch a direction to splice on Linux), byte for byte."""
    import hashlib
    import os

    backend = await TCPBackend("bulk").start()
    port = free_port()
    ip = (await create_service(api, "bulk", [{"port": port}]))["spec"]["clusterIP"]
    await put_slice(api, slice_body("bulk", [("127.0.0.1", True)], backend.port))
    reader, writer = await eventually(lambda: asyncio.open_connection(ip, port))
    assert await reader.readline() == b"bulk\n"
    payload = os.urandom(1 << 20) * 12

    async def send() -> None:
        for offset in range(0, len(payload), 1 << 20):
            writer.write(payload[offset:offset + (1 << 20)])
            await writer.drain()
        writer.write_eof()

    sender = asyncio.create_task(send())
    received = hashlib.sha256()
    total = 0
    while chunk := await asyncio.wait_for(reader.read(1 << 20), 10):
        received.update(chunk)
        total += len(chunk)
    await sender
    writer.close()
    assert total == len(payload) and received.digest() == hashlib.sha256(payload).digest()
    assert proxy.proxier.stats.bytes_in >= len(payload) and proxy.proxier.stats.bytes_out >= len(payload)
    if hasattr(os, "splice"):
        assert proxy.proxier.stats.spliced_streams >= 1
    await backend.stop()


async def test_many_concurrent_connections_spread_evenly(api, proxy):
    backends = await three_backends()
    port = free_port()
    ip = (await create_service(api, "busy", [{"port": port}]))["spec"]["clusterIP"]
    for body in slice_for("busy", backends):
        await put_slice(api, body)
    await eventually(lambda: greet(ip, port))

    async def exchange(i: int) -> str:
        reader, writer = await asyncio.open_connection(ip, port)
        name = (await reader.readline()).decode().strip()
        writer.write(f"msg-{i}\n".encode())
        assert await reader.readline() == f"msg-{i}\n".encode()
        writer.close()
        return name

    names = await asyncio.gather(*(exchange(i) for i in range(150)))
    assert {n: names.count(n) for n in set(names)} == {"pod-0": 50, "pod-1": 50, "pod-2": 50}
    await eventually(lambda: _idle(proxy), within=3)
    for backend in backends:
        await backend.stop()


async def _idle(proxy) -> bool:
    return proxy.proxier.stats.active_connections == 0


async def _no_udp_sessions(proxy) -> bool:
    return proxy.proxier.stats.udp_sessions == 0


async def test_external_ip_is_served_too(api, proxy):
    from tests.proxy._helpers import random_loopback

    backend = await TCPBackend("ext").start()
    port, external = free_port(), random_loopback()
    service = await create_service(api, "ext", [{"port": port}], externalIPs=[external])
    await put_slice(api, slice_body("ext", [("127.0.0.1", True)], backend.port))
    assert await eventually(lambda: greet(external, port)) == "ext"
    assert await greet(service["spec"]["clusterIP"], port) == "ext"
    await backend.stop()
