"""What the proxy should serve, computed from the informers' caches (pure functions, no I/O).

A Service port is named ``namespace/name:portName`` (:class:`ServicePortName`), as in
Kubernetes. :func:`service_ports` turns Services into :class:`ServicePort` records (the
frontend: cluster IP, external IPs, node port, protocol, affinity); :func:`endpoints_by_port`
turns EndpointSlices (joined to their Service by the ``kubernetes.io/service-name`` label
and to a port by the port's name) into the ready backends of each Service port. Headless
Services, ExternalName Services and protocols other than TCP and UDP are not proxied.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PROTOCOLS = ("TCP", "UDP")
DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds, Kubernetes' default for ClientIP affinity


class ServicePortName(NamedTuple):
    namespace: str
    name: str
    port: str  # the port's name ("" when the Service has a single unnamed port)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port}" if self.port else f"{self.namespace}/{self.name}"


class Endpoint(NamedTuple):
    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, as the proxy serves it."""

    name: ServicePortName
    protocol: str
    port: int
    cluster_ip: str | None
    node_port: int | None = None
    external_ips: tuple[str, ...] = ()
    affinity_timeout: float | None = None  # seconds; None: no session affinity
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _cluster_ips(spec: dict[str, Any]) -> str | None:
    ip = spec.get("clusterIP")
    if not ip or ip == "None":
        return None
    return str(ip)


def service_ports(services: Iterable[dict[str, Any]]) -> dict[ServicePortName, ServicePort]:
    """Every proxied port of every Service."""
    result: dict[ServicePortName, ServicePort] = {}
    for service in services:
        meta, spec = service.get("metadata") or {}, service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            continue
        cluster_ip = _cluster_ips(spec)
        node_ports_on = spec.get("type") in ("NodePort", "LoadBalancer")
        if cluster_ip is None and not node_ports_on:
            continue  # headless: DNS only
        timeout: float | None = None
        if spec.get("sessionAffinity") == "ClientIP":
            config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
            timeout = float(config.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)
        external = [str(ip) for ip in spec.get("externalIPs") or []]
        for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if ingress.get("ip"):
                external.append(str(ingress["ip"]))
        for port in spec.get("ports") or []:
            protocol = port.get("protocol") or "TCP"
            if protocol not in PROTOCOLS or not port.get("port"):
                continue
            name = ServicePortName(meta.get("namespace") or "default", meta.get("name") or "", port.get("name") or "")
            result[name] = ServicePort(
                name=name, protocol=protocol, port=int(port["port"]), cluster_ip=cluster_ip,
                node_port=int(port["nodePort"]) if node_ports_on and port.get("nodePort") else None,
                external_ips=tuple(external), affinity_timeout=timeout)
    return result


def endpoints_by_port(slices: Iterable[dict[str, Any]]) -> dict[ServicePortName, list[Endpoint]]:
    """The ready endpoints of every Service port, sorted and without duplicates.

    An endpoint is ready unless its ``conditions.ready`` is false (unset means ready, as the
    EndpointSlice API says); terminating endpoints are not ready.
    """
    found: dict[ServicePortName, set[Endpoint]] = {}
    for eps in slices:
        meta = eps.get("metadata") or {}
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not service or eps.get("addressType", "IPv4") not in ("IPv4", "IPv6"):
            continue
        namespace = meta.get("namespace") or "default"
        ready_ips = [address for endpoint in eps.get("endpoints") or []
                     if (endpoint.get("conditions") or {}).get("ready") is not False
                     and not (endpoint.get("conditions") or {}).get("terminating")
                     for address in endpoint.get("addresses") or []]
        for port in eps.get("ports") or []:
            if port.get("port") is None:
                continue
            name = ServicePortName(namespace, service, port.get("name") or "")
            bucket = found.setdefault(name, set())
            bucket.update(Endpoint(str(ip), int(port["port"])) for ip in ready_ips)
    return {name: sorted(endpoints, key=lambda e: (e.ip, e.port)) for name, endpoints in found.items()}
