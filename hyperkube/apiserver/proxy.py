"""The API server as a proxy: to kubelets (pods/log, exec, attach, portforward; nodes/proxy)
and to pods and services (pods/proxy, services/proxy).

How a kubelet is found, as Kubernetes does: the pod's ``spec.nodeName`` names a Node, whose
``status.addresses`` give the host (InternalIP first, then Hostname, ExternalIP) and whose
``status.daemonEndpoints.kubeletEndpoint.Port`` the port (10250 when unset). The scheme and
the TLS context come from the API server's :class:`KubeletClient` (``tls.kubelet_client``:
https with the kubelet client certificate once ``--kubelet-client-*`` or
``--kubelet-certificate-authority`` is set, plain http otherwise), kept on the app under
:data:`KUBELET_CLIENT`.

Two kinds of forwarding:

- :func:`forward_http`: any method, the body and query passed on, the answer streamed back
  chunk by chunk as it arrives (so ``logs -f`` and long downloads flow, nothing buffered);
- :func:`forward_websocket`: the client's WebSocket upgrade is answered only after the
  upstream one succeeded, with the sub-protocol the upstream chose among those the client
  offered (``v5.channel.k8s.io``, ``v4…``, ``portforward.k8s.io``,
  ``SPDY/3.1+portforward.k8s.io``); then frames are copied both ways unchanged until either
  side closes. An upstream that refuses the upgrade has its answer passed back as is.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, MultiDict

from hyperkube.apiserver import bodies
from hyperkube.machinery import errors

ADDRESS_TYPES = ("InternalIP", "Hostname", "ExternalIP", "InternalDNS", "ExternalDNS")
DEFAULT_KUBELET_PORT = 10250
#: hop-by-hop headers (RFC 9110 7.6.1) and what aiohttp sets itself: never forwarded
HOP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host", "content-length", "authorization"}
CONNECT_TIMEOUT = 10


@dataclass(frozen=True)
class KubeletClient:
    scheme: str = "http"
    ssl: ssl.SSLContext | None = None  # client certificate and the kubelet CA, for https


KUBELET_CLIENT = web.AppKey("hyperkube.kubelet_client", KubeletClient)


def kubelet_client(request: web.Request) -> KubeletClient:
    return request.app.get(KUBELET_CLIENT) or KubeletClient()


def kubelet_base(node: dict[str, Any], scheme: str = "http") -> str:
    """``scheme://host:port`` of a Node's kubelet."""
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or [] if isinstance(a, dict)}
    host = next((addresses[t] for t in ADDRESS_TYPES if addresses.get(t)), None)
    name = (node.get("metadata") or {}).get("name", "")
    if not host:
        raise errors.BadRequest(f'no preferred addresses found for node "{name}"; known addresses: '
                                f"{sorted(a for a in addresses if a)}")
    endpoint = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {})
    port = endpoint.get("Port") or DEFAULT_KUBELET_PORT
    return f"{scheme}://{_host(host)}:{port}"


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def is_upgrade(request: web.Request) -> bool:
    return "upgrade" in request.headers.get("Connection", "").lower() and \
        request.headers.get("Upgrade", "").lower() == "websocket"


def offered_protocols(request: web.Request) -> list[str]:
    """The sub-protocols to offer upstream: the client's, less its bearer token (a credential
    for this server only, never passed on to a kubelet, pod or service)."""
    from hyperkube.apiserver.authn import WEBSOCKET_TOKEN_PREFIX

    return [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip() and not p.strip().startswith(WEBSOCKET_TOKEN_PREFIX)]


def _request_headers(request: web.Request) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for key, value in request.headers.items():
        if key.lower() not in HOP_HEADERS and not key.lower().startswith("sec-websocket"):
            headers.add(key, value)
    return headers


def _unreachable(url: str, error: BaseException) -> errors.APIError:
    return errors.ServiceUnavailable(f"error trying to reach {url}: {error or type(error).__name__}")


async def forward_http(request: web.Request, url: str, query: MultiDict[str] | None = None, *,
                       method: str | None = None, body: bool = True,
                       tls: ssl.SSLContext | None = None) -> web.StreamResponse:
    """Send the request on to ``url`` and stream the answer back (``tls``: for https upstreams)."""
    data = await bodies.read_body(request) if body and request.can_read_body else None  # 413 over 3 MiB
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        try:
            upstream = await session.request(method or request.method, url, params=query, data=data,
                                             headers=_request_headers(request), allow_redirects=False,
                                             ssl=tls if tls is not None else True)
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise _unreachable(url, error) from None
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_HEADERS:
                    response.headers.add(key, value)
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)  # each chunk goes out as it comes: follow streams flow
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass  # the upstream went away mid-stream: end ours
            with contextlib.suppress(ConnectionError, RuntimeError):
                await response.write_eof()
            return response


async def forward_websocket(request: web.Request, url: str, query: MultiDict[str] | None = None, *,
                            tls: ssl.SSLContext | None = None) -> web.StreamResponse:
    """Join the client's WebSocket to one opened to ``url`` (same sub-protocols offered)."""
    protocols = offered_protocols(request)
    timeout = aiohttp.ClientWSTimeout(ws_close=10)
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT))
    try:
        try:
            upstream = await session.ws_connect(url, params=query, protocols=protocols, timeout=timeout,
                                                headers=_request_headers(request), autoping=True, max_msg_size=0,
                                                ssl=tls if tls is not None else True)
        except aiohttp.WSServerHandshakeError as error:
            raise errors.APIError(f"the upstream refused the stream upgrade: {error.status} {error.message}",
                                  code=error.status if error.status >= 400 else 502,
                                  reason="BadRequest" if error.status == 400 else "InternalError") from None
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise _unreachable(url, error) from None
        client = web.WebSocketResponse(protocols=(upstream.protocol,) if upstream.protocol else (),
                                       autoping=True, max_msg_size=0)
        await client.prepare(request)
        await _pump_both(client, upstream)
        return client
    finally:
        await session.close()


async def _pump_both(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    async def copy(source: Any, sink: Any) -> None:
        async for message in source:
            if message.type == aiohttp.WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            elif message.type == aiohttp.WSMsgType.TEXT:
                await sink.send_str(message.data)
            else:
                break

    to_upstream = asyncio.ensure_future(copy(client, upstream))
    to_client = asyncio.ensure_future(copy(upstream, client))
    try:
        await asyncio.wait((to_upstream, to_client), return_when=asyncio.FIRST_COMPLETED)
        if to_client.done():
            # the upstream finished (a command exited): the client hears the same close
            await client.close(code=upstream.close_code or aiohttp.WSCloseCode.OK)
            await upstream.close()
        else:
            await upstream.close(code=client.close_code or aiohttp.WSCloseCode.OK)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(to_client), 5)  # let the last frames through
            await client.close()
    except (ConnectionError, RuntimeError):
        pass
    finally:
        for task in (to_upstream, to_client):
            task.cancel()
        await asyncio.gather(to_upstream, to_client, return_exceptions=True)
