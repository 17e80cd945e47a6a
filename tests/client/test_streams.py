"""Logs (whole and followed) and WebSocket channels, as kubectl logs/exec use them."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from hyperkube.client import NotFound
from tests.client.conftest import status


async def test_logs_whole_and_followed(serve):
    seen: list[dict] = []
    more = asyncio.Event()

    async def log(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.query))
        if request.match_info["name"] == "missing":
            return status(404, "NotFound", 'pods "missing" not found')
        if request.query.get("follow") != "true":
            return web.Response(text="line 1\nline 2\n")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        await response.write(b"line 1\n")
        await more.wait()
        await response.write(b"line 2\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/default/pods/{name}/log", log)
    client = await serve(app)
    assert await client.logs("web", namespace="default", container="c", tail_lines=5, timestamps=True) == \
        "line 1\nline 2\n"
    assert seen[0] == {"container": "c", "tailLines": "5", "timestamps": "true"}
    with pytest.raises(NotFound):
        await client.logs("missing", namespace="default")

    chunks = []
    async for chunk in client.follow_logs("web", namespace="default", since_seconds=60):
        chunks.append(chunk)
        more.set()  # the second line is only written once the first has arrived
    assert b"".join(chunks) == b"line 1\nline 2\n"
    assert seen[-1] == {"follow": "true", "sinceSeconds": "60"}


async def test_websocket_channels_with_credentials(serve):
    async def exec_(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"))
        await ws.prepare(request)
        command = " ".join(request.query.getall("command"))
        await ws.send_bytes(b"\x01" + command.encode() + b" by " + request.headers["Authorization"].encode())
        await ws.send_bytes(b'\x03{"metadata":{},"status":"Success"}')
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/default/pods/web/exec", exec_)
    client = await serve(app)
    client.config.token = "t0k"
    ws = await client.websocket("/api/v1/namespaces/default/pods/web/exec",
                                params=[("command", "ls"), ("command", "-l"), ("stdout", "true")])
    assert ws.protocol == "v5.channel.k8s.io"
    frames = [msg.data async for msg in ws if msg.type == aiohttp.WSMsgType.BINARY]
    assert frames == [b"\x01ls -l by Bearer t0k", b'\x03{"metadata":{},"status":"Success"}']
