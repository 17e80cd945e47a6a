"""The EndpointSlice mirroring controller: hand-written Endpoints as EndpointSlices.

A Service without a selector has its Endpoints written by someone else (an operator, a
user). kube-proxy reads EndpointSlices only, so this controller mirrors each such Endpoints
object into slices labelled ``endpointslice.kubernetes.io/managed-by:
endpointslicemirroring-controller.k8s.io`` and ``kubernetes.io/service-name``, owned by the
Endpoints object: ``addresses`` become ready endpoints, ``notReadyAddresses`` not-ready ones,
each subset's ports the slice's ports, at most ``mirroring_max_endpoints_per_subset`` (1000)
per slice. Endpoints labelled ``endpointslice.kubernetes.io/skip-mirror: "true"`` (the
``kubernetes`` Service's), Endpoints of Services with a selector (the EndpointSlice
controller serves those) and Endpoints without a Service are not mirrored; their mirrored
slices are deleted. Reconciliation and the remembered-writes guard are the EndpointSlice
controller's (:func:`~hyperkube.controllers.endpointslice.plan`).
"""

from __future__ import annotations

from typing import Any

from hyperkube.client import object_key
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.endpointslice import EndpointSliceController, endpoint_key, plan
from hyperkube.controllers.podcontrol import meta
from hyperkube.controllers.servicepods import (
    ENDPOINT_SLICES,
    ENDPOINTS,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    SERVICES,
    SKIP_MIRROR_LABEL,
    family_of,
    ports_key,
    selector,
)

MIRROR_CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
MIRROR_INDEX = "endpointslicemirroring-service"
MAX_PER_SUBSET = 1000


def mirrored_index(obj: Object) -> list[str]:
    labels = meta(obj).get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != MIRROR_CONTROLLER_NAME or not labels.get(SERVICE_NAME_LABEL):
        return []
    return [f"{meta(obj).get('namespace', '')}/{labels[SERVICE_NAME_LABEL]}"]


class EndpointSliceMirroringController(EndpointSliceController):
    name = "endpointslicemirroring"
    workers_option = "endpointslicemirroring"

    def __init__(self, ctx: ControllerContext, *, max_endpoints_per_slice: int | None = None) -> None:
        Controller.__init__(self, ctx)
        self.max_per_slice = int(max_endpoints_per_slice or ctx.options.get("mirroring_max_endpoints_per_subset")
                                 or MAX_PER_SUBSET)
        self.written = {}
        self.services = ctx.factory.informer(SERVICES)
        self.endpoints = ctx.factory.informer(ENDPOINTS)
        self.slices = ctx.factory.informer(ENDPOINT_SLICES, indexers={MIRROR_INDEX: mirrored_index})
        for informer in (self.services, self.endpoints):
            informer.add_event_handler(self._object, lambda old, new: self._object(new), self._object)
        self.slices.add_event_handler(self._mirrored, lambda old, new: self._mirrored(new), self._mirrored)

    def _object(self, obj: Object) -> None:
        self.enqueue(object_key(obj))

    def _mirrored(self, piece: Object) -> None:
        for key in mirrored_index(piece):
            self.enqueue(key)

    async def sync(self, key: Any) -> None:
        if self._cache_behind(key):
            self.enqueue_after(key, 0.05)
            return
        service = self.services.cache.get(key)
        endpoints = self.endpoints.cache.get(key)
        existing = self.slices.cache.by_index(MIRROR_INDEX, key)
        mirror = (service is not None and endpoints is not None and selector(service) is None
                  and (meta(endpoints).get("labels") or {}).get(SKIP_MIRROR_LABEL) != "true")
        desired = self.mirrored(endpoints) if mirror and endpoints is not None else {}
        if not desired:
            for piece in existing:
                await self._delete(key, piece)
            return
        assert service is not None and endpoints is not None
        labels = {**{k: v for k, v in (meta(endpoints).get("labels") or {}).items() if k != SKIP_MIRROR_LABEL},
                  SERVICE_NAME_LABEL: meta(service).get("name", ""), MANAGED_BY_LABEL: MIRROR_CONTROLLER_NAME}
        to_create, to_update, to_delete = plan(service, labels, desired, existing, self.max_per_slice)
        m = meta(endpoints)
        owner = {"apiVersion": "v1", "kind": "Endpoints", "name": m.get("name", ""), "uid": m.get("uid", ""),
                 "controller": True, "blockOwnerDeletion": True}
        for piece in to_create:
            piece["metadata"]["ownerReferences"] = [owner]
            self._remember(key, await self.client.create(ENDPOINT_SLICES, piece, namespace=m.get("namespace")))
        for piece in to_update:
            body = {**piece, "metadata": {**meta(piece), "labels": labels}}
            self._remember(key, await self.client.update(ENDPOINT_SLICES, body))
        for piece in to_delete:
            await self._delete(key, piece)

    @staticmethod
    def mirrored(endpoints: Object) -> dict[tuple[str, Any], tuple[list[Object], dict[Any, Object]]]:
        groups: dict[tuple[str, Any], tuple[list[Object], dict[Any, Object]]] = {}
        for subset in endpoints.get("subsets") or ():
            ports = sorted(({"name": p.get("name") or "", "port": p.get("port"), "protocol": p.get("protocol") or "TCP",
                             **({"appProtocol": p["appProtocol"]} if p.get("appProtocol") else {})}
                            for p in subset.get("ports") or ()), key=lambda p: (p["name"], p["port"], p["protocol"]))
            for field, ready in (("addresses", True), ("notReadyAddresses", False)):
                for address in subset.get(field) or ():
                    family = family_of(address.get("ip", ""))
                    if not family:
                        continue
                    endpoint: Object = {"addresses": [address["ip"]],
                                        "conditions": {"ready": ready, "serving": ready, "terminating": False}}
                    for name in ("hostname", "nodeName", "targetRef"):
                        if address.get(name):
                            endpoint[name] = address[name]
                    groups.setdefault((family, ports_key(ports)), (ports, {}))[1][endpoint_key(endpoint)] = endpoint
        return groups
