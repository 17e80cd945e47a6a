"""``kubectl port-forward POD [LOCAL:]REMOTE ...`` over WebSockets (the v4 channel protocol).

Every local TCP connection gets its own WebSocket to ``pods/NAME/portforward?ports=REMOTE``:
channel 0 carries the data both ways and channel 1 errors, and the first frame on each
channel is the port number, which is skipped. (The real kubectl speaks SPDY here; the API
server and kubelet speak this protocol, as the Python client does.)
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hyperkube.kubectl.session import KubectlError, Session

PROTOCOLS = ("v4.channel.k8s.io", "portforward.k8s.io")


def parse_mappings(specs: list[str]) -> list[tuple[int, int]]:
    mappings = []
    for spec in specs:
        local, sep, remote = spec.partition(":")
        try:
            mappings.append((int(local) if local else 0, int(remote if sep else local)))
        except ValueError as error:
            raise KubectlError(f"Invalid port specification: {spec}") from error
    return mappings


async def _connection(session: Session, path: str, remote: int, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
    import aiohttp

    ws = await session.client.websocket(path, params=[("ports", str(remote))], protocols=PROTOCOLS)
    seen: set[int] = set()

    async def upstream() -> None:
        while data := await reader.read(65536):
            await ws.send_bytes(b"\x00" + data)

    sender = asyncio.create_task(upstream())
    try:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                continue
            channel, payload = message.data[0], message.data[1:]
            if channel not in seen:  # the port number, once per channel
                seen.add(channel)
                continue
            if channel == 0:
                writer.write(payload)
                await writer.drain()
            elif channel == 1 and payload:
                print(f"error: {payload.decode(errors='replace')}", flush=True)
    except ConnectionError:
        pass
    finally:
        sender.cancel()
        await ws.close()
        with contextlib.suppress(ConnectionError):
            writer.close()


async def port_forward(session: Session, target: str, specs: list[str], *, address: str) -> int:
    kind, sep, name = target.partition("/")
    if not sep:
        name = target
    elif kind not in ("pod", "pods", "po"):
        raise KubectlError("port-forward supports pods only (POD or pod/POD)")
    if not specs:
        raise KubectlError("at least 1 PORT is required for port-forward")
    pod: dict[str, Any] = await session.client.get("v1/pods", name, namespace=session.namespace)
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise KubectlError(f"unable to forward port because pod is not running. Current status={phase}")
    path = f"/api/v1/namespaces/{session.namespace}/pods/{name}/portforward"
    servers = []
    for local, remote in parse_mappings(specs):
        def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, remote: int = remote) -> Any:
            return _connection(session, path, remote, reader, writer)
        server = await asyncio.start_server(handler, address, local)
        bound = server.sockets[0].getsockname()[1]
        print(f"Forwarding from {address}:{bound} -> {remote}", flush=True)
        servers.append(server)
    try:
        await asyncio.Event().wait()
    finally:
        for server in servers:
            server.close()
    return 0
