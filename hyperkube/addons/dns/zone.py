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
is a dictionary lookup; the build is linear in services plus endpoints and handles only plain
strings (lower-case names without the final dot, record data in zone-file text): dnspython
objects, costly to make, are made when a name is asked for, and kept with the snapshot.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

SCHEMA_VERSION = "1.1.0"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
TOLERATE_UNREADY = "service.alpha.kubernetes.io/tolerate-unready-endpoints"

A, AAAA, CNAME, PTR, SRV, SOA, TXT = (dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.CNAME, dns.rdatatype.PTR,
                                     dns.rdatatype.SRV, dns.rdatatype.SOA, dns.rdatatype.TXT)


@dataclass
class Answer:
    rcode: int = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)
    #: an ExternalName target outside the zone, for the server to resolve upstream
    chase: dns.name.Name | None = None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def dashed(ip: str) -> str:
    """10.0.0.5 -> 10-0-0-5; fd00::5 -> fd00--5 (the form pod and endpoint names use)."""
    return ip.replace(".", "-").replace(":", "-")


def _undashed(label: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    return _ip(label.replace("-", ".")) or _ip(label.replace("-", ":"))


def _is_ready(endpoint: dict[str, Any], publish_unready: bool) -> bool:
    if publish_unready:
        return True
    return (endpoint.get("conditions") or {}).get("ready") is not False


def _key(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


class Zone:
    """A snapshot of the cluster's records under ``domain`` (built once, then only read)."""

    def __init__(self, domain: str = "cluster.local", ttl: int = 30) -> None:
        self.domain = domain.strip(".").lower()
        self.origin = dns.name.from_text(self.domain + ".")
        self.ttl = ttl
        #: name -> rdatatype -> record texts (an ordered set)
        self.records: dict[str, dict[int, dict[str, None]]] = defaultdict(lambda: defaultdict(dict))
        self.reverse: dict[str, dict[str, None]] = defaultdict(dict)  # "5.0.0.10.in-addr.arpa" -> PTR texts
        self.existing: set[str] = set()  # names holding records, and all their ancestors in the zone
        self._rdatas: dict[tuple[str, int], list[dns.rdata.Rdata]] = {}
        self.pod_zone = f"pod.{self.domain}"
        self.soa = dns.rrset.from_text_list(
            self.origin, ttl, "IN", "SOA", [f"ns.dns.{self.origin} hostmaster.{self.origin} 1 7200 1800 86400 {ttl}"])
        self._add(f"dns-version.{self.domain}", TXT, f'"{SCHEMA_VERSION}"')
        self._add(self.domain, SOA, self.soa[0].to_text())
        self._mark(self.pod_zone)

    # -- building ------------------------------------------------------------------------------

    def _mark(self, name: str) -> None:
        while name not in self.existing:
            self.existing.add(name)
            if name == self.domain:
                break
            name = name.partition(".")[2]

    def _add(self, name: str, rdtype: int, text: str) -> None:
        self.records[name][rdtype][text] = None
        self._mark(name)

    def _add_ptr(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, target: str) -> None:
        self.reverse[ip.reverse_pointer][target + "."] = None

    def _add_srv(self, base: str, port: dict[str, Any], number: Any, target: str) -> None:
        if not port.get("name") or not number:
            return
        protocol = (port.get("protocol") or "TCP").lower()
        self._add(f"_{port['name'].lower()}._{protocol}.{base}", SRV, f"0 100 {int(number)} {target}.")

    def add_service(self, service: dict[str, Any], slices: Iterable[dict[str, Any]]) -> None:
        meta, spec = service.get("metadata") or {}, service.get("spec") or {}
        base = f"{meta['name']}.{meta.get('namespace') or 'default'}.svc.{self.domain}".lower()
        if spec.get("type") == "ExternalName":
            target = (spec.get("externalName") or "").strip(".")
            if target:
                self._add(base, CNAME, target.lower() + ".")
            return
        cluster_ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None"]
        if cluster_ips:
            for ip in filter(None, map(_ip, cluster_ips)):
                self._add(base, A if ip.version == 4 else AAAA, str(ip))
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
                for ip in filter(None, map(_ip, endpoint.get("addresses") or [])):
                    rdtype = A if ip.version == 4 else AAAA
                    host = f"{(endpoint.get('hostname') or dashed(str(ip))).lower()}.{base}"
                    self._add(base, rdtype, str(ip))
                    self._add(host, rdtype, str(ip))
                    self._add_ptr(ip, host)
                    for port in ports:
                        self._add_srv(base, port, port.get("port"), host)

    # -- answering -----------------------------------------------------------------------------

    def owns(self, qname: dns.name.Name) -> bool:
        return qname.is_subdomain(self.origin) or _key(qname) in self.reverse

    def _rrset(self, qname: dns.name.Name, key: str, rdtype: int, texts: Iterable[str]) -> dns.rrset.RRset:
        rdatas = self._rdatas.get((key, rdtype))
        if rdatas is None:
            rdatas = self._rdatas[(key, rdtype)] = [dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)
                                                    for text in texts]
        return dns.rrset.from_rdata_list(qname, self.ttl, rdatas)  # the question's spelling

    def _negative(self, rcode: int) -> Answer:
        return Answer(rcode=rcode, authority=[self.soa])

    def lookup(self, qname: dns.name.Name, qtype: int) -> Answer | None:
        """The answer for one question, or None when the name is not the cluster's."""
        key = _key(qname)
        if not qname.is_subdomain(self.origin):
            ptrs = self.reverse.get(key)
            if ptrs is None:
                return None
            if qtype not in (PTR, dns.rdatatype.ANY):
                return self._negative(dns.rcode.NOERROR)
            return Answer(answer=[self._rrset(qname, key, PTR, ptrs)])
        records = self.records.get(key)
        if records:
            return self._answer(qname, key, qtype, records)
        label, _, parent = key.partition(".")
        if parent.partition(".")[2] == self.pod_zone and (ip := _undashed(label)) is not None:
            return self._answer(qname, key, qtype, {A if ip.version == 4 else AAAA: {str(ip): None}})
        if key in self.existing or parent == self.pod_zone:  # <ns>.pod.<zone>: any namespace
            return self._negative(dns.rcode.NOERROR)
        return self._negative(dns.rcode.NXDOMAIN)

    def _answer(self, qname: dns.name.Name, key: str, qtype: int, records: dict[int, dict[str, None]]) -> Answer:
        if qtype == dns.rdatatype.ANY:
            return Answer(answer=[self._rrset(qname, key, rdtype, texts) for rdtype, texts in records.items()])
        if records.get(qtype):
            answer = Answer(answer=[self._rrset(qname, key, qtype, records[qtype])])
            if qtype == SRV:
                answer.additional = self._targets(answer.answer[0])
            return answer
        if records.get(CNAME):
            answer = Answer(answer=[self._rrset(qname, key, CNAME, records[CNAME])])
            target = answer.answer[0][0].target  # type: ignore[attr-defined]
            inner = self.lookup(target, qtype) if target.is_subdomain(self.origin) else None
            if inner is not None:
                answer.answer += inner.answer
            else:
                answer.chase = target
            return answer
        return self._negative(dns.rcode.NOERROR)

    def _targets(self, srvs: dns.rrset.RRset) -> list[dns.rrset.RRset]:
        """The A/AAAA records of SRV targets, for the additional section."""
        extra = []
        for target in dict.fromkeys(srv.target for srv in srvs):  # type: ignore[attr-defined]
            key = _key(target)
            for rdtype, texts in (self.records.get(key) or {}).items():
                if rdtype in (A, AAAA) and texts:
                    extra.append(self._rrset(target, key, rdtype, texts))
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
        except (KeyError, TypeError, ValueError):
            continue  # a malformed object (the API validates; be safe anyway)
    return zone
