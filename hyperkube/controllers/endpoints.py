"""The Endpoints controller: one ``v1/Endpoints`` per Service with a selector.

Informers on Services, pods and Endpoints. A pod event queues every Service of its namespace
whose selector matches the pod before or after the change; a Service event queues itself; an
Endpoints object changed or deleted by someone else queues its Service, which rewrites it.

``sync(namespace/name)`` builds the subsets from the cache: each matching pod with an IP of
the Service's first family becomes an address (``ip``, ``nodeName``, ``targetRef``,
``hostname`` when its subdomain names the Service), ready or not ready by its Ready condition
(``publishNotReadyAddresses`` makes every one ready, terminating pods included); addresses
with the same resolved ports share a subset (Kubernetes' RepackSubsets). More than 1000
addresses are truncated and the object says so (``endpoints.kubernetes.io/over-capacity``).
The object is written only when it differs, with its resourceVersion, so a stale cache costs
a Conflict and a retry, never a lost update. A deleted Service takes its Endpoints with it.

The ``kubernetes`` Service in ``default`` has no selector: its Endpoints are written by the API
servers themselves (hyperkube/apiserver/masterleases.py), as in Kubernetes.
"""

from __future__ import annotations

from typing import Any

from hyperkube.client import AlreadyExists, NotFound, object_key
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import PODS, is_pod_ready, meta
from hyperkube.controllers.servicepods import (
    ENDPOINTS,
    SERVICES,
    canonical,
    endpoint_ports,
    hostname,
    ip_families,
    is_endpoint_candidate,
    pod_ip,
    ports_key,
    route_selected_pods,
    selector,
    selects,
    service_labels,
    target_ref,
)

MAX_ADDRESSES = 1000
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"


class EndpointsController(Controller):
    name = "endpoint"
    workers_option = "endpoint"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, *, max_addresses: int = MAX_ADDRESSES) -> None:
        super().__init__(ctx)
        self.max_addresses = max_addresses
        self.services = ctx.factory.informer(SERVICES)
        self.pods = ctx.factory.informer(PODS)
        self.endpoints = ctx.factory.informer(ENDPOINTS)
        self.services.add_event_handler(self._service_event, lambda old, new: self._service_event(new),
                                        self._service_event)
        route_selected_pods(self, self.pods, self.services)
        self.endpoints.add_event_handler(None, lambda old, new: self._endpoints_event(new), self._endpoints_event)

    # -- event handlers ---------------------------------------------------------------------------

    def _service_event(self, service: Object) -> None:
        self.enqueue(object_key(service))

    def _endpoints_event(self, endpoints: Object) -> None:
        key = object_key(endpoints)
        if key in self.services.cache:
            self.enqueue(key)

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, key: Any) -> None:
        namespace, name = key.split("/", 1)
        service = self.services.cache.get(key)
        if service is None:
            if key in self.endpoints.cache:
                try:
                    await self.client.delete(ENDPOINTS, name, namespace=namespace)
                except NotFound:
                    pass
            return
        if selector(service) is None:  # manual endpoints, or the API servers' own (masterleases)
            return
        subsets, truncated = self.subsets(service)
        await self._write(service, subsets, service_labels(service), truncated)

    def subsets(self, service: Object) -> tuple[list[Object], bool]:
        """The desired subsets of a Service, and whether they were truncated."""
        namespace = meta(service).get("namespace", "")
        publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        family = ip_families(service)[0]
        groups: dict[Any, Object] = {}
        for pod in self.pods.cache.list(namespace):
            if not selects(service, pod) or not is_endpoint_candidate(pod, include_terminating=publish):
                continue
            ip = pod_ip(pod, family)
            ports = endpoint_ports(service, pod)
            if ip is None or ports is None:
                continue
            address: Object = {"ip": ip}
            name = hostname(service, pod)
            if name:
                address["hostname"] = name
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                address["nodeName"] = node
            address["targetRef"] = target_ref(pod)
            group = groups.setdefault(ports_key(ports), {"ready": [], "unready": [], "ports": ports})
            group["ready" if publish or is_pod_ready(pod) else "unready"].append(address)
        budget = self.max_addresses
        truncated = False
        subsets = []
        for _, group in sorted(groups.items()):
            subset: Object = {}
            for field, which in (("addresses", "ready"), ("notReadyAddresses", "unready")):
                addresses = sorted(group[which], key=lambda a: (a["ip"], a["targetRef"]["name"]))
                if len(addresses) > budget:
                    addresses, truncated = addresses[:budget], True
                budget -= len(addresses)
                if addresses:
                    subset[field] = addresses
            if not subset:
                continue
            if group["ports"]:
                subset["ports"] = group["ports"]
            subsets.append(subset)
        return subsets, truncated

    async def _write(self, service: Object, subsets: list[Object], labels: dict[str, str], truncated: bool) -> None:
        m = meta(service)
        namespace, name = m.get("namespace", ""), m.get("name", "")
        current = self.endpoints.cache.get(f"{namespace}/{name}")
        annotations = dict(meta(current).get("annotations") or {}) if current else {}
        annotations.pop(OVER_CAPACITY, None)
        if truncated:
            annotations[OVER_CAPACITY] = "truncated"
        if current is not None and (canonical(current.get("subsets")) == canonical(subsets)
                                    and (meta(current).get("labels") or {}) == labels
                                    and (meta(current).get("annotations") or {}) == annotations):
            return
        metadata: Object = {"name": name, "namespace": namespace, "labels": labels}
        if annotations:
            metadata["annotations"] = annotations
        body: Object = {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata, "subsets": subsets}
        if current is None:
            try:
                await self.client.create(ENDPOINTS, body, namespace=namespace)
            except AlreadyExists:
                raise  # the cache is behind: requeue and compare with the object once it arrives
            return
        body["metadata"] = {**meta(current), **metadata}
        await self.client.update(ENDPOINTS, body, namespace=namespace)

