"""The transport seam: how one HTTP request leaves the client.

:class:`Client` never touches aiohttp directly; it hands a method, path, query, headers and
body to a :class:`Transport` and gets a :class:`Response` back. Two transports exist:

- :class:`HTTPTransport`: one pooled ``aiohttp.ClientSession`` to a base URL, with the TLS
  context from :class:`~hyperkube.client.Config` (created lazily, inside the running loop).
- :class:`AppTransport`: an ``aiohttp.web.Application`` in this process, served on an
  ephemeral 127.0.0.1 port by an explicit ``AppRunner``/``TCPSite`` that the transport starts
  on first use and stops on :meth:`close`. Tests drive the client against an app this way,
  through exactly the same code as a remote server. An app that already has its own runner
  (the API server inside ``hyperkube up``) is reached through its URL with HTTPTransport
  instead: an application is started by one runner only.

Failures that produced no HTTP response are :class:`TransportError`; :class:`ConnectError`
(its subclass) means the connection was never made, so the request was certainly not sent.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from aiohttp import web


class TransportError(Exception):
    """No HTTP response: connection reset, timeout, server gone. The request may have been sent."""


class ConnectError(TransportError):
    """The connection could not be opened, so the request was never sent (always safe to retry)."""


class Response:
    """An HTTP response whose body has not been read yet (so watches and logs can stream)."""

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self._raw = raw
        self.status: int = raw.status
        self.headers: Mapping[str, str] = raw.headers

    @property
    def content_type(self) -> str:
        return self._raw.content_type

    async def read(self) -> bytes:
        try:
            return await self._raw.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise TransportError(f"reading the response: {error}") from error
        finally:
            self._raw.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (``logs -f``)."""
        try:
            async for chunk in self._raw.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise TransportError(f"reading the stream: {error}") from error

    async def lines(self) -> AsyncIterator[bytes]:
        """Newline-delimited frames (watch events), without the newline; no line-length limit."""
        buffer = b""
        async for chunk in self.chunks():
            buffer += chunk
            while (end := buffer.find(b"\n")) >= 0:
                line, buffer = buffer[:end], buffer[end + 1:]
                if line.strip():
                    yield line
        if buffer.strip():
            yield buffer

    def close(self) -> None:
        self._raw.close()


class Transport:
    """Send one request, return its response unread. Subclasses provide :meth:`send`."""

    async def send(self, method: str, path: str, *, params: list[tuple[str, str]] | None = None,
                   headers: Mapping[str, str] | None = None, body: bytes | None = None,
                   request_timeout: float | None = None, read_timeout: float | None = None) -> Response:
        """``request_timeout`` bounds the whole exchange (None: unbounded, for streams);
        ``read_timeout`` bounds each wait for more bytes (a watch's silent dead peer)."""
        raise NotImplementedError

    async def websocket(self, path: str, *, params: list[tuple[str, str]] | None = None,
                        headers: Mapping[str, str] | None = None,
                        protocols: tuple[str, ...] = ()) -> aiohttp.ClientWebSocketResponse:
        """Open a WebSocket (exec, attach, port-forward channels)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections (and, for an app, the listening site)."""


class HTTPTransport(Transport):
    """A pooled aiohttp session to ``base_url``; ``ssl_context`` None means plain http."""

    def __init__(self, base_url: str, *, ssl_context: ssl.SSLContext | None = None,
                 server_hostname: str | None = None, connection_limit: int = 100) -> None:
        self.base_url = base_url.rstrip("/")
        self._ssl = ssl_context
        self._server_hostname = server_hostname
        self._limit = connection_limit
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        #: responses not yet read to the end (watches, logs -f): closing the session alone
        #: would leave their readers waiting for ever, so close() closes them first
        self._open_responses: weakref.WeakSet[Response] = weakref.WeakSet()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the client is closed")
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else False,
                                             limit=self._limit, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                                  skip_auto_headers=("Content-Type",))
        return self._session

    async def send(self, method: str, path: str, *, params: list[tuple[str, str]] | None = None,
                   headers: Mapping[str, str] | None = None, body: bytes | None = None,
                   request_timeout: float | None = None, read_timeout: float | None = None) -> Response:
        session = self._get_session()
        client_timeout = aiohttp.ClientTimeout(total=request_timeout, sock_connect=30, sock_read=read_timeout)
        extra: dict[str, Any] = {}
        if self._server_hostname:
            extra["server_hostname"] = self._server_hostname
        try:
            raw = await session.request(method, self.base_url + path, params=params or None,
                                        headers=dict(headers or {}), data=body, timeout=client_timeout,
                                        allow_redirects=False, **extra)
        except aiohttp.ClientConnectorError as error:
            raise ConnectError(f"dial {self.base_url}: {error}") from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise TransportError(f"{method} {self.base_url}{path}: {error!r}") from error
        response = Response(raw)
        self._open_responses.add(response)
        return response

    async def websocket(self, path: str, *, params: list[tuple[str, str]] | None = None,
                        headers: Mapping[str, str] | None = None,
                        protocols: tuple[str, ...] = ()) -> aiohttp.ClientWebSocketResponse:
        session = self._get_session()
        extra: dict[str, Any] = {}
        if self._server_hostname:
            extra["server_hostname"] = self._server_hostname
        try:
            return await session.ws_connect(self.base_url + path, params=params or None, headers=dict(headers or {}),
                                            protocols=protocols, autoping=True, **extra)
        except aiohttp.ClientConnectorError as error:
            raise ConnectError(f"dial {self.base_url}: {error}") from error
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise TransportError(f"websocket {self.base_url}{path}: {error!r}") from error

    async def reset(self) -> None:
        """Drop every connection, open streams included; later requests connect afresh."""
        for response in list(self._open_responses):
            response.close()
        session, self._session = self._session, None  # no new request may pick it up while closing
        if session is not None and not session.closed:
            await session.close()

    async def close(self) -> None:
        self._closed = True
        await self.reset()


class AppTransport(HTTPTransport):
    """Serve ``app`` on 127.0.0.1:<ephemeral> in this process and talk HTTP to it."""

    def __init__(self, app: web.Application) -> None:
        super().__init__("http://127.0.0.1")
        self.app = app
        self._runner: web.AppRunner | None = None
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        async with self._starting:
            if self._runner is not None:
                return
            from aiohttp import web  # server side: loaded only by in-process transports

            runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=0.5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            self.base_url = f"http://127.0.0.1:{port}"
            self._runner = runner

    async def send(self, method: str, path: str, **kwargs: Any) -> Response:
        if self._runner is None:
            await self.start()
        return await super().send(method, path, **kwargs)

    async def websocket(self, path: str, **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
        if self._runner is None:
            await self.start()
        return await super().websocket(path, **kwargs)

    async def close(self) -> None:
        await super().close()
        self._closed = False  # an app transport may be started again
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
