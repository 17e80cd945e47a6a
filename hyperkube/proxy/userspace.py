"""Userspace proxying: asyncio listeners that copy bytes between clients and endpoints.

Every Service port gets a listener on its cluster IP (and external IPs), and one on
``bind_address:nodePort`` for NodePorts. A listener exists only while its port has ready
endpoints: without one there is nothing bound, so the kernel refuses a TCP connection at once
(RST) and answers UDP with ICMP port unreachable; nothing ever hangs waiting for a backend.

TCP is copied with asyncio protocols, not streams: each side's ``data_received`` writes the
chunk straight to the other transport (the selector transport reads up to 256 KiB at a time,
so a bulk transfer moves in large chunks with one copy into the kernel), and flow control
pauses reading on one side while the other's write buffer is over its high-water mark.
Half-closes (EOF) pass through. If an endpoint refuses, the next one is tried (up to
``MAX_TRIES``); if all fail, the client connection is reset.

UDP keeps one connected socket per client address and endpoint (a "session", like the
kernel's conntrack entry) that carries replies back; sessions idle for ``udp_timeout`` are closed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from hyperkube.proxy.balancer import NoEndpoints, RoundRobin
from hyperkube.proxy.table import Endpoint, ServicePort, ServicePortName

log = logging.getLogger("hyperkube.proxy")

MAX_TRIES = 3
CONNECT_TIMEOUT = 2.0
HIGH_WATER = 1 << 20


@dataclass
class Stats:
    active_connections: int = 0
    connections_total: int = 0
    refused_total: int = 0
    bytes_in: int = 0  # client -> endpoint
    bytes_out: int = 0  # endpoint -> client
    udp_sessions: int = 0
    per_endpoint: dict[Endpoint, int] = field(default_factory=dict)  # open TCP connections
    #: set whenever the last open TCP connection closes (shutdown waits on it)
    idle: asyncio.Event = field(default_factory=asyncio.Event)


class _Backend(asyncio.Protocol):
    """The endpoint side of one proxied TCP connection."""

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(HIGH_WATER)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.client.stats.bytes_out += len(data)
        self.client.transport.write(data)  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        if self.client.transport and not self.client.transport.is_closing() and self.client.transport.can_write_eof():
            self.client.transport.write_eof()
        return True

    def pause_writing(self) -> None:
        self.client.transport.pause_reading()  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        self.client.transport.resume_reading()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client.transport and not self.client.transport.is_closing():
            self.client.transport.close()


class _Client(asyncio.Protocol):
    """The client side of one proxied TCP connection, accepted on a Service listener."""

    def __init__(self, listener: TCPListener) -> None:
        self.listener = listener
        self.stats = listener.stats
        self.transport: asyncio.Transport | None = None
        self.backend: _Backend | None = None
        self.endpoint: Endpoint | None = None
        self.closed = False
        self.pending_eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.pause_reading()  # type: ignore[attr-defined]
        transport.set_write_buffer_limits(HIGH_WATER)  # type: ignore[attr-defined]
        self.stats.active_connections += 1
        self.stats.idle.clear()
        self.stats.connections_total += 1
        self.listener.clients.add(self)
        self.listener.loop.create_task(self._connect())

    async def _connect(self) -> None:
        peer = self.transport.get_extra_info("peername")  # type: ignore[union-attr]
        client_ip = peer[0] if peer else None
        failed: set[Endpoint] = set()
        for _ in range(MAX_TRIES):
            try:
                endpoint = self.listener.balancer.next(self.listener.name, client_ip, exclude=frozenset(failed))
            except NoEndpoints:
                break
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    _, backend = await self.listener.loop.create_connection(
                        lambda: _Backend(self), endpoint.ip, endpoint.port)
            except (OSError, TimeoutError) as error:
                log.debug("%s: endpoint %s failed: %s", self.listener.name, endpoint, error)
                failed.add(endpoint)
                continue
            if self.closed:
                backend.transport.close()  # type: ignore[union-attr]
                return
            self.backend, self.endpoint = backend, endpoint
            self.stats.per_endpoint[endpoint] = self.stats.per_endpoint.get(endpoint, 0) + 1
            if self.pending_eof:
                backend.transport.write_eof()  # type: ignore[union-attr]
            else:
                self.transport.resume_reading()  # type: ignore[union-attr]
            return
        self.stats.refused_total += 1
        if not self.closed:
            _reset(self.transport)

    def data_received(self, data: bytes) -> None:
        self.stats.bytes_in += len(data)
        self.backend.transport.write(data)  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        if self.backend is None:
            self.pending_eof = True
        elif not self.backend.transport.is_closing():  # type: ignore[union-attr]
            self.backend.transport.write_eof()  # type: ignore[union-attr]
        return True

    def pause_writing(self) -> None:
        if self.backend:
            self.backend.transport.pause_reading()  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        if self.backend:
            self.backend.transport.resume_reading()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.stats.active_connections -= 1
        if not self.stats.active_connections:
            self.stats.idle.set()
        self.listener.clients.discard(self)
        if self.endpoint is not None:
            left = self.stats.per_endpoint.get(self.endpoint, 1) - 1
            if left > 0:
                self.stats.per_endpoint[self.endpoint] = left
            else:
                self.stats.per_endpoint.pop(self.endpoint, None)
        if self.backend and not self.backend.transport.is_closing():  # type: ignore[union-attr]
            self.backend.transport.close()  # type: ignore[union-attr]


def _reset(transport: asyncio.BaseTransport | None) -> None:
    """Close with RST (SO_LINGER 0), so the client sees 'connection reset', not a clean EOF."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()  # type: ignore[attr-defined]


