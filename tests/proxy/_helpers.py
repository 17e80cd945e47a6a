"""Real backends (asyncio TCP/UDP servers on 127.0.0.1 ephemeral ports) and API helpers.

A TCP backend greets each connection with ``<name>\\n`` and then echoes what it reads; a UDP
backend answers each datagram with ``<name>:<datagram>``. Services and EndpointSlices are
created through the hyperkube client against a real API server.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from hyperkube.client import Client


class TCPBackend:
    def __init__(self, name: str) -> None:
        self.name = name
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.connections: set[asyncio.StreamWriter] = set()

    async def start(self) -> TCPBackend:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.add(writer)
        try:
            writer.write(f"{self.name}\n".encode())
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self.connections.discard(writer)
            writer.close()

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            for writer in list(self.connections):
                writer.close()


class _UDPEcho(asyncio.DatagramProtocol):
    def __init__(self, name: str) -> None:
        self.name = name

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(self.name.encode() + b":" + data, addr)  # type: ignore[attr-defined]


class UDPBackend:
    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self.transport: asyncio.DatagramTransport | None = None

    async def start(self) -> UDPBackend:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: _UDPEcho(self.name),
                                                                local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    async def stop(self) -> None:
        if self.transport:
            self.transport.close()


def free_port() -> int:
    return random.randint(20000, 29999)


def random_loopback() -> str:
    return f"127.{random.randint(100, 250)}.{random.randint(1, 250)}.{random.randint(1, 250)}"


async def create_service(client: Client, name: str, ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"app": name}, "ports": ports, **spec}}
    return await client.create("v1/services", body, namespace="default")


def slice_body(service: str, endpoints: list[tuple[str, bool]], port: int, *, port_name: str = "",
               protocol: str = "TCP", name: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": name or f"{service}-slice", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": service}},
        "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}} for ip, ready in endpoints],
        "ports": [{"name": port_name, "port": port, "protocol": protocol}],
    }


async def put_slice(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    """Create the slice, or replace it (a test's endpoint change)."""
    from hyperkube.client import NotFound

    try:
        current = await client.get("discovery.k8s.io/v1/endpointslices", body["metadata"]["name"], namespace="default")
    except NotFound:
        return await client.create("discovery.k8s.io/v1/endpointslices", body, namespace="default")
    body = {**body, "metadata": {**body["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}}
    return await client.update("discovery.k8s.io/v1/endpointslices", body, namespace="default")


async def greet(host: str, port: int, within: float = 5.0) -> str:
    """Connect, read the backend's name, close."""
    async with asyncio.timeout(within):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            return (await reader.readline()).decode().strip()
        finally:
            writer.close()


async def eventually(probe, within: float = 5.0, interval: float = 0.05):
    """Await ``probe()`` until it returns something truthy without raising."""
    deadline = time.monotonic() + within
    while True:
        try:
            result = await probe()
            if result:
                return result
        except (OSError, AssertionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
