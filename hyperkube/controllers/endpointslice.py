"""The EndpointSlice controller: a Service's endpoints as ``discovery.k8s.io/v1`` slices.

Same triggers as the Endpoints controller (Services, pods), plus the slices it manages
(labelled ``endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`` and
``kubernetes.io/service-name``, owned by the Service), so a slice changed or deleted by
someone else is put back.

Every matching pod with an IP becomes an endpoint per address family of the Service, with
``ready`` / ``serving`` / ``terminating`` (terminating pods stay, as not ready). Endpoints with
the same resolved ports go to slices of one address type and port list, at most
``max_endpoints_per_slice`` (100) each. Reconciling moves as little as possible, as
Kubernetes does: an endpoint stays in the slice that already holds it (updated in place when
its conditions change), a slice left empty is deleted, new endpoints first fill slices being
updated anyway, then slices with room, then new slices. A Service without endpoints keeps one
empty placeholder slice.

The informer may lag behind our own writes; creating from a stale cache would duplicate
slices. So each write is remembered (slice name -> resourceVersion, or deletion) until the
cache shows it, and a Service whose cache is behind is retried shortly instead of synced.

The ``kubernetes`` Service's slice is the API servers' own (hyperkube/apiserver/masterleases.py):
this controller leaves it alone.
"""

from __future__ import annotations

import time
from typing import Any

from hyperkube.client import NotFound, object_key
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import PODS, meta
from hyperkube.controllers.servicepods import (
    ENDPOINT_SLICES,
    MANAGED_BY_LABEL,
    MASTER_SERVICE,
    SERVICE_NAME_LABEL,
    SERVICES,
    SLICE_CONTROLLER_NAME,
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
    slice_conditions,
    target_ref,
)

MAX_ENDPOINTS_PER_SLICE = 100
SERVICE_INDEX = "endpointslice-service"
WRITE_MEMORY = 10.0  # seconds a remembered write waits for the informer before it is forgotten


def managed_service_index(obj: Object) -> list[str]:
    """Slices this controller manages, filed under ``namespace/service``."""
    labels = meta(obj).get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != SLICE_CONTROLLER_NAME or not labels.get(SERVICE_NAME_LABEL):
        return []
    return [f"{meta(obj).get('namespace', '')}/{labels[SERVICE_NAME_LABEL]}"]


def endpoint_key(endpoint: Object) -> Any:
    ref = endpoint.get("targetRef") or {}
    return ref.get("uid") or tuple(endpoint.get("addresses") or ())


class EndpointSliceController(Controller):
    name = "endpointslice"
    workers_option = "endpointslice"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, *, max_endpoints_per_slice: int | None = None) -> None:
        super().__init__(ctx)
        self.max_per_slice = int(max_endpoints_per_slice or ctx.options.get("max_endpoints_per_slice")
                                 or MAX_ENDPOINTS_PER_SLICE)
        self.services = ctx.factory.informer(SERVICES)
        self.pods = ctx.factory.informer(PODS)
        self.slices = ctx.factory.informer(ENDPOINT_SLICES, indexers={SERVICE_INDEX: managed_service_index})
        #: service key -> slice name -> (resourceVersion written or None for deleted, when)
        self.written: dict[str, dict[str, tuple[int | None, float]]] = {}
        self.services.add_event_handler(self._service_event, lambda old, new: self._service_event(new),
                                        self._service_event)
        route_selected_pods(self, self.pods, self.services)
        self.slices.add_event_handler(self._slice_event, lambda old, new: self._slice_event(new), self._slice_event)

    # -- event handlers ---------------------------------------------------------------------------

    def _service_event(self, service: Object) -> None:
        self.enqueue(object_key(service))

    def _slice_event(self, piece: Object) -> None:
        for key in managed_service_index(piece):
            self.enqueue(key)

    # -- remembered writes ------------------------------------------------------------------------

    def _remember(self, key: str, piece: Object | str) -> None:
        if isinstance(piece, str):
            self.written.setdefault(key, {})[piece] = (None, time.monotonic())
        else:
            rv = int(meta(piece).get("resourceVersion") or 0)
            self.written.setdefault(key, {})[meta(piece)["name"]] = (rv, time.monotonic())

    def _cache_behind(self, key: str) -> bool:
        pending = self.written.get(key)
        if not pending:
            return False
        namespace = key.split("/", 1)[0]
        now = time.monotonic()
        for name, (rv, when) in list(pending.items()):
            cached = self.slices.cache.get(f"{namespace}/{name}")
            seen = cached is None if rv is None else (
                cached is not None and int(meta(cached).get("resourceVersion") or 0) >= rv)
            if seen or now - when > WRITE_MEMORY:
                del pending[name]
        if not pending:
            del self.written[key]
        return bool(pending)

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, key: Any) -> None:
        if self._cache_behind(key):
            self.enqueue_after(key, 0.05)
            return
        if key == MASTER_SERVICE:
            return  # the API servers keep the kubernetes Service's slice (masterleases.py)
        service = self.services.cache.get(key)
        existing = self.slices.cache.by_index(SERVICE_INDEX, key)
        if service is None or selector(service) is None:
            for piece in existing:
                await self._delete(key, piece)
            return
        desired = self.desired(service)
        await self.reconcile(service, key, desired, existing)

    def desired(self, service: Object) -> dict[tuple[str, Any], tuple[list[Object], dict[Any, Object]]]:
        """(addressType, ports) -> (ports, endpoint key -> endpoint) for every matching pod."""
        groups: dict[tuple[str, Any], tuple[list[Object], dict[Any, Object]]] = {}
        namespace = meta(service).get("namespace", "")
        for pod in self.pods.cache.list(namespace):
            if not selects(service, pod) or not is_endpoint_candidate(pod, include_terminating=True):
                continue
            ports = endpoint_ports(service, pod)
            if ports is None:
                continue
            for family in ip_families(service):
                ip = pod_ip(pod, family)
                if ip is None:
                    continue
                endpoint: Object = {"addresses": [ip], "conditions": slice_conditions(service, pod)}
                name = hostname(service, pod)
                if name:
                    endpoint["hostname"] = name
                node = (pod.get("spec") or {}).get("nodeName")
                if node:
                    endpoint["nodeName"] = node
                endpoint["targetRef"] = target_ref(pod)
                group = groups.setdefault((family, ports_key(ports)), (ports, {}))
                group[1][endpoint_key(endpoint)] = endpoint
        return groups

    async def reconcile(self, service: Object, key: str,
                        desired: dict[tuple[str, Any], tuple[list[Object], dict[Any, Object]]],
                        existing: list[Object]) -> None:
        labels = self.labels(service)
        to_create, to_update, to_delete = plan(service, labels, desired, existing, self.max_per_slice)
        for piece in to_create:
            created = await self.client.create(ENDPOINT_SLICES, piece, namespace=meta(service).get("namespace"))
            self._remember(key, created)
        for piece in to_update:
            body = {**piece, "metadata": {**meta(piece), "labels": labels}}
            updated = await self.client.update(ENDPOINT_SLICES, body)
            self._remember(key, updated)
        for piece in to_delete:
            await self._delete(key, piece)

    def labels(self, service: Object) -> dict[str, str]:
        return {**service_labels(service), SERVICE_NAME_LABEL: meta(service).get("name", ""),
                MANAGED_BY_LABEL: SLICE_CONTROLLER_NAME}

    async def _delete(self, key: str, piece: Object) -> None:
        m = meta(piece)
        try:
            await self.client.delete(ENDPOINT_SLICES, m["name"], namespace=m.get("namespace"),
                                     preconditions={"uid": m.get("uid", "")})
        except NotFound:
            pass
        self._remember(key, m["name"])


