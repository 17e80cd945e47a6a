"""``POST pods/{name}/eviction``: a policy/v1 Eviction, a delete that honours PodDisruptionBudgets.

As Kubernetes' eviction REST does:

- a pod that is finished (Succeeded, Failed), Pending, or already being deleted is deleted
  without looking at budgets; so is a pod no budget selects;
- two or more budgets selecting the pod is a 500 (the eviction API can't pick one);
- otherwise the budget must allow one more disruption, else 429 TooManyRequests
  "Cannot evict pod as it would violate the pod's disruption budget." with a
  ``DisruptionBudget`` cause saying how many healthy pods it needs and has.

Where the allowance comes from: a budget whose ``status.observedGeneration`` has caught up
with its generation was computed by the disruption controller, so its
``status.disruptionsAllowed`` is used and decremented (the pod recorded in
``status.disruptedPods``) with a compare-and-swap, before the pod is deleted. A budget the
controller hasn't processed (no controller runs, or it is behind) is computed here from the
pods it selects: healthy pods (Ready, not being deleted) minus the desired healthy count
from ``minAvailable`` or ``maxUnavailable`` (percentages of the selected pods, rounded up).
An unready pod may go when the budget is healthy anyway, or always with
``unhealthyPodEvictionPolicy: AlwaysAllow``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hyperkube.apiserver import bodies, deletion, paths, protobuf_bodies
from hyperkube.machinery import errors, selectors
from hyperkube.machinery.durations import now_rfc3339
from hyperkube.storage.interface import Compare, PutRequest, RangeRequest, prefix_end

if TYPE_CHECKING:
    from hyperkube.apiserver.handlers import RestAPI

VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
MAX_DISRUPTED_PODS = 2000
ATTEMPTS = 16


async def evict(api: RestAPI, request: web.Request, target: paths.Target) -> web.StreamResponse:
    request["verb"] = "create"
    eviction = await _read_eviction(request, target)
    options = deletion.delete_options(eviction.get("deleteOptions") or None, {})
    dry = bool(options.get("dryRun")) or bool(request.query.getall("dryRun", []))
    objects = api.objects
    pods = target.resource
    for _attempt in range(ATTEMPTS):
        pod = await objects.get(pods, target.namespace, target.name)
        if not _ignores_budgets(pod):
            budget = await _budget_of(api, pod, target.namespace)
            if budget is not None and not await _take_disruption(api, budget, pod, target.namespace, dry):
                continue  # the budget changed under us: look again
        break
    else:
        raise errors.TooManyRequests("too many concurrent evictions; try again")
    await deletion.delete(objects, pods, target.namespace, target.name, options, dry)
    return bodies.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                 "code": 201}, 201)


async def _read_eviction(request: web.Request, target: paths.Target) -> dict[str, Any]:
    data = await bodies.read_body(request)
    content_type = request.headers.get("Content-Type")
    if bodies.media_type(content_type) == protobuf_bodies.PROTOBUF:
        eviction = protobuf_bodies.decode_object(data, "policy/v1", "Eviction")
    else:
        eviction = bodies.decode_object(data, content_type)
    if eviction.get("kind") not in (None, "", "Eviction"):
        raise errors.BadRequest(f"the kind in the data ({eviction.get('kind')}) is not Eviction")
    metadata = eviction.get("metadata") if isinstance(eviction.get("metadata"), dict) else {}
    if metadata.get("name") not in (None, "", target.name):
        raise errors.BadRequest("name in URL does not match name in Eviction object")
    if metadata.get("namespace") not in (None, "", target.namespace):
        raise errors.BadRequest("the namespace of the provided object does not match the namespace sent on the "
                                "request")
    if eviction.get("deleteOptions") is not None and not isinstance(eviction["deleteOptions"], dict):
        raise errors.BadRequest("deleteOptions must be an object")
    return eviction


def _ignores_budgets(pod: dict[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _ready(pod: dict[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _selects(budget: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = (budget.get("spec") or {}).get("selector")
    if selector is None:
        return False  # a nil selector selects nothing; policy/v1's empty one selects everything
    try:
        return selectors.label_selector_from_dict(selector).matches(labels)
    except errors.APIError:
        return False


async def _list(api: RestAPI, group: str, plural: str, namespace: str) -> list[dict[str, Any]]:
    resource = api.context.registry.get(group, "v1", plural)
    if resource is None:
        return []
    objects = api.objects
    prefix = objects.resource_prefix(resource) + namespace + "/"
    result = await objects.store.range(RangeRequest(prefix, prefix_end(prefix)))
    return [objects.decode(resource, kv.value, kv.mod_revision) for kv in result.kvs]


async def _budget_of(api: RestAPI, pod: dict[str, Any], namespace: str) -> dict[str, Any] | None:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    found = [b for b in await _list(api, "policy", "poddisruptionbudgets", namespace) if _selects(b, labels)]
    if len(found) > 1:
        raise errors.InternalError("This pod has more than one PodDisruptionBudget, which the eviction subresource "
                                   "does not support.")
    return found[0] if found else None


def _scaled(value: Any, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        try:
            return math.ceil(int(value[:-1]) * total / 100)
        except ValueError:
            return 0
    return value if isinstance(value, int) else 0


async def _health(api: RestAPI, budget: dict[str, Any], namespace: str) -> tuple[int, int]:
    """(current healthy, desired healthy) from the pods the budget selects."""
    pods = [p for p in await _list(api, "", "pods", namespace)
            if _selects(budget, (p.get("metadata") or {}).get("labels") or {})]
    healthy = sum(1 for p in pods if _ready(p) and not (p.get("metadata") or {}).get("deletionTimestamp"))
    spec = budget.get("spec") or {}
    expected = len(pods)
    if spec.get("maxUnavailable") is not None or isinstance(spec.get("minAvailable"), str):
        expected = await _expected_pods(api, pods, namespace, (budget.get("metadata") or {}).get("name", ""))
    if spec.get("maxUnavailable") is not None:
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
    elif spec.get("minAvailable") is not None:
        desired = _scaled(spec["minAvailable"], expected)
    else:
        desired = expected
    return healthy, desired


#: controller kinds whose spec.replicas says how many pods there should be
SCALED = {"ReplicaSet": ("apps", "replicasets"), "StatefulSet": ("apps", "statefulsets"),
          "ReplicationController": ("", "replicationcontrollers")}


async def _expected_pods(api: RestAPI, pods: list[dict[str, Any]], namespace: str, budget: str) -> int:
    """How many pods should exist: the replicas of their controllers, as the disruption
    controller counts (so evicted pods not yet replaced still count). A pod without a
    scalable controller leaves it unknown: the disruption controller can't compute such a
    budget either, and Kubernetes then refuses evictions, so do we."""
    expected = 0
    seen: set[str] = set()
    for pod in pods:
        owner = next((o for o in (pod.get("metadata") or {}).get("ownerReferences") or []
                      if isinstance(o, dict) and o.get("controller")), None)
        where = SCALED.get(owner.get("kind", "")) if owner else None
        resource = api.context.registry.get(where[0], "v1", where[1]) if where else None
        controller = None
        if owner is not None and resource is not None:
            if owner.get("uid") in seen:
                continue
            seen.add(owner.get("uid"))
            try:
                controller = await api.objects.get(resource, namespace, owner.get("name", ""))
            except errors.NotFound:
                controller = None
        if controller is None:
            pod_name = (pod.get("metadata") or {}).get("name", "")
            raise errors.TooManyRequests(VIOLATION, details={"causes": [
                {"reason": "DisruptionBudget", "message": f"The disruption budget {budget} is still being processed "
                 "by the server."},
                {"reason": "DisruptionBudget", "message": f"pod {pod_name} has no controller with a scale, so a "
                 "maxUnavailable or percentage budget can't be computed"}]})
        replicas = (controller.get("spec") or {}).get("replicas", 1)
        expected += replicas if isinstance(replicas, int) else 1
    return expected


def _violation(name: str, desired: int, healthy: int) -> errors.TooManyRequests:
    return errors.TooManyRequests(VIOLATION, details={"causes": [{
        "reason": "DisruptionBudget",
        "message": f"The disruption budget {name} needs {desired} healthy pods and has {healthy} currently"}]})


async def _take_disruption(api: RestAPI, budget: dict[str, Any], pod: dict[str, Any], namespace: str,
                           dry: bool) -> bool:
    """Whether the pod may go; False when the budget changed while we looked (try again)."""
    metadata = budget.get("metadata") or {}
    name = metadata.get("name", "")
    status = budget.get("status") or {}
    spec = budget.get("spec") or {}
    computed = status.get("observedGeneration") is not None and \
        status["observedGeneration"] >= (metadata.get("generation") or 0)
    if not computed:  # no disruption controller has looked at it: compute from the pods
        healthy, desired = await _health(api, budget, namespace)
        if not _ready(pod):
            if spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow" or healthy >= desired:
                return True
        if healthy - desired <= 0:
            raise _violation(name, desired, healthy)
        return True
    healthy, desired = status.get("currentHealthy", 0), status.get("desiredHealthy", 0)
    if not _ready(pod) and (spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow" or healthy >= desired):
        return True
    allowed = status.get("disruptionsAllowed", 0)
    if allowed < 0:
        raise errors.Forbidden("pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise errors.Forbidden("DisruptedPods map too big - too many evictions not confirmed by PDB controller")
    if allowed == 0:
        raise _violation(name, desired, healthy)
    if dry:
        return True
    budgets = api.context.registry.get("policy", "v1", "poddisruptionbudgets")
    assert budgets is not None
    status = {**status, "disruptionsAllowed": allowed - 1,
              "disruptedPods": {**(status.get("disruptedPods") or {}),
                                (pod.get("metadata") or {}).get("name", ""): now_rfc3339()}}
    updated = {**budget, "status": status}
    objects = api.objects
    key = objects.key(budgets, namespace, name)
    result = await objects.store.txn([Compare(key, "mod", "=", int(metadata.get("resourceVersion") or 0))],
                                     [PutRequest(key, objects.encode(budgets, updated))])
    if result.succeeded:
        objects.wrote(budgets, result.revision)
    return result.succeeded
