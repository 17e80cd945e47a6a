"""Subresources: ``status`` (every kind with one), ``scale`` (workloads), ``binding`` (pods),
``finalize`` (namespaces), ``eviction`` (``eviction.py``), and ``log``/``exec``/``attach``/
``portforward`` proxied to the pod's kubelet (``pod_streams.py``). ``proxy`` paths are routed
before path resolution (``proxy_paths.py``); the rest the registry lists (``ephemeralcontainers``,
``resize``) answer 404 here rather than pretend.

``scale`` speaks ``autoscaling/v1`` Scale and writes ``spec.replicas`` of the parent through
the normal update path (so generation bumps and optimistic concurrency apply); ``binding``
sets ``spec.nodeName`` of an unbound pod in one compare-and-put, bypassing the pod's
"spec is immutable" rule exactly as Kubernetes' binding REST does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from hyperkube.apiserver import bodies, eviction, paths, pod_streams
from hyperkube.apiserver import patch as patching
from hyperkube.apiserver.authn import tokenrequest
from hyperkube.machinery import errors, selectors
from hyperkube.machinery.durations import now_rfc3339
from hyperkube.storage.interface import Compare, PutRequest

if TYPE_CHECKING:
    from hyperkube.apiserver.handlers import RestAPI

SCALE_API_VERSION = "autoscaling/v1"


async def handle(api: RestAPI, request: web.Request, target: paths.Target) -> web.StreamResponse:
    sub = target.subresource
    method = request.method
    if target.is_collection:
        raise paths.not_found()
    if sub == "status":
        if method == "GET":
            return await api.get(request, target)
        if method == "PUT":
            return await api.update(request, target, subresource="status")
    elif sub == "finalize" and method == "PUT":
        return await api.update(request, target, subresource="finalize")
    elif sub == "scale":
        if method == "GET":
            request["verb"] = "get"
            obj = await api.objects.get(target.resource, target.namespace, target.name)
            return bodies.json_response(scale_of(obj, target.resource))
        if method == "PUT":
            return await put_scale(api, request, target)
    elif sub == "binding" and method == "POST":
        return await bind(api, request, target)
    elif sub == "eviction" and method == "POST" and target.resource.plural == "pods":
        return await eviction.evict(api, request, target)
    elif sub in ("log", "exec", "attach", "portforward") and target.resource.plural == "pods" \
            and target.resource.group == "":
        return await pod_streams.handle(api, request, target)
    elif sub == "token" and target.resource.plural == "serviceaccounts" and target.resource.group == "":
        return await tokenrequest.token_request(api, request, target)
    elif sub in ("log", "exec", "attach", "portforward", "proxy", "eviction", "ephemeralcontainers", "resize"):
        raise errors.NotFound(f"the server could not find the requested resource ({sub} is not served yet)")
    if method == "PATCH" and sub in ("status", "scale"):
        return await patching.handle(api, request, target, subresource=sub)
    raise errors.MethodNotAllowed(f"the server does not allow this method on the requested resource ({method})")


def selector_string(selector: Any) -> str:
    if not isinstance(selector, dict):
        return ""
    if "matchLabels" in selector or "matchExpressions" in selector:
        try:
            return str(selectors.label_selector_from_dict(selector))
        except errors.APIError:
            return ""
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))  # ReplicationController's map


def set_replicas(resource: Any, obj: dict[str, Any], replicas: int) -> None:
    """Write the Scale's replicas into the parent (a custom resource says where: its strategy)."""
    custom = getattr(resource.strategy, "set_replicas", None)
    if custom is not None:
        custom(obj, replicas)
    else:
        obj.setdefault("spec", {})["replicas"] = replicas


