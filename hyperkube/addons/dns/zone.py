"""The cluster zone: Services and EndpointSlices turned into DNS records, and the lookup rules.

The records follow Kubernetes' DNS-Based Service Discovery specification (schema 1.1.0)::

    dns-version.<zone>                          TXT "1.1.0"
    <svc>.<ns>.svc.<zone>                       A/AAAA  cluster IP(s)            (ClusterIP)
                                                A/AAAA  every ready endpoint IP  (headless)
                                                CNAME   spec.externalName        (ExternalName)
    <hostname>.<svc>.<ns>.svc.<zone>            A/AAAA  that endpoint's IP(s)    (headless)
    _<port>._<proto>.<svc>.<ns>.svc.<zone>      SRV 0 100 <port> <svc>.<ns>.svc.<zone>   (ClusterIP)
                                                SRV 0 100 <port> <hostname>.<svc>...     (headless)
    <d>.<c>.<b>.<a>.in-addr.arpa (and ip6.arpa) PTR the service name, or <hostname>.<svc>... for
                                                a headless service's ready endpoints
    <a-b-c-d>.<ns>.pod.<zone>                   A <a.b.c.d>  (the spec's deprecated pod records, in
                                                kube-dns' "insecure" way: any well-formed IP answers)

An endpoint's *hostname* is its ``hostname`` field (StatefulSet pods), else its IP with dashes
(as CoreDNS does). An endpoint is *ready* unless its ``conditions.ready`` is false; the
service's ``publishNotReadyAddresses`` (or the old tolerate-unready annotation) makes every
endpoint ready. Unnamed ports have no SRV record.

Answers: a name that holds records of the asked type answers them; a name that exists (it
holds other records, or it is an ancestor of a name that does, such as ``<ns>.svc.<zone>`` or
``_tcp.<svc>.<ns>.svc.<zone>``) is NODATA (NOERROR, empty answer, the SOA in authority); any
other name under the zone is NXDOMAIN, so a headless service with no ready endpoint is
NXDOMAIN, as the spec says. Reverse names the cluster does not own are not ours to answer:
:meth:`Zone.lookup` returns None and the server forwards them.

The zone is rebuilt whole from the informer caches on every change (coalesced), so a query
is a dictionary lookup; the build is linear in services plus endpoints.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.reversename
import dns.rrset

SCHEMA_VERSION = "1.1.0"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
TOLERATE_UNREADY = "service.alpha.kubernetes.io/tolerate-unready-endpoints"

Records = dict[int, list[dns.rdata.Rdata]]  # rdatatype -> rdatas


@dataclass
class Answer:
    rcode: int = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)
    #: an ExternalName target outside the zone, for the server to resolve upstream
    chase: dns.name.Name | None = None


def _rdata(rdtype: int, text: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)


def _address(ip: str) -> dns.rdata.Rdata | None:
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return _rdata(dns.rdatatype.A if parsed.version == 4 else dns.rdatatype.AAAA, str(parsed))


def dashed(ip: str) -> str:
    """10.0.0.5 -> 10-0-0-5; fd00::5 -> fd00--5 (the form pod and endpoint names use)."""
    return ip.replace(".", "-").replace(":", "-")


def _undashed(label: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    for text in (label.replace("-", "."), label.replace("-", ":")):
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            continue
    return None


def _is_ready(endpoint: dict[str, Any], publish_unready: bool) -> bool:
    if publish_unready:
        return True
    return (endpoint.get("conditions") or {}).get("ready") is not False


class Zone:
    """An immutable snapshot of the cluster's records under ``domain``."""

    def __init__(self, domain: str = "cluster.local", ttl: int = 30) -> None:
        self.origin = dns.name.from_text(domain.strip(".") + ".")
        self.ttl = ttl
        self.records: dict[dns.name.Name, Records] = defaultdict(lambda: defaultdict(list))
        self.reverse: dict[dns.name.Name, list[dns.rdata.Rdata]] = defaultdict(list)
        self.existing: set[dns.name.Name] = set()  # names holding records, and all their ancestors
        self.pod_zone = dns.name.Name(("pod",)).concatenate(self.origin)
        self.soa = dns.rrset.from_text_list(
            self.origin, ttl, "IN", "SOA",
            [f"ns.dns.{self.origin} hostmaster.{self.origin} 1 7200 1800 86400 {ttl}"])
        self._add(dns.name.Name(("dns-version",)).concatenate(self.origin), dns.rdatatype.TXT,
                  _rdata(dns.rdatatype.TXT, f'"{SCHEMA_VERSION}"'))
        self._add(self.origin, dns.rdatatype.SOA, self.soa[0])
        self._mark(self.pod_zone)

    # -- building ------------------------------------------------------------------------------

    def _name(self, *labels: str) -> dns.name.Name:
        return dns.name.Name(tuple(label.lower() for label in labels)).concatenate(self.origin)

    def _mark(self, name: dns.name.Name) -> None:
        while name not in self.existing and name.is_subdomain(self.origin):
            self.existing.add(name)
            if name == self.origin:
                break
            name = name.parent()

    def _add(self, name: dns.name.Name, rdtype: int, rdata: dns.rdata.Rdata) -> None:
        if rdata not in self.records[name][rdtype]:
            self.records[name][rdtype].append(rdata)
        self._mark(name)

    def _add_ptr(self, ip: str, target: dns.name.Name) -> None:
        try:
            reverse = dns.reversename.from_address(ip)
        except (ValueError, dns.exception.SyntaxError):
            return
        rdata = _rdata(dns.rdatatype.PTR, target.to_text())
        if rdata not in self.reverse[reverse]:
            self.reverse[reverse].append(rdata)

    def _add_srv(self, base: dns.name.Name, port: dict[str, Any], number: Any, target: dns.name.Name) -> None:
        if not port.get("name") or not number:
            return
        protocol = (port.get("protocol") or "TCP").lower()
        name = dns.name.Name((f"_{port['name'].lower()}", f"_{protocol}")).concatenate(base)
        self._add(name, dns.rdatatype.SRV, _rdata(dns.rdatatype.SRV, f"0 100 {int(number)} {target}"))

    def add_service(self, service: dict[str, Any], slices: Iterable[dict[str, Any]]) -> None:
        meta, spec = service.get("metadata") or {}, service.get("spec") or {}
        base = self._name(meta["name"], meta.get("namespace") or "default", "svc")
        if spec.get("type") == "ExternalName":
            target = (spec.get("externalName") or "").strip(".")
            if target:
                self._add(base, dns.rdatatype.CNAME, _rdata(dns.rdatatype.CNAME, target + "."))
            return
        cluster_ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None"]
        if cluster_ips:
            for ip in cluster_ips:
                if (rdata := _address(ip)) is not None:
                    self._add(base, rdata.rdtype, rdata)
                    self._add_ptr(ip, base)
            for port in spec.get("ports") or []:
                self._add_srv(base, port, port.get("port"), base)
            return
        annotations = meta.get("annotations") or {}
        publish = bool(spec.get("publishNotReadyAddresses")) or annotations.get(TOLERATE_UNREADY) == "true"
        for endpoint_slice in slices:
            ports = endpoint_slice.get("ports") or []
            for endpoint in endpoint_slice.get("endpoints") or []:
                if not _is_ready(endpoint, publish):
                    continue
                for ip in endpoint.get("addresses") or []:
                    rdata = _address(ip)
                    if rdata is None:
                        continue
                    host = dns.name.Name(((endpoint.get("hostname") or dashed(ip)).lower(),)).concatenate(base)
                    self._add(base, rdata.rdtype, rdata)
                    self._add(host, rdata.rdtype, rdata)
                    self._add_ptr(ip, host)
                    for port in ports:
                        self._add_srv(base, port, port.get("port"), host)

    # -- answering -----------------------------------------------------------------------------

    def owns(self, qname: dns.name.Name) -> bool:
        return qname.is_subdomain(self.origin) or qname in self.reverse

    def _negative(self, rcode: int) -> Answer:
        return Answer(rcode=rcode, authority=[self.soa])

    def lookup(self, qname: dns.name.Name, qtype: int) -> Answer | None:
        """The answer for one question, or None when the name is not the cluster's."""
        if not qname.is_subdomain(self.origin):
            ptrs = self.reverse.get(qname)
            if ptrs is None:
                return None
            if qtype not in (dns.rdatatype.PTR, dns.rdatatype.ANY):
                return self._negative(dns.rcode.NOERROR)
            return Answer(answer=[dns.rrset.from_rdata_list(qname, self.ttl, ptrs)])
        records = self.records.get(qname)
        if records:
            return self._answer(qname, qtype, records)
        depth = len(qname.labels) - len(self.pod_zone.labels)
        if depth == 2 and qname.parent().parent() == self.pod_zone:
            ip = _undashed(qname.labels[0].decode())
            if ip is not None:
                rdata = _rdata(dns.rdatatype.A if ip.version == 4 else dns.rdatatype.AAAA, str(ip))
                return self._answer(qname, qtype, {rdata.rdtype: [rdata]})
        if qname in self.existing or (depth == 1 and qname.parent() == self.pod_zone):
            return self._negative(dns.rcode.NOERROR)
        return self._negative(dns.rcode.NXDOMAIN)

    def _answer(self, qname: dns.name.Name, qtype: int, records: Records) -> Answer:
        if qtype == dns.rdatatype.ANY:
            return Answer(answer=[dns.rrset.from_rdata_list(qname, self.ttl, rdatas)
                                  for rdatas in records.values() if rdatas])
        if records.get(qtype):
            answer = Answer(answer=[dns.rrset.from_rdata_list(qname, self.ttl, records[qtype])])
            if qtype == dns.rdatatype.SRV:
                answer.additional = self._targets(records[qtype])
            return answer
        cname = records.get(dns.rdatatype.CNAME)
        if cname:
            answer = Answer(answer=[dns.rrset.from_rdata_list(qname, self.ttl, cname)])
            target = cname[0].target  # type: ignore[attr-defined]
            inner = self.lookup(target, qtype) if target.is_subdomain(self.origin) else None
            if inner is not None:
                answer.answer += inner.answer
            elif not target.is_subdomain(self.origin):
                answer.chase = target
            return answer
        return self._negative(dns.rcode.NOERROR)

    def _targets(self, srvs: list[dns.rdata.Rdata]) -> list[dns.rrset.RRset]:
        """The A/AAAA records of SRV targets, for the additional section."""
        extra = []
        for target in dict.fromkeys(srv.target for srv in srvs):  # type: ignore[attr-defined]
            for rdtype, rdatas in (self.records.get(target) or {}).items():
                if rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and rdatas:
                    extra.append(dns.rrset.from_rdata_list(target, self.ttl, rdatas))
        return extra


def build_zone(services: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]], *,
               domain: str = "cluster.local", ttl: int = 30) -> Zone:
    """The zone for these Services and EndpointSlices (slices join services by the
    ``kubernetes.io/service-name`` label in the same namespace)."""
    by_service: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for endpoint_slice in slices:
        meta = endpoint_slice.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if owner:
            by_service[(meta.get("namespace") or "default", owner)].append(endpoint_slice)
    zone = Zone(domain, ttl)
    for service in services:
        meta = service.get("metadata") or {}
        try:
            zone.add_service(service, by_service.get((meta.get("namespace") or "default", meta.get("name", "")), []))
        except (KeyError, ValueError, dns.exception.DNSException):
            continue  # a name DNS cannot hold (the API validates names; be safe anyway)
    return zone
