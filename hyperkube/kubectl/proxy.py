"""``kubectl proxy``: the API server on a local port, with this kubeconfig's credentials.

Each request is forwarded through the client's transport (so TLS, CA and client
certificates come from the kubeconfig) with the bearer token added, and the answer is
streamed back as it arrives, so watches and ``follow`` logs work through it. It serves
until interrupted, like kubectl (which also says where, on stdout, before serving).
"""

from __future__ import annotations

import asyncio
from typing import Any

from hyperkube.kubectl.session import Session

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length", "host",
              "proxy-connection", "te", "trailer", "content-encoding"}


async def proxy(session: Session, *, address: str, port: int, api_prefix: str) -> int:
    from aiohttp import web

    client = session.client
    prefix = "/" + api_prefix.strip("/")
    prefix = "" if prefix == "/" else prefix

    async def forward(request: web.Request) -> web.StreamResponse:
        path = request.path
        if prefix:
            if not path.startswith(prefix):
                return web.Response(status=404, text="404 page not found\n")
            path = path[len(prefix):] or "/"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | {"authorization"}}
        token = client.config.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = await request.read() if request.can_read_body else None
        upstream = await client.transport.send(request.method, path, params=list(request.query.items()),
                                               headers=headers, body=body, request_timeout=None)
        response = web.StreamResponse(status=upstream.status, headers={
            k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP})
        await response.prepare(request)
        try:
            async for chunk in upstream.chunks():
                await response.write(chunk)
        finally:
            close: Any = getattr(upstream, "close", None)
            if close is not None:
                close()
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, address, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1] if site._server and site._server.sockets else port  # type: ignore[union-attr]
    print(f"Starting to serve on {address}:{bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return 0
