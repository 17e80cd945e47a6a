"""``nodes/{name}/proxy/{path}``, ``pods/{name}[:port]/proxy/{path}`` and
``services/[scheme:]{name}[:port]/proxy/{path}``: HTTP (and WebSocket) through the API server.

These paths are longer than any resource path, so :func:`match` is asked before the REST
path resolution. Where each goes:

- a node: its kubelet (``proxy.kubelet_base``), the rest of the path as is;
- a pod: its ``status.podIP`` and the port given (else the first container port, else 80);
- a service: one ready endpoint. The port part names a Service port by name or number (a
  single-port Service needs none); the endpoint port is the one with the same name in the
  Service's EndpointSlices (``kubernetes.io/service-name``), or its Endpoints object.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDict

from hyperkube.apiserver import proxy
from hyperkube.apiserver.pod_streams import node_of
from hyperkube.machinery import errors
from hyperkube.storage.interface import RangeRequest, prefix_end

if TYPE_CHECKING:
    from hyperkube.apiserver.handlers import RestAPI

_PATH = re.compile(r"^(?:namespaces/(?P<ns>[^/]+)/(?P<kind>pods|services)|(?P<nodes>nodes))/(?P<name>[^/]+)"
                   r"/proxy(?P<rest>/.*)?$")


@dataclass(frozen=True)
class ProxyPath:
    kind: str  # nodes, pods, services
    namespace: str
    name: str  # as written: may carry scheme and port
    rest: str  # the path to request upstream, with its leading "/"


def match(rest: str) -> ProxyPath | None:
    found = _PATH.match(rest)
    if found is None:
        return None
    kind = "nodes" if found["nodes"] else found["kind"]
    return ProxyPath(kind, found["ns"] or "", found["name"], found["rest"] or "/")


_NUMBER = re.compile(r"^[0-9]{1,5}$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _split(name: str, named_ports: bool = False) -> tuple[str, str, str]:
    """``[scheme:]name[:port]`` -> (scheme, name, port). The port is a number in 1-65535 (a
    Service's may also be a port name): nothing else reaches a URL, so ``p:80@host`` can't
    redirect the request to another host."""
    parts = name.split(":")
    if len(parts) > 3:
        raise errors.BadRequest(f"invalid proxy name {name!r}")
    scheme = parts[0] if len(parts) == 3 else ""
    host, port = parts[-2] if len(parts) > 1 else parts[0], parts[-1] if len(parts) > 1 else ""
    if port and not ((_NUMBER.match(port) and 0 < int(port) < 65536) or (named_ports and _PORT_NAME.match(port))):
        raise errors.BadRequest(f"invalid port {port!r} in proxy name {name!r}")
    return scheme, host, port


async def handle(api: RestAPI, request: web.Request, target: ProxyPath) -> web.StreamResponse:
    request["verb"] = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                       "DELETE": "delete"}.get(request.method, "proxy")
    request["subresource"] = "proxy"
    registry = api.context.registry
    scheme, name, port = _split(target.name, named_ports=target.kind == "services")
    tls = None
    if scheme not in ("", "http"):
        raise errors.BadRequest(f"scheme {scheme} is not supported yet: only http")
    if target.kind == "nodes":
        request["resource"] = registry.get("", "v1", "nodes")
        kubelet = proxy.kubelet_client(request)
        base, tls = proxy.kubelet_base(await node_of(api, name), kubelet.scheme), kubelet.ssl
        if port and base.rsplit(":", 1)[1] != port:
            # another port of the node: plain http, and never with the API server's kubelet
            # client certificate (it would be a superuser credential handed to whatever listens)
            base, tls = "http://" + base.split("://", 1)[1].rsplit(":", 1)[0] + ":" + port, None
    elif target.kind == "pods":
        request["resource"] = pods = registry.get("", "v1", "pods")
        pod = await api.objects.get(pods, target.namespace, name)
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            raise errors.ServiceUnavailable(f"pod {name} has no IP address yet")
        base = f"http://{proxy._host(ip)}:{port or _first_container_port(pod)}"
    else:
        request["resource"] = services = registry.get("", "v1", "services")
        service = await api.objects.get(services, target.namespace, name)
        base = await _service_endpoint(api, service, target.namespace, port)
    url = base + quote(target.rest, safe="/%:@!$&'()*+,;=~-._")
    query = MultiDict(request.query)
    if proxy.is_upgrade(request):
        return await proxy.forward_websocket(request, url, query, tls=tls)
    return await proxy.forward_http(request, url, query, tls=tls)


def _first_container_port(pod: dict[str, Any]) -> int:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in (container or {}).get("ports") or []:
            if isinstance(port, dict) and port.get("containerPort"):
                return int(port["containerPort"])
    return 80


def _service_port(service: dict[str, Any], wanted: str) -> dict[str, Any]:
    ports = [p for p in (service.get("spec") or {}).get("ports") or [] if isinstance(p, dict)]
    name = (service.get("metadata") or {}).get("name", "")
    if not wanted:
        if len(ports) == 1:
            return ports[0]
        raise errors.ServiceUnavailable(f'no port given for service "{name}", which has {len(ports)} ports')
    for port in ports:
        if port.get("name") == wanted or str(port.get("port")) == wanted:
            return port
    raise errors.ServiceUnavailable(f'no service port "{wanted}" found for service "{name}"')


async def _service_endpoint(api: RestAPI, service: dict[str, Any], namespace: str, wanted_port: str) -> str:
    port = _service_port(service, wanted_port)
    port_name = port.get("name") or ""
    name = (service.get("metadata") or {}).get("name", "")
    for address, number, ref in await _endpoints(api, namespace, name, port_name):
        if await _allowed(api, namespace, address, ref):
            return f"http://{proxy._host(address)}:{number}"
    raise errors.ServiceUnavailable(f'no endpoints available for service "{name}"')


def _proxyable(address: str) -> bool:
    """Kubernetes proxies only to ordinary addresses; here pods live on loopback node IPs, so
    a loopback address passes only as the IP of the pod its endpoint names (see _endpoints)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_link_local or ip.is_multicast)


