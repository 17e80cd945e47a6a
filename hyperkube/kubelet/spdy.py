"""SPDY/3.1 framing, the server side, for the real kubectl's ``port-forward``.

kubectl opens a WebSocket with the sub-protocol ``SPDY/3.1+portforward.k8s.io`` and then runs a
SPDY session *inside* it: every binary WebSocket message carries the next bytes of the SPDY
byte stream (frames are not aligned to messages). :class:`Session` parses that stream and writes
frames back through the same WebSocket.

The frames used (all big-endian):

* control frames: ``1 | version(15)=3 | type(16) | flags(8) | length(24) | body``, of which
  SYN_STREAM (1) opens a stream with a header block, SYN_REPLY (2) answers it, RST_STREAM (3)
  aborts one, PING (6) is echoed, and SETTINGS (4), GOAWAY (7), HEADERS (8) and WINDOW_UPDATE
  (9) need no action from this server;
* data frames: ``0 | stream id(31) | flags(8) | length(24) | payload``; flag FIN (1) ends the
  sender's half of the stream.

Header blocks are a count of (name, value) pairs, each length-prefixed, compressed with one zlib
stream per direction for the whole session, primed with SPDY/3's dictionary of common header
words (:data:`DICTIONARY`, rebuilt here from its parts: length-prefixed words, then a run of
common values).

Port forwarding on top (Kubernetes' protocol): for each connection kubectl opens an *error*
stream and a *data* stream carrying the headers ``streamtype``, ``port`` and ``requestid``. Once
both of a request id are there, the server connects to the port on the pod (the node IP: pods
share the host network) and copies bytes both ways on the data stream; a failure is written on
the error stream. A FIN from kubectl half-closes the pod connection; the pod closing sends FIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("hyperkube.kubelet.spdy")

PROTOCOL = "SPDY/3.1+portforward.k8s.io"
VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
RST_CANCEL = 5
MAX_DATA = 32 * 1024

_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges "
    "age allow authorization cache-control connection content-base content-encoding content-language "
    "content-length content-location content-md5 content-range content-type date etag expect expires from "
    "host if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status"
).split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_CODES = "100 101 201 202 205 206 300 302 303 304 305 306 307 402 405 406 407 408 409 410 411 412 413 414 415 " \
         "416 417 502 504 505".split()
_VALUES = (
    "203 Non-Authoritative Information", "204 No Content", "301 Moved Permanently", "400 Bad Request",
    "401 Unauthorized", "403 Forbidden", "404 Not Found", "500 Internal Server Error", "501 Not Implemented",
    "503 Service Unavailable", "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT", "chunked,text/html,image/png,image/jpg,image/gif,",
    "application/xml,application/xhtml+xml,text/plain,text/javascript,", "publicprivatemax-age=",
    "gzip,deflate,sdch", "charset=utf-8", "charset=iso-8859-1,utf-,*,enq=0.",
)
#: SPDY/3's zlib dictionary for header blocks (a protocol constant: both ends must agree on it)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + \
    "".join(_CODES).encode() + "".join(_VALUES).encode()


def control_frame(kind: int, flags: int, body: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(body)) + body


def data_frame(stream_id: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(payload)) + payload


def encode_headers(headers: dict[str, str]) -> bytes:
    out = [struct.pack(">I", len(headers))]
    for name, value in headers.items():
        out += [struct.pack(">I", len(name)), name.lower().encode(), struct.pack(">I", len(value)), value.encode()]
    return b"".join(out)


def decode_headers(block: bytes) -> dict[str, str]:
    (count,), offset, headers = struct.unpack_from(">I", block), 4, {}
    for _ in range(count):
        (size,) = struct.unpack_from(">I", block, offset)
        name = block[offset + 4:offset + 4 + size].decode()
        offset += 4 + size
        (size,) = struct.unpack_from(">I", block, offset)
        headers[name] = block[offset + 4:offset + 4 + size].decode().split("\0")[0]
        offset += 4 + size
    return headers


@dataclass
class Stream:
    id: int
    headers: dict[str, str]
    incoming: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)  # None: the peer's FIN
    closed: bool = False  # our half


class ProtocolError(ValueError):
    pass


class Session:
    """One SPDY session over a message transport: ``feed`` what arrives, frames go out by ``send``."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]],
                 on_stream: Callable[[Stream], Awaitable[None]]) -> None:
        self._send = send
        self._on_stream = on_stream
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)
        self._lock = asyncio.Lock()
        self.streams: dict[int, Stream] = {}

    async def feed(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                return
            head, body = bytes(self._buffer[:8]), bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            await self._frame(head, body)

    async def _frame(self, head: bytes, body: bytes) -> None:
        first, flags = struct.unpack(">I", head[:4])[0], head[4]
        if not first & 0x80000000:  # data
            stream = self.streams.get(first & 0x7FFFFFFF)
            if stream is not None:
                if body:
                    stream.incoming.put_nowait(body)
                if flags & FLAG_FIN:
                    stream.incoming.put_nowait(None)
            return
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise ProtocolError(f"SPDY version {version} is not supported")
        if kind == SYN_STREAM:
            stream_id = struct.unpack_from(">I", body)[0] & 0x7FFFFFFF
            headers = decode_headers(self._inflate.decompress(body[10:]))
            stream = self.streams[stream_id] = Stream(stream_id, headers)
            await self.write(control_frame(SYN_REPLY, 0, struct.pack(">I", stream_id) + self._compress({})))
            if flags & FLAG_FIN:
                stream.incoming.put_nowait(None)
            await self._on_stream(stream)
        elif kind == RST_STREAM:
            stream = self.streams.pop(struct.unpack_from(">I", body)[0] & 0x7FFFFFFF, None)
            if stream is not None:
                stream.closed = True
                stream.incoming.put_nowait(None)
        elif kind == PING:
            await self.write(control_frame(PING, 0, body))
        elif kind == GOAWAY:
            raise EOFError("the client went away")
        elif kind == HEADERS:
            self._inflate.decompress(body[4:])  # keep the shared zlib stream in step

    def _compress(self, headers: dict[str, str]) -> bytes:
        return self._deflate.compress(encode_headers(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    async def write(self, frame: bytes) -> None:
        async with self._lock:
            await self._send(frame)

    async def send_data(self, stream: Stream, payload: bytes, fin: bool = False) -> None:
        if stream.closed:
            return
        for start in range(0, len(payload), MAX_DATA):
            chunk = payload[start:start + MAX_DATA]
            last = fin and start + MAX_DATA >= len(payload)
            await self.write(data_frame(stream.id, FLAG_FIN if last else 0, chunk))
        if fin and not payload:
            await self.write(data_frame(stream.id, FLAG_FIN, b""))
        stream.closed = stream.closed or fin

    async def reset(self, stream: Stream) -> None:
        if not stream.closed:
            stream.closed = True
            await self.write(control_frame(RST_STREAM, 0, struct.pack(">II", stream.id, RST_CANCEL)))


class PortForwarder:
    """Pairs each request's error and data streams and connects the data stream to the pod."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.session: Session | None = None
        self.pending: dict[str, dict[str, Stream]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def on_stream(self, stream: Stream) -> None:
        kind = stream.headers.get("streamtype", "")
        request = stream.headers.get("requestid") or stream.headers.get("port", "")
        pair = self.pending.setdefault(request, {})
        pair[kind] = stream
        if "data" in pair and "error" in pair:
            del self.pending[request]
            task = asyncio.get_running_loop().create_task(self._forward(pair["data"], pair["error"]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _forward(self, data: Stream, error: Stream) -> None:
        assert self.session is not None
        session = self.session
        port_text = data.headers.get("port", "")
        try:
            port = int(port_text)
            if not 0 < port < 65536:
                raise ValueError
            reader, writer = await asyncio.open_connection(self.host, port)
        except (ValueError, OSError) as problem:
            why = "invalid port" if isinstance(problem, ValueError) else str(problem)
            await session.send_data(error, f"error forwarding port {port_text} to pod: {why}".encode(), fin=True)
            await session.send_data(data, b"", fin=True)
            return

        async def upstream() -> None:  # kubectl -> pod
            while (chunk := await data.incoming.get()) is not None:
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

        async def downstream() -> None:  # pod -> kubectl
            while chunk := await reader.read(65536):
                await session.send_data(data, chunk)
            await session.send_data(data, b"", fin=True)

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        try:
            await asyncio.gather(*tasks)
        except (ConnectionError, OSError) as problem:
            log.debug("port-forward to %s:%d ended: %s", self.host, port, problem)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            writer.close()
            await session.send_data(error, b"", fin=True)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def serve_port_forward(ws: object, host: str) -> None:
    """Run a port-forward SPDY session over an aiohttp WebSocket until the client leaves."""
    from aiohttp import WSMsgType, web

    assert isinstance(ws, web.WebSocketResponse)
    forwarder = PortForwarder(host)
    session = forwarder.session = Session(ws.send_bytes, forwarder.on_stream)
    try:
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                await session.feed(message.data)
            elif message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
    except (EOFError, ProtocolError, zlib.error, struct.error) as problem:
        log.info("port-forward session ended: %s", problem)
    finally:
        with contextlib.suppress(Exception):
            await forwarder.close()