def scale_of(obj: dict[str, Any], resource: Any = None) -> dict[str, Any]:
    custom = getattr(getattr(resource, "strategy", None), "scale_of", None)
    if custom is not None:  # a custom resource: the CRD's specReplicasPath and friends
        return custom(obj)
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return {
        "kind": "Scale", "apiVersion": SCALE_API_VERSION,
        "metadata": {k: metadata[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in metadata},
        "spec": {"replicas": spec.get("replicas", 1) if isinstance(spec.get("replicas", 1), int) else 0},
        "status": {"replicas": status.get("replicas", 0) or 0, "selector": selector_string(spec.get("selector"))},
    }


async def put_scale(api: RestAPI, request: web.Request, target: paths.Target) -> web.StreamResponse:
    request["verb"] = "update"
    data = await bodies.read_body(request)
    body = bodies.decode_object(data, request.headers.get("Content-Type"))
    replicas = (body.get("spec") or {}).get("replicas") if isinstance(body.get("spec"), dict) else None
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.Invalid.for_object("Scale", target.name, [errors.cause(
            "spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0")], "autoscaling")
    wanted = ((body.get("metadata") or {}).get("resourceVersion") or "") if isinstance(body.get("metadata"),
                                                                                         dict) else ""
    resource = target.resource
    for _attempt in range(16):
        current = await api.objects.get(resource, target.namespace, target.name)
        if wanted and wanted != current["metadata"].get("resourceVersion"):
            raise errors.Conflict.for_object(resource.plural, target.name, "the object has been modified; please "
                                             "apply your changes to the latest version and try again",
                                             resource.group)
        set_replicas(resource, current, replicas)
        try:
            written = await api.objects.update(resource, target.namespace, target.name, current,
                                               field_manager=patching.manager_name(request, "", "UpdateOptions"))
        except errors.Conflict:
            if wanted:
                raise
            continue
        return bodies.json_response(scale_of(written.obj, resource))
    raise errors.Conflict.for_object(resource.plural, target.name, "too many concurrent updates", resource.group)


async def bind(api: RestAPI, request: web.Request, target: paths.Target) -> web.StreamResponse:
    """POST pods/NAME/binding: set spec.nodeName of a pod that has none."""
    request["verb"] = "create"
    data = await bodies.read_body(request)
    binding = bodies.decode_object(data, request.headers.get("Content-Type"))
    if target.is_collection:  # POST namespaces/NS/bindings: the pod is named in the body
        name = (binding.get("metadata") or {}).get("name") if isinstance(binding.get("metadata"), dict) else None
        if not isinstance(name, str) or not name:
            raise errors.Invalid.for_object("Binding", "", [errors.cause("metadata.name", "Required value",
                                                                        "FieldValueRequired")])
        pods = api.context.registry.get("", "v1", "pods")
        if pods is None:
            raise paths.not_found()
        target = paths.Target(pods, target.namespace, name, "binding")
    node = (binding.get("target") or {}).get("name") if isinstance(binding.get("target"), dict) else None
    if not isinstance(node, str) or not node:
        raise errors.Invalid.for_object("Binding", target.name, [errors.cause(
            "target.name", "Required value", "FieldValueRequired")])
    resource = target.resource
    objects = api.objects
    key = objects.key(resource, target.namespace, target.name)
    for _attempt in range(16):
        kv = await objects.read(resource, target.namespace, target.name)
        pod = objects.decode(resource, kv.value, kv.mod_revision)
        spec = pod.setdefault("spec", {})
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            raise errors.Conflict.for_object(resource.plural, target.name, "pod is being deleted, cannot be assigned "
                                             "to a host")
        if spec.get("nodeName"):
            raise errors.Conflict.for_object(resource.plural, target.name,
                                             f'pod {target.name} is already assigned to node "{spec["nodeName"]}"')
        spec["nodeName"] = node
        annotations = ((binding.get("metadata") or {}).get("annotations") if isinstance(binding.get("metadata"),
                                                                                          dict) else None)
        if isinstance(annotations, dict):
            pod["metadata"].setdefault("annotations", {}).update(
                {str(k): str(v) for k, v in annotations.items()})
        conditions = pod.setdefault("status", {}).setdefault("conditions", [])
        if isinstance(conditions, list):
            conditions[:] = [c for c in conditions if not (isinstance(c, dict) and c.get("type") == "PodScheduled")]
            conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": now_rfc3339()})
        value = objects.encode(resource, pod)
        result = await objects.store.txn([Compare(key, "mod", "=", kv.mod_revision)], [PutRequest(key, value)])
        if result.succeeded:
            objects.wrote(resource, result.revision)
            return bodies.raw_response(orjson.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                     "status": "Success", "code": 201}), 201)
    raise errors.Conflict.for_object(resource.plural, target.name, "too many concurrent updates")
