"""The DNS server: informers in, a :class:`~hyperkube.addons.dns.zone.Zone` kept current, UDP and
TCP answers out, the rest forwarded.

Shape (the proxy's): Services and EndpointSlices come through shared informers; an event only
marks the zone dirty, and one task rebuilds it at most every ``min_sync_period`` seconds, so a
change is answered within a fraction of a second. Until the first list arrives (at most
``startup_timeout`` seconds of :meth:`DNSServer.start`; then it serves anyway) cluster names
answer SERVFAIL, while forwarding already works.

Per query (nothing blocks the loop: what the zone answers is answered in ``datagram_received``
itself, and only queries that need an upstream get a task)::

    bytes ──> parse (garbage with a header: FORMERR; without: dropped; a response: dropped)
          ──> opcode QUERY with one question? (else NOTIMP / FORMERR)
          ──> the zone's name?   yes: authoritative answer (NOERROR, NODATA or NXDOMAIN);
                                      an ExternalName CNAME is chased upstream
                                 no:  forwarded upstream (SERVFAIL when none answers)
          ──> wire: over UDP at most 512 bytes, or the client's EDNS size; larger answers go
              out truncated (TC) with no records, and the client asks again over TCP.

UDP and TCP listen on the same port (``port=0``: an ephemeral one, in :attr:`DNSServer.port`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import struct
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from hyperkube.addons.dns.forward import Forwarder, host_upstreams, parse_upstream
from hyperkube.addons.dns.zone import Answer, Zone, build_zone
from hyperkube.client import Client, EventHandler, InformerFactory

log = logging.getLogger("hyperkube.addons.dns")

UDP_DEFAULT_SIZE = 512
MAX_TCP_IDLE = 10.0


@dataclass
class DNSConfig:
    bind_address: str = "127.0.0.1"
    port: int = 53  # 0: an ephemeral port (the same for UDP and TCP)
    domain: str = "cluster.local"
    upstreams: list[str] | None = None  # "IP[:PORT]"; None: the host's /etc/resolv.conf
    ttl: int = 30  # kube-dns' and the default Corefile's 30 s (CoreDNS' plugin default is 5)
    forward_timeout: float = 2.0  # per upstream
    min_sync_period: float = 0.02
    startup_timeout: float = 5.0


class _UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply, query = self.server.answer_now(data, tcp=False)
        if query is not None:
            self.server.spawn(self._answer_later(query, addr))
        elif reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    async def _answer_later(self, query: dns.message.Message, addr: Any) -> None:
        reply = await self.server.answer_later(query, tcp=False)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp: %s", exc)


def formerr(wire: bytes) -> bytes | None:
    """A bare FORMERR header for a message dnspython could not parse (None: not even a header)."""
    if len(wire) < 12:
        return None
    query_id, flags = struct.unpack("!HH", wire[:4])
    if flags & dns.flags.QR:
        return None  # never answer an answer
    return struct.pack("!HHHHHH", query_id, dns.flags.QR | (flags & 0x7800) | (flags & dns.flags.RD)
                       | dns.rcode.FORMERR, 0, 0, 0, 0)


async def listen_udp_and_tcp(host: str, port: int, protocol_factory: Any, tcp_handler: Any, *,
                             attempts: int = 10) -> tuple[asyncio.DatagramTransport, asyncio.Server, int]:
    """A UDP endpoint and a TCP server on the same port; port 0 picks one free for both (a free
    UDP port whose TCP twin is taken is given up for another)."""
    loop = asyncio.get_running_loop()
    for attempt in range(attempts):
        transport, _ = await loop.create_datagram_endpoint(protocol_factory, local_addr=(host, port))
        bound = transport.get_extra_info("sockname")[1]
        try:
            server = await asyncio.start_server(tcp_handler, host, bound, reuse_address=True)
        except OSError as error:
            transport.close()
            if port or error.errno != errno.EADDRINUSE or attempt == attempts - 1:
                raise
            continue
        return transport, server, bound
    raise OSError(errno.EADDRINUSE, f"no free port for UDP and TCP on {host}")


class DNSServer:
    def __init__(self, client: Client, config: DNSConfig, *, informers: InformerFactory | None = None) -> None:
        self.client = client
        self.config = config
        self._own_informers = informers is None
        self.informers = informers or InformerFactory(client)
        self.services = self.informers.informer("v1/services")
        self.slices = self.informers.informer("discovery.k8s.io/v1/endpointslices")
        self.zone: Zone | None = None
        self.origin = dns.name.from_text(config.domain.strip(".") + ".")
        self.port: int | None = None
        self.forwarder = Forwarder([], config.forward_timeout)
        self.queries = 0
        self._dirty = asyncio.Event()
        self._rebuilding = asyncio.Lock()
        self._handlers: list[tuple[Any, EventHandler]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sync_task: asyncio.Task[None] | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tcp_writers: set[asyncio.StreamWriter] = set()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        upstreams = self.config.upstreams
        if upstreams is None:
            upstreams = await asyncio.to_thread(host_upstreams)
        parsed = [parse_upstream(upstream) for upstream in upstreams]
        await self._listen()
        self.forwarder.upstreams = [u for u in parsed if not self._is_self(u)]
        for informer in (self.services, self.slices):
            handler = informer.add_event_handler(self._mark, lambda old, new: self._mark(), self._mark)
            self._handlers.append((informer, handler))
        self.informers.start()
        self._sync_task = asyncio.get_running_loop().create_task(self._sync_loop(), name="dns-sync")
        try:
            async with asyncio.timeout(self.config.startup_timeout):
                await asyncio.gather(self.services.wait_for_sync(), self.slices.wait_for_sync())
            await self.rebuild()
        except TimeoutError:
            log.warning("dns: services and endpointslices not listed after %gs; serving, cluster names "
                        "answer SERVFAIL until they are", self.config.startup_timeout)
        log.info("dns: serving %s on %s:%s (udp, tcp); forwarding to %s", self.config.domain,
                 self.config.bind_address, self.port,
                 ", ".join(f"{h}:{p}" for h, p in self.forwarder.upstreams) or "nobody (SERVFAIL)")

    async def _listen(self) -> None:
        self._udp, self._tcp, self.port = await listen_udp_and_tcp(
            self.config.bind_address, self.config.port, lambda: _UDPProtocol(self), self._tcp_client)

    def _is_self(self, upstream: tuple[str, int]) -> bool:
        host, port = upstream
        if port != self.port:
            return False
        bind = self.config.bind_address
        return host == bind or (bind in ("0.0.0.0", "::", "") and ipaddress.ip_address(host).is_loopback)

    async def stop(self) -> None:
        for informer, handler in self._handlers:
            with contextlib.suppress(ValueError):
                informer.remove_event_handler(handler)
        self._handlers.clear()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
        for writer in list(self._tcp_writers):  # idle clients would hold wait_closed() (3.12+)
            writer.close()
        tasks = [*self._tasks, *([self._sync_task] if self._sync_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._sync_task = None
        if self._tcp is not None:
            await self._tcp.wait_closed()
            self._tcp = None
        if self._own_informers:
            await self.informers.stop()

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the zone --------------------------------------------------------------------------------

    def _mark(self, _obj: Any = None) -> None:
        self._dirty.set()

    async def rebuild(self) -> None:
        """A new zone from the caches' current objects (informers replace objects, never change
        them, so the snapshot is built in a thread: a large cluster takes tens of ms)."""
        async with self._rebuilding:  # one at a time, so an older snapshot never lands last
            self._dirty.clear()
            services, slices = self.services.cache.list(), self.slices.cache.list()
            self.zone = await asyncio.to_thread(build_zone, services, slices, domain=self.config.domain,
                                                ttl=self.config.ttl)

    async def _sync_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.config.min_sync_period)  # one rebuild for a burst of events
            if not (self.services.has_synced and self.slices.has_synced):
                continue
            try:
                await self.rebuild()
            except Exception:
                log.exception("dns: zone rebuild failed")
                await asyncio.sleep(1.0)

    # -- answering -------------------------------------------------------------------------------

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tcp_writers.add(writer)
        try:
            while True:
                async with asyncio.timeout(MAX_TCP_IDLE):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    data = await reader.readexactly(length)
                reply = await self.handle(data, tcp=True)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tcp_writers.discard(writer)
            writer.close()

    async def handle(self, wire: bytes, *, tcp: bool) -> bytes | None:
        """The reply bytes for one query message, or None to stay silent."""
        reply, query = self.answer_now(wire, tcp=tcp)
        return reply if query is None else await self.answer_later(query, tcp=tcp)

    async def answer_later(self, query: dns.message.Message, *, tcp: bool) -> bytes:
        """The reply to a query :meth:`answer_now` left for an upstream (SERVFAIL on failure)."""
        try:
            response = await self._remote(query, tcp=tcp)
        except Exception:
            log.exception("dns: answering %s failed", query.question)
            response = self._reply(query, dns.rcode.SERVFAIL)
        return self._wire(query, response, tcp)

    def answer_now(self, wire: bytes, *, tcp: bool) -> tuple[bytes | None, dns.message.Message | None]:
        """``(reply, None)`` for what is answered without an upstream (the zone, errors; a None
        reply means silence), ``(None, query)`` for a query that needs one. UDP datagrams take
        this synchronous path in ``datagram_received``: no task per cluster query."""
        self.queries += 1
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # dnspython raises many kinds for garbage; none may stop the server
            return formerr(wire), None
        if query.flags & dns.flags.QR:
            return None, None
        try:
            response = self._local(query)
        except Exception:
            log.exception("dns: answering %s failed", query.question)
            response = self._reply(query, dns.rcode.SERVFAIL)
        if response is None:
            return None, query
        return self._wire(query, response, tcp), None

    @staticmethod
    def _reply(query: dns.message.Message, rcode: int) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        response.set_rcode(rcode)
        return response

    @staticmethod
    def _wire(query: dns.message.Message, response: dns.message.Message, tcp: bool) -> bytes:
        max_size = 65535 if tcp else max(UDP_DEFAULT_SIZE, query.payload if query.edns >= 0 else 0)
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.TC | (response.flags & (dns.flags.AA | dns.flags.RA))
            truncated.set_rcode(response.rcode())
            return truncated.to_wire(max_size=max_size)

    def _authoritative(self, query: dns.message.Message, answer: Answer) -> dns.message.Message:
        response = self._reply(query, answer.rcode)
        response.flags |= dns.flags.AA
        response.answer, response.authority, response.additional = answer.answer, answer.authority, answer.additional
        return response

    def _local(self, query: dns.message.Message) -> dns.message.Message | None:
        """The response from the zone alone, or None when an upstream must be asked."""
        if query.opcode() != dns.opcode.QUERY:
            return self._reply(query, dns.rcode.NOTIMP)
        if len(query.question) != 1:
            return self._reply(query, dns.rcode.FORMERR)
        question = query.question[0]
        if self.zone is None:
            return self._reply(query, dns.rcode.SERVFAIL) if question.name.is_subdomain(self.origin) else None
        if question.rdclass != dns.rdataclass.IN:
            return self._reply(query, dns.rcode.REFUSED) if self.zone.owns(question.name) else None
        answer = self.zone.lookup(question.name, question.rdtype)
        if answer is None or answer.chase is not None:
            return None
        return self._authoritative(query, answer)

    async def _remote(self, query: dns.message.Message, *, tcp: bool) -> dns.message.Message:
        """Forward the query; or, for an ExternalName pointing outside the zone, answer the
        CNAME and add what the upstream says of its target."""
        question = query.question[0]
        answer = self.zone.lookup(question.name, question.rdtype) if self.zone is not None else None
        if answer is not None and answer.chase is not None:
            response = self._authoritative(query, answer)
            chased = await self.forwarder.query(dns.message.make_query(answer.chase, question.rdtype), tcp=tcp)
            if chased is not None:
                response.answer += chased.answer
            return response
        forwarded = await self.forwarder.query(query, tcp=tcp)
        if forwarded is None:
            return self._reply(query, dns.rcode.SERVFAIL)
        forwarded.id = query.id
        return forwarded
