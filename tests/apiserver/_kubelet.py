"""A small aiohttp app playing a kubelet's HTTP endpoints (and an HTTP backend), for the API
server's proxy tests: /containerLogs, /exec, /attach and /portForward as the kubelet serves
them, plus /healthz and /echo for nodes/proxy, pods/proxy and services/proxy."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
SUCCESS = b'\x03{"metadata":{},"status":"Success"}'


async def container_logs(request: web.Request) -> web.StreamResponse:
    info = request.match_info
    query = dict(request.query)
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    await response.write(f"log of {info['ns']}/{info['pod']}/{info['container']} {json.dumps(query, sort_keys=True)}\n"
                         .encode())
    if query.get("follow") == "true":
        for n in range(3):
            await asyncio.sleep(0.05)
            await response.write(f"line {n}\n".encode())
        released = request.app.get("release")
        if released is not None:  # the test holds the stream open until it has seen the lines
            await released.wait()
    await response.write_eof()
    return response


async def run(request: web.Request) -> web.StreamResponse:
    """exec and attach: say what was asked on stdout, echo stdin (uppercased) until stdin closes."""
    ws = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS)
    await ws.prepare(request)
    info = request.match_info
    query = request.query
    flags = {k: query.get(k) for k in ("input", "output", "error", "tty") if k in query}
    said = {"path": request.path.split("/")[1], "pod": f"{info['ns']}/{info['pod']}/{info['container']}",
            "command": query.getall("command", []), "flags": flags, "protocol": ws.ws_protocol}
    await ws.send_bytes(b"\x01" + json.dumps(said).encode() + b"\n")
    await ws.send_bytes(b"\x02to stderr\n")
    if query.get("input") == "1":
        async for message in ws:
            data = message.data
            if data[:1] == b"\x00":
                await ws.send_bytes(b"\x01" + data[1:].upper())
            elif data == b"\xff\x00":
                break
    exit_code = int(query.getall("command", ["0"])[-1]) if query.getall("command", [""])[-1].isdigit() else 0
    if exit_code:
        status = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                  "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}
        await ws.send_bytes(b"\x03" + json.dumps(status).encode())
    else:
        await ws.send_bytes(SUCCESS)
    await ws.close()
    return ws


async def port_forward(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse(protocols=("portforward.k8s.io", *CHANNEL_PROTOCOLS))
    await ws.prepare(request)
    await ws.send_str("ports=" + request.query.get("ports", ""))
    async for message in ws:
        await ws.send_bytes(b"echo:" + message.data)
    return ws


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response({"method": request.method, "path": request.path, "query": dict(request.query),
                              "body": body.decode(), "header": request.headers.get("X-Test", "")}, status=202)


def app() -> web.Application:
    application = web.Application()
    application.router.add_get("/containerLogs/{ns}/{pod}/{container}", container_logs)
    for verb in ("exec", "attach"):
        application.router.add_route("*", f"/{verb}/{{ns}}/{{pod}}/{{container}}", run)
    application.router.add_get("/portForward/{ns}/{pod}", port_forward)
    application.router.add_get("/healthz", healthz)
    application.router.add_route("*", "/echo/{tail:.*}", echo)
    return application


async def start(application: web.Application | None = None) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(application or app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


def node(name: str, port: int) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "Hostname", "address": "nowhere.invalid"},
                                     {"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}
