"""Names outside the cluster go to the host's resolvers, asynchronously, one after another.

The upstreams are the ``nameserver`` lines of ``/etc/resolv.conf`` (as CoreDNS' default
``forward . /etc/resolv.conf``) unless given. Each is tried in order with ``timeout`` seconds;
a query that came over UDP goes upstream over UDP (a truncated answer is handed back
truncated, so the client retries over TCP, which then goes upstream over TCP). When no
upstream answers, the caller answers SERVFAIL.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.message

log = logging.getLogger("hyperkube.addons.dns")

RESOLV_CONF = "/etc/resolv.conf"


def parse_resolv_conf(text: str) -> list[str]:
    """The nameserver addresses of a resolv.conf text, in order (comments and bad lines skipped)."""
    servers = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            address = fields[1].split("%", 1)[0]  # fe80::1%eth0: the zone is not ours to keep
            try:
                servers.append(str(ipaddress.ip_address(address)))
            except ValueError:
                continue
    return servers


def host_upstreams(path: str = RESOLV_CONF) -> list[str]:
    """The host's resolvers (blocking file read: call it before the loop, or in a thread)."""
    try:
        return parse_resolv_conf(Path(path).read_text())
    except OSError as error:
        log.warning("no upstream resolvers: %s", error)
        return []


def parse_upstream(text: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address -> (ip, port)."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = int(rest.lstrip(":"))
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    ipaddress.ip_address(host)  # ValueError for anything else
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return host, port


class Forwarder:
    def __init__(self, upstreams: list[tuple[str, int]], timeout: float = 2.0) -> None:
        self.upstreams = upstreams
        self.timeout = timeout

    async def query(self, query: dns.message.Message, *, tcp: bool = False) -> dns.message.Message | None:
        """The first upstream answer to ``query`` (its id kept), or None when none answers."""
        for host, port in self.upstreams:
            try:
                if tcp:
                    return await dns.asyncquery.tcp(query, host, timeout=self.timeout, port=port)
                return await dns.asyncquery.udp(query, host, timeout=self.timeout, port=port,
                                                ignore_unexpected=True)
            except (dns.exception.DNSException, OSError, EOFError) as error:
                log.debug("upstream %s:%s failed for %s: %r", host, port, query.question, error)
        return None