async def _pod_has_ip(api: RestAPI, namespace: str, ref: Any, address: str) -> bool:
    if not isinstance(ref, dict) or ref.get("kind") != "Pod" or not isinstance(ref.get("name"), str):
        return False
    try:
        pod = await api.objects.get(api.context.registry.get("", "v1", "pods"), ref.get("namespace") or namespace,
                                    ref["name"])
    except errors.NotFound:
        return False
    return address in {(pod.get("status") or {}).get("podIP"),
                       *(p.get("ip") for p in (pod.get("status") or {}).get("podIPs") or [] if isinstance(p, dict))}


async def _allowed(api: RestAPI, namespace: str, address: str, ref: Any) -> bool:
    if not _proxyable(address):
        return False
    if ipaddress.ip_address(address).is_loopback:  # only a pod's own IP: not the API server's ports
        return await _pod_has_ip(api, namespace, ref, address)
    return True


async def _endpoints(api: RestAPI, namespace: str, service: str, port_name: str) -> list[tuple[str, int, Any]]:
    """Ready (address, port, targetRef) of a service port, from EndpointSlices then Endpoints."""
    found: list[tuple[str, int, Any]] = []
    registry, objects = api.context.registry, api.objects
    slices = registry.get("discovery.k8s.io", "v1", "endpointslices")
    if slices is not None:
        prefix = objects.resource_prefix(slices) + namespace + "/"
        result = await objects.store.range(RangeRequest(prefix, prefix_end(prefix)))
        for kv in result.kvs:
            piece = objects.decode(slices, kv.value, kv.mod_revision)
            if ((piece.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name") != service:
                continue
            numbers = [p.get("port") for p in piece.get("ports") or []
                       if isinstance(p, dict) and (p.get("name") or "") == port_name and p.get("port")]
            for endpoint in piece.get("endpoints") or []:
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    continue
                found += [(address, int(numbers[0]), endpoint.get("targetRef"))
                          for address in endpoint.get("addresses") or [] if numbers]
    if found:
        return found
    endpoints = registry.get("", "v1", "endpoints")
    if endpoints is None:
        return found
    try:
        obj = await objects.get(endpoints, namespace, service)
    except errors.NotFound:
        return found
    for subset in obj.get("subsets") or []:
        numbers = [p.get("port") for p in subset.get("ports") or []
                   if isinstance(p, dict) and (p.get("name") or "") == port_name and p.get("port")]
        if numbers:
            found += [(a.get("ip"), int(numbers[0]), a.get("targetRef")) for a in subset.get("addresses") or []
                      if a.get("ip")]
    return found
