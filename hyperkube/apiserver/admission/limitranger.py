"""LimitRanger: the LimitRanges of a namespace default and bound what pods and PVCs ask for.

- On pod create, every container (and init container) without a request or limit for a
  resource a ``type: Container`` item defaults gets ``defaultRequest`` / ``default`` (the
  LimitRange strategy already filled those from ``max``/``min``), and the pod is annotated
  ``kubernetes.io/limit-ranger`` with what was set, as Kubernetes does.
- On pod create and update it then checks ``min``, ``max`` and ``maxLimitRequestRatio`` per
  container and, for ``type: Pod``, on the pod's totals; on PVC create and update, ``min`` and
  ``max`` of ``requests.storage``. Every failure is one line of Kubernetes' wording, several
  are joined as Kubernetes' aggregate error prints them (``[a, b]``).
"""

from __future__ import annotations

from typing import Any

from hyperkube.apiserver.admission import register
from hyperkube.apiserver.admission.common import Object, forbidden, is_pods, listed, metadata, quantity
from hyperkube.apiserver.auth import AdmissionRequest
from hyperkube.machinery.quantity import Quantity

ANNOTATION = "kubernetes.io/limit-ranger"


def _containers(spec: Object) -> list[tuple[str, Object]]:
    return [("init container" if group == "initContainers" else "container", c)
            for group in ("initContainers", "containers") for c in (spec.get(group) or []) if isinstance(c, dict)]


def _resources(container: Object) -> tuple[Object, Object]:
    resources = container.get("resources")
    if not isinstance(resources, dict):
        resources = container["resources"] = {}
    requests = resources.get("requests") if isinstance(resources.get("requests"), dict) else {}
    limits = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
    return requests, limits


def _parsed(values: Any) -> dict[str, Quantity]:
    out = {}
    for name, value in (values or {}).items() if isinstance(values, dict) else ():
        q = quantity(value)
        if q is not None:
            out[name] = q
    return out


def _min(kind: str, name: str, enforced: Quantity, request: dict[str, Quantity],
         limit: dict[str, Quantity]) -> str | None:
    if name not in request:
        return f"minimum {name} usage per {kind} is {enforced}.  No request is specified"
    if request[name] < enforced:
        return f"minimum {name} usage per {kind} is {enforced}, but request is {request[name]}"
    if name in limit and limit[name] < enforced:
        return f"minimum {name} usage per {kind} is {enforced}, but limit is {limit[name]}"
    return None


def _max(kind: str, name: str, enforced: Quantity, request: dict[str, Quantity],
         limit: dict[str, Quantity]) -> str | None:
    if name not in limit:
        return f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"
    if limit[name] > enforced:
        return f"maximum {name} usage per {kind} is {enforced}, but limit is {limit[name]}"
    if name in request and request[name] > enforced:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {request[name]}"
    return None


def _ratio(kind: str, name: str, enforced: Quantity, request: dict[str, Quantity],
           limit: dict[str, Quantity]) -> str | None:
    prefix = f"{name} max limit to request ratio per {kind} is {enforced}"
    if name not in request or request[name].is_zero():
        return f"{prefix}, but no request is specified or request is 0"
    if name not in limit or limit[name].is_zero():
        return f"{prefix}, but no limit is specified or limit is 0"
    observed = limit[name].value / request[name].value
    if observed > enforced.value:
        return f"{prefix}, but provided ratio is {float(observed):f}"
    return None


def check(kind: str, item: Object, request: dict[str, Quantity], limit: dict[str, Quantity]) -> list[str]:
    problems: list[str | None] = []
    for name, bound in _parsed(item.get("min")).items():
        problems.append(_min(kind, name, bound, request, limit))
    for name, bound in _parsed(item.get("max")).items():
        problems.append(_max(kind, name, bound, request, limit))
    for name, bound in _parsed(item.get("maxLimitRequestRatio")).items():
        problems.append(_ratio(kind, name, bound, request, limit))
    return [p for p in problems if p]


