"""``/portForward/{ns}/{pod}?ports=P[,Q]`` over a WebSocket (the v4 channel protocol).

Each requested port i gets two channels: data ``2i`` and error ``2i+1``. The first frame the
server sends on each channel is the port number (two bytes, little endian); after that, data
frames carry the TCP stream both ways and an error frame carries a message. Pods share the
host network, so port P of the pod is port P of the node IP. One TCP connection per port is
opened when the WebSocket is; it ends the session when it closes. (The real kubectl speaks
SPDY inside the WebSocket instead: spdy.py; the Python client and other WebSocket clients
speak this.)
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from aiohttp import WSMsgType, web

PROTOCOLS = ("v4.channel.k8s.io", "portforward.k8s.io")


def parse_ports(values: list[str]) -> list[int]:
    ports = []
    for value in values:
        for part in filter(None, value.split(",")):
            port = int(part)
            if not 0 < port < 65536:
                raise ValueError(f"invalid port {port}")
            ports.append(port)
    return ports


async def forward(ws: web.WebSocketResponse, host: str, ports: list[int]) -> None:
    for index, port in enumerate(ports):
        for channel in (2 * index, 2 * index + 1):
            await ws.send_bytes(bytes([channel]) + struct.pack("<H", port))
    writers: dict[int, asyncio.StreamWriter] = {}
    pumps = []

    async def pump(index: int, reader: asyncio.StreamReader) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            await ws.send_bytes(bytes([2 * index]) + data)

    for index, port in enumerate(ports):
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as error:
            message = f"error forwarding port {port} to pod: {error}"
            await ws.send_bytes(bytes([2 * index + 1]) + message.encode())
            continue
        writers[index] = writer
        pumps.append(asyncio.get_running_loop().create_task(pump(index, reader)))

    async def feed() -> None:
        async for message in ws:
            if message.type != WSMsgType.BINARY or not message.data:
                if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    return
                continue
            channel, payload = message.data[0], message.data[1:]
            writer = writers.get(channel // 2)
            if channel % 2 == 0 and writer is not None and payload:
                writer.write(payload)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()

    feeder = asyncio.get_running_loop().create_task(feed())
    try:
        if pumps:
            await asyncio.wait([feeder, *pumps], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (feeder, *pumps):
            task.cancel()
        await asyncio.gather(feeder, *pumps, return_exceptions=True)
        for writer in writers.values():
            writer.close()
