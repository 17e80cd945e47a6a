"""Userspace proxying: asyncio listeners that copy bytes between clients and endpoints.

Every Service port gets a listener on its cluster IP (and external IPs), and one on
``bind_address:nodePort`` for NodePorts. A listener exists only while its port has ready
endpoints: without one there is nothing bound, so the kernel refuses a TCP connection at once
(RST) and answers UDP with ICMP port unreachable; nothing ever hangs waiting for a backend.

TCP is copied on raw sockets (:mod:`hyperkube.proxy.tcp`): 256 KiB ``recv`` straight into
``send``, backpressure by the kernel's buffers, half-closes passed on, failed endpoints retried.

UDP keeps one connected socket per client address and endpoint (a "session", like the
kernel's conntrack entry) that carries replies back; sessions idle for ``udp_timeout`` are closed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from hyperkube.proxy.balancer import NoEndpoints, RoundRobin
from hyperkube.proxy.table import Endpoint, ServicePort, ServicePortName
from hyperkube.proxy.tcp import TCPListener

log = logging.getLogger("hyperkube.proxy")


@dataclass
class Stats:
    active_connections: int = 0
    connections_total: int = 0
    refused_total: int = 0
    bytes_in: int = 0  # client -> endpoint
    bytes_out: int = 0  # endpoint -> client
    udp_sessions: int = 0
    spliced_streams: int = 0  # TCP directions that switched to zero-copy splice
    per_endpoint: dict[Endpoint, int] = field(default_factory=dict)  # open TCP connections
    #: set whenever the last open TCP connection closes (shutdown waits on it)
    idle: asyncio.Event = field(default_factory=asyncio.Event)


def _udp_socket(ip: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


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
        sock = _udp_socket(self.ip, self.port)
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

    def __init__(self, bind_address: str = "0.0.0.0", udp_timeout: float = 0.25, *,
                 serve_cluster_ips: bool = True) -> None:
        """``serve_cluster_ips=False``: node ports only. Several proxies in one host (``hyperkube
        up --nodes N``: one per node IP) share the cluster IPs, which only one of them binds."""
        self.bind_address = bind_address
        self.serve_cluster_ips = serve_cluster_ips
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
            ips = ((svc.cluster_ip,) if svc.cluster_ip else ()) + svc.external_ips
            for ip in ips if self.serve_cluster_ips else ():
                keys.add(_Key(name, svc.protocol, ip, svc.port))
            if svc.node_port:
                keys.add(_Key(name, svc.protocol, self.bind_address, svc.node_port))
        return keys

    async def sync(self, services: dict[ServicePortName, ServicePort],
                   endpoints: dict[ServicePortName, list[Endpoint]]) -> None:
        for name, svc in services.items():
            self.balancer.update(name, endpoints.get(name, []), svc.affinity_timeout)
        for name in [n for n in self.balancer.names() if n not in services]:
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