def new_slice(service: Object, labels: dict[str, str], address_type: str, ports: list[Object],
              endpoints: list[Object]) -> Object:
    m = meta(service)
    owner = {"apiVersion": "v1", "kind": "Service", "name": m.get("name", ""), "uid": m.get("uid", ""),
             "controller": True, "blockOwnerDeletion": True}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{m.get('name', '')[:55]}-", "namespace": m.get("namespace", ""),
                         "labels": labels, "ownerReferences": [owner]},
            "addressType": address_type, "endpoints": endpoints, "ports": ports}


Groups = dict[tuple[str, Any], tuple[list[Object], dict[Any, Object]]]


def plan(service: Object, labels: dict[str, str], desired: Groups, existing: list[Object],
         max_per_slice: int) -> tuple[list[Object], list[Object], list[Object]]:
    """The slices to create, update (whole new bodies) and delete to get from ``existing`` to
    ``desired``, moving as few endpoints as possible (see the module docstring)."""
    to_create: list[Object] = []
    to_update: list[Object] = []
    to_delete: list[Object] = []
    if not desired:  # one empty placeholder slice of the first family
        family = ip_families(service)[0]
        keep = next((p for p in existing if not p.get("endpoints") and not p.get("ports")
                     and p.get("addressType") == family), None)
        to_delete = [p for p in existing if p is not keep]
        if keep is None:
            to_create.append(new_slice(service, labels, family, [], []))
        elif (meta(keep).get("labels") or {}) != labels:
            to_update.append(keep)
        return to_create, to_update, to_delete
    by_group: dict[tuple[str, Any], list[Object]] = {}
    for piece in existing:
        group = (piece.get("addressType", ""), ports_key(piece.get("ports") or []))
        if group in desired:
            by_group.setdefault(group, []).append(piece)
        else:
            to_delete.append(piece)
    for group, (ports, wanted) in desired.items():
        placed: set[Any] = set()
        kept: list[tuple[Object, bool]] = []  # (new body, changed)
        for piece in by_group.get(group, []):
            endpoints = []
            for endpoint in piece.get("endpoints") or []:
                k = endpoint_key(endpoint)
                if k in wanted and k not in placed:
                    placed.add(k)
                    endpoints.append(wanted[k])
            if not endpoints:
                to_delete.append(piece)
                continue
            changed = (canonical(endpoints) != canonical(piece.get("endpoints") or [])
                       or (meta(piece).get("labels") or {}) != labels)
            kept.append(({**piece, "endpoints": endpoints}, changed))
        remaining = [endpoint for k, endpoint in wanted.items() if k not in placed]
        kept.sort(key=lambda entry: not entry[1])  # fill slices written anyway first
        for index, (piece, _) in enumerate(kept):
            room = max_per_slice - len(piece["endpoints"])
            if remaining and room > 0:
                piece["endpoints"] = piece["endpoints"] + remaining[:room]
                remaining = remaining[room:]
                kept[index] = (piece, True)
        to_update += [piece for piece, changed in kept if changed]
        while remaining:
            chunk, remaining = remaining[:max_per_slice], remaining[max_per_slice:]
            to_create.append(new_slice(service, labels, group[0], ports, chunk))
    return to_create, to_update, to_delete
