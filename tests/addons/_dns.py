"""A fake upstream resolver (UDP and TCP on one ephemeral port) and a DNS client helper.

The upstream answers ``<anything>.example.test`` with A 192.0.2.1 (and ``big.example.test``
TXT with 40 long strings, too big for UDP), everything else NXDOMAIN. It counts what it saw.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from hyperkube.addons.dns import DNSConfig, DNSServer
from hyperkube.addons.dns.server import listen_udp_and_tcp

EXAMPLE = dns.name.from_text("example.test.")


def upstream_answer(wire: bytes, *, tcp: bool = False) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA
    question = query.question[0]
    if not question.name.is_subdomain(EXAMPLE):
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif question.rdtype == dns.rdatatype.A:
        response.answer.append(dns.rrset.from_text(question.name, 300, "IN", "A", "192.0.2.1"))
    elif question.rdtype == dns.rdatatype.TXT and question.name.labels[0] == b"big":
        texts = [f'"{"x" * 200}{i}"' for i in range(40)]
        response.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", "TXT", texts))
    try:
        return response.to_wire(max_size=65535 if tcp else 512)
    except dns.exception.TooBig:
        truncated = dns.message.make_response(query)
        truncated.flags |= dns.flags.TC
        return truncated.to_wire()


class _UpstreamUDP(asyncio.DatagramProtocol):
    def __init__(self, owner: FakeUpstream) -> None:
        self.owner = owner

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.owner.udp_queries += 1
        if self.owner.silent:
            return
        self.transport.sendto(upstream_answer(data), addr)


class FakeUpstream:
    def __init__(self, *, silent: bool = False) -> None:
        self.silent = silent  # never answers: a dead resolver
        self.udp_queries = self.tcp_queries = 0
        self.port = 0

    async def start(self) -> FakeUpstream:
        self.transport, self.server, self.port = await listen_udp_and_tcp(
            "127.0.0.1", 0, lambda: _UpstreamUDP(self), self._tcp)
        return self

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            data = await reader.readexactly(length)
            self.tcp_queries += 1
            reply = upstream_answer(data, tcp=True)
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        self.transport.close()
        self.server.close()
        await self.server.wait_closed()


async def ask(port: int, name: str, rdtype: str = "A", *, tcp: bool = False, wait: float = 5.0,
              **make: Any) -> dns.message.Message:
    """One query to 127.0.0.1:port with dnspython, over UDP (no retry on TC) or TCP."""
    query = dns.message.make_query(name, rdtype, **make)
    if tcp:
        return await dns.asyncquery.tcp(query, "127.0.0.1", timeout=wait, port=port)
    return await dns.asyncquery.udp(query, "127.0.0.1", timeout=wait, port=port)


def addresses(response: dns.message.Message, section: str = "answer") -> list[str]:
    return sorted(r.to_text() for rrset in getattr(response, section) for r in rrset
                  if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA))


@pytest.fixture
async def upstream():
    instance = await FakeUpstream().start()
    try:
        yield instance
    finally:
        await instance.stop()


@pytest.fixture
async def cluster_dns(api, upstream):
    """A DNS server on an ephemeral 127.0.0.1 port, fed by ``api``, forwarding to ``upstream``."""
    instance = DNSServer(api, DNSConfig(port=0, upstreams=[f"127.0.0.1:{upstream.port}"], forward_timeout=1.0))
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()
