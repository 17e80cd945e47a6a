"""What the Endpoints and EndpointSlice controllers share: which pods back a Service, and how.

- A Service selects pods by its ``spec.selector`` map (every pair must match); a Service
  without one (or of type ExternalName) has its endpoints written by someone else.
- A pod is an endpoint once it has an IP and while it is not finished (Succeeded/Failed).
  A terminating pod is kept only where the caller asks for it: EndpointSlices keep it with
  ``terminating: true``; Endpoints keep it only for ``publishNotReadyAddresses``.
- A service port's ``targetPort`` is a number, or a name looked up among the pod's container
  ports (same protocol); a pod that does not expose the name has no endpoint for that port.
- The ``kubernetes`` Service in ``default`` has no selector: its endpoints are the API
  server(s), here the one the controller manager talks to (the Service's targetPort is the
  server's port).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hyperkube.client import object_key
from hyperkube.controllers.base import Controller, Object
from hyperkube.controllers.podcontrol import is_pod_ready, is_terminating, meta

SERVICES = "v1/services"
ENDPOINTS = "v1/endpoints"
ENDPOINT_SLICES = "discovery.k8s.io/v1/endpointslices"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
MASTER_SERVICE = "default/kubernetes"


def selector(service: Object) -> dict[str, str] | None:
    """The Service's selector map, or None when its endpoints are not ours to manage."""
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    found = spec.get("selector")
    return dict(found) if found else None


def selects(service: Object, pod: Object) -> bool:
    wanted = selector(service)
    if wanted is None or meta(pod).get("namespace") != meta(service).get("namespace"):
        return False
    labels = meta(pod).get("labels") or {}
    return all(labels.get(k) == v for k, v in wanted.items())


def route_selected_pods(controller: Controller, pods: Any, services: Any) -> None:
    """Queue every Service whose selector matches a pod that is added, changes or goes.

    A label change queues the Services the pod left as well as those it joined."""

    def services_of(pod: Object) -> set[str]:
        namespace = meta(pod).get("namespace", "")
        return {object_key(s) for s in services.cache.list(namespace) if selects(s, pod)}

    def changed(pod: Object) -> None:
        for key in services_of(pod):
            controller.enqueue(key)

    def updated(old: Object, new: Object) -> None:
        keys = services_of(new)
        if meta(old).get("labels") != meta(new).get("labels"):
            keys |= services_of(old)
        for key in keys:
            controller.enqueue(key)

    pods.add_event_handler(changed, updated, changed)


def ip_families(service: Object) -> list[str]:
    families = (service.get("spec") or {}).get("ipFamilies") or []
    return [f for f in families if f in ("IPv4", "IPv6")] or ["IPv4"]


def family_of(ip: str) -> str:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return ""


def pod_ip(pod: Object, family: str) -> str | None:
    """The pod's IP of one family (``status.podIPs``, else ``status.podIP``)."""
    status = pod.get("status") or {}
    candidates = [entry.get("ip") for entry in status.get("podIPs") or () if entry.get("ip")]
    if status.get("podIP"):
        candidates.append(status["podIP"])
    return next((ip for ip in candidates if family_of(ip) == family), None)


def is_endpoint_candidate(pod: Object, include_terminating: bool) -> bool:
    """Kubernetes' ShouldPodBeInEndpoints: has an IP, not finished, terminating as asked."""
    status = pod.get("status") or {}
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    if status.get("phase") in ("Succeeded", "Failed"):
        return False
    return include_terminating or not is_terminating(pod)


def find_port(pod: Object, service_port: Object) -> int | None:
    """The pod's port number for a service port (FindPort): a number, or a named container port."""
    target = service_port.get("targetPort")
    if target in (None, "", 0):
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return port.get("containerPort")
    return None


def endpoint_ports(service: Object, pod: Object) -> list[Object] | None:
    """The pod's resolved ports (sorted), ``[]`` for a Service without ports, None if none resolve."""
    service_ports = (service.get("spec") or {}).get("ports") or []
    ports = []
    for service_port in service_ports:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: Object = {"name": service_port.get("name") or "", "port": number,
                        "protocol": service_port.get("protocol") or "TCP"}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    if service_ports and not ports:
        return None
    return sorted(ports, key=lambda p: (p["name"], p["port"], p["protocol"]))


def ports_key(ports: list[Object]) -> tuple[tuple[Any, ...], ...]:
    return tuple((p.get("name") or "", p.get("port"), p.get("protocol") or "TCP", p.get("appProtocol") or "")
                 for p in ports)


def target_ref(pod: Object) -> Object:
    m = meta(pod)
    return {"kind": "Pod", "namespace": m.get("namespace", ""), "name": m.get("name", ""), "uid": m.get("uid", "")}


def hostname(service: Object, pod: Object) -> str | None:
    """A pod's ``spec.hostname`` names its endpoint when its subdomain is this Service."""
    pod_spec = pod.get("spec") or {}
    if pod_spec.get("hostname") and pod_spec.get("subdomain") == meta(service).get("name"):
        return pod_spec["hostname"]
    return None


def slice_conditions(service: Object, pod: Object) -> Object:
    """ready, serving and terminating as the EndpointSlice controller reports them."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    serving = publish or is_pod_ready(pod)
    terminating = is_terminating(pod)
    return {"ready": publish or (serving and not terminating), "serving": serving, "terminating": terminating}


def service_labels(service: Object) -> dict[str, str]:
    """Labels the endpoints objects carry: the Service's own, plus ``headless`` when it is."""
    labels = dict(meta(service).get("labels") or {})
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    return labels


def canonical(value: Any) -> Any:
    """Drop empty lists, maps, strings and None, so what the server omits compares equal."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value