def _listening_socket(ip: str, port: int, kind: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class TCPListener:
    def __init__(self, name: ServicePortName, ip: str, port: int, balancer: RoundRobin, stats: Stats) -> None:
        self.name, self.ip, self.port = name, ip, port
        self.balancer, self.stats = balancer, stats
        self.loop = asyncio.get_running_loop()
        self.clients: set[_Client] = set()
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        sock = _listening_socket(self.ip, self.port, socket.SOCK_STREAM)
        self.server = await self.loop.create_server(lambda: _Client(self), sock=sock)

    def close(self) -> None:
        """Stop accepting; open connections keep going until either side closes (drain)."""
        if self.server is not None:
            self.server.close()

    def abort(self) -> None:
        self.close()
        for client in list(self.clients):
            if client.transport:
                client.transport.abort()


class _UDPSession(asyncio.DatagramProtocol):
    def __init__(self, listener: UDPListener, client: Any, endpoint: Endpoint) -> None:
        self.listener, self.client, self.endpoint = listener, client, endpoint
        self.transport: asyncio.DatagramTransport | None = None
        self.queue: list[bytes] = []
        self.last = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.last = time.monotonic()
        self.listener.stats.bytes_out += len(data)
        if self.listener.transport is not None:
            self.listener.transport.sendto(data, self.client)

    def send(self, data: bytes) -> None:
        self.last = time.monotonic()
        self.listener.stats.bytes_in += len(data)
        if self.transport is None:
            self.queue.append(data)
        else:
            self.transport.sendto(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("%s: UDP endpoint %s: %s", self.listener.name, self.endpoint, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.listener.sessions.get(self.client) is self:
            del self.listener.sessions[self.client]
            self.listener.stats.udp_sessions -= 1


class UDPListener(asyncio.DatagramProtocol):
    def __init__(self, name: ServicePortName, ip: str, port: int, balancer: RoundRobin, stats: Stats,
                 timeout: float) -> None:
        self.name, self.ip, self.port = name, ip, port
        self.balancer, self.stats, self.timeout = balancer, stats, timeout
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.DatagramTransport | None = None
        self.sessions: dict[Any, _UDPSession] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sock = _listening_socket(self.ip, self.port, socket.SOCK_DGRAM)
        await self.loop.create_datagram_endpoint(lambda: self, sock=sock)
        self._sweeper = self.loop.create_task(self._sweep())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        session = self.sessions.get(addr)
        if session is None:
            try:
                endpoint = self.balancer.next(self.name, addr[0])
            except NoEndpoints:
                self.stats.refused_total += 1
                return
            session = self.sessions[addr] = _UDPSession(self, addr, endpoint)
            self.stats.udp_sessions += 1
            self.loop.create_task(self._open(session))
        session.send(data)

    async def _open(self, session: _UDPSession) -> None:
        try:
            transport, _ = await self.loop.create_datagram_endpoint(
                lambda: session, remote_addr=(session.endpoint.ip, session.endpoint.port))
        except OSError as error:
            log.debug("%s: UDP endpoint %s: %s", self.name, session.endpoint, error)
            session.connection_lost(error)
            return
        for data in session.queue:
            transport.sendto(data)
        session.queue.clear()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(max(self.timeout / 2, 0.05))
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if now - session.last > self.timeout and session.transport is not None:
                    session.transport.close()

    def close(self) -> None:
        """Stop receiving; sessions are closed too (UDP has no connection to drain)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.transport is not None:
            self.transport.close()
        for session in list(self.sessions.values()):
            if session.transport is not None:
                session.transport.close()

    abort = close


@dataclass(frozen=True)
class _Key:
    name: ServicePortName
    protocol: str
    ip: str
    port: int


class UserspaceProxier:
    """Keeps listeners and the balancer in line with the desired table (:meth:`sync`)."""

    def __init__(self, bind_address: str = "0.0.0.0", udp_timeout: float = 0.25) -> None:
        self.bind_address = bind_address
        self.udp_timeout = udp_timeout
        self.balancer = RoundRobin()
        self.stats = Stats()
        self.listeners: dict[_Key, TCPListener | UDPListener] = {}
        self._failed: set[_Key] = set()

    def _desired(self, services: dict[ServicePortName, ServicePort]) -> set[_Key]:
        keys: set[_Key] = set()
        for name, svc in services.items():
            if not self.balancer.has_endpoints(name):
                continue
            for ip in ((svc.cluster_ip,) if svc.cluster_ip else ()) + svc.external_ips:
                keys.add(_Key(name, svc.protocol, ip, svc.port))
            if svc.node_port:
                keys.add(_Key(name, svc.protocol, self.bind_address, svc.node_port))
        return keys

    async def sync(self, services: dict[ServicePortName, ServicePort],
                   endpoints: dict[ServicePortName, list[Endpoint]]) -> None:
        for name, svc in services.items():
            self.balancer.update(name, endpoints.get(name, []), svc.affinity_timeout)
        for name in [n for n in list(self.balancer._ports) if n not in services]:
            self.balancer.remove(name)
        self.balancer.expire_affinity()
        desired = self._desired(services)
        for key in [k for k in self.listeners if k not in desired]:
            self.listeners.pop(key).close()
            log.info("%s: stopped listening on %s %s:%d", key.name, key.protocol, key.ip, key.port)
        self._failed &= desired
        for key in sorted(desired - set(self.listeners), key=lambda k: (str(k.name), k.ip, k.port)):
            listener: TCPListener | UDPListener
            if key.protocol == "TCP":
                listener = TCPListener(key.name, key.ip, key.port, self.balancer, self.stats)
            else:
                listener = UDPListener(key.name, key.ip, key.port, self.balancer, self.stats, self.udp_timeout)
            try:
                await listener.start()
            except OSError as error:
                if key not in self._failed:
                    log.error("%s: cannot listen on %s %s:%d: %s", key.name, key.protocol, key.ip, key.port, error)
                    self._failed.add(key)
                continue
            self._failed.discard(key)
            self.listeners[key] = listener
            log.info("%s: listening on %s %s:%d", key.name, key.protocol, key.ip, key.port)

    @property
    def pending(self) -> bool:
        """Listeners that could not be bound yet (retried on the next sync)."""
        return bool(self._failed)

    async def shutdown(self, grace: float = 5.0) -> None:
        """Stop accepting, let open TCP connections finish for up to ``grace`` s, then cut them."""
        listeners, self.listeners = list(self.listeners.values()), {}
        for listener in listeners:
            listener.close()
        if self.stats.active_connections:
            try:
                async with asyncio.timeout(grace):
                    await self.stats.idle.wait()
            except TimeoutError:
                log.info("shutdown: cutting %d open connections", self.stats.active_connections)
        for listener in listeners:
            listener.abort()