def pod_totals(spec: Object) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """The pod's requests and limits: sum over containers, at least each init container's."""
    totals: list[dict[str, Quantity]] = [{}, {}]
    for group in ("containers", "initContainers"):
        for container in spec.get(group) or []:
            if not isinstance(container, dict):
                continue
            for index, key in enumerate(("requests", "limits")):
                for name, q in _parsed((container.get("resources") or {}).get(key)).items():
                    current = totals[index].get(name)
                    if group == "containers":
                        totals[index][name] = q if current is None else current + q
                    elif current is None or q > current:
                        totals[index][name] = q
    return totals[0], totals[1]


def aggregate(problems: list[str]) -> str:
    return problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"


@register("LimitRanger")
class LimitRanger:
    name = "LimitRanger"

    def __init__(self, config: Any, objects: Any) -> None:
        self.objects = objects

    def wants(self, resource: Any, subresource: str, operation: str) -> bool:
        if subresource or operation not in ("CREATE", "UPDATE") or resource.group:
            return False
        return resource.plural in ("pods", "persistentvolumeclaims")

    async def _items(self, namespace: str, *kinds: str) -> list[list[Object]]:
        """The namespace's LimitRange items of each kind (one lookup for all)."""
        ranges = await listed(self.objects, "", "limitranges", namespace)
        items = [item for r in ranges for item in ((r.get("spec") or {}).get("limits") or []) if isinstance(item, dict)]
        return [[item for item in items if item.get("type") == kind] for kind in kinds]

    async def admit(self, request: AdmissionRequest) -> None:
        if request.operation != "CREATE" or not is_pods(request.resource):
            return
        spec = (request.obj or {}).get("spec")
        if not isinstance(spec, dict):
            return
        [items] = await self._items(request.namespace, "Container")
        if not items:
            return
        notes = []
        for kind, container in _containers(spec):
            requests, limits = _resources(container)
            for name, value in limits.items():  # Kubernetes' defaulting, before admission
                requests.setdefault(name, value)
            set_requests: list[str] = []
            set_limits: list[str] = []
            for item in items:
                for name, value in (item.get("defaultRequest") or {}).items():
                    if name not in requests:
                        requests[name] = value
                        set_requests.append(name)
                for name, value in (item.get("default") or {}).items():
                    if name not in limits:
                        limits[name] = value
                        set_limits.append(name)
            if requests:
                container["resources"]["requests"] = requests
            if limits:
                container["resources"]["limits"] = limits
            if set_requests:
                notes.append(f"{', '.join(sorted(set_requests))} request for {kind} {container.get('name', '')}")
            if set_limits:
                notes.append(f"{', '.join(sorted(set_limits))} limit for {kind} {container.get('name', '')}")
        if notes:
            meta = request.obj.setdefault("metadata", {})  # type: ignore[union-attr]
            annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
            annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
            meta["annotations"] = annotations

    async def validate(self, request: AdmissionRequest) -> None:
        obj = request.obj or {}
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        problems: list[str] = []
        if is_pods(request.resource):
            if request.operation == "UPDATE" and request.old is not None and \
                    (metadata(obj).get("deletionTimestamp") or spec == (request.old.get("spec") or {})):
                return  # only a changed pod spec is checked again
            per_container, per_pod = await self._items(request.namespace, "Container", "Pod")
            for item in per_container:
                for _kind, container in _containers(spec):
                    resources = container.get("resources") or {}
                    problems += check("Container", item, _parsed(resources.get("requests")),
                                      _parsed(resources.get("limits")))
            for item in per_pod:
                problems += check("Pod", item, *pod_totals(spec))
        else:
            wanted = _parsed((spec.get("resources") or {}).get("requests"))
            [claims] = await self._items(request.namespace, "PersistentVolumeClaim")
            for item in claims:
                for name, bound in _parsed(item.get("min")).items():
                    problems.append(_min("PersistentVolumeClaim", name, bound, wanted, {}) or "")
                for name, bound in _parsed(item.get("max")).items():
                    problems.append(_max("PersistentVolumeClaim", name, bound, {}, wanted) or "")
            problems = [p for p in problems if p]
        if problems:
            raise forbidden(request, aggregate(problems))
