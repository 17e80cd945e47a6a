"""What the workload controllers share about pods and ownership.

- ownerReferences: the controller reference (``controller: true``, ``blockOwnerDeletion``),
  an informer index of objects by their controller's uid, and *claiming*: adopt orphans that
  match a selector, release owned objects that stopped matching (both as strategic merge
  patches that carry ``metadata.uid``, so they cannot land on a re-created namesake);
- pod state: active, ready, available (ready for ``minReadySeconds``);
- Kubernetes' deletion ranking (which pods go first when scaling down);
- creating pods from a template in slow-start batches (1, 2, 4, ...).
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hyperkube.client import AlreadyExists, Client, Conflict, NotFound
from hyperkube.machinery.durations import parse_rfc3339
from hyperkube.machinery.selectors import LabelSelector

Object = dict[str, Any]
PODS = "v1/pods"
CONTROLLER_UID_INDEX = "controller-uid"
SLOW_START_INITIAL_BATCH = 1


def meta(obj: Object) -> Object:
    return obj.get("metadata") or {}


def controller_ref(obj: Object) -> Object | None:
    for ref in meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def controller_uid_index(obj: Object) -> list[str]:
    """Informer index: objects filed under the uid of their controller."""
    ref = controller_ref(obj)
    return [ref["uid"]] if ref and ref.get("uid") else []


def owner_reference(owner: Object, *, controller: bool = True, block: bool = True) -> Object:
    m = meta(owner)
    return {"apiVersion": owner.get("apiVersion", ""), "kind": owner.get("kind", ""), "name": m.get("name", ""),
            "uid": m.get("uid", ""), "controller": controller, "blockOwnerDeletion": block}


def parse_time(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        return parse_rfc3339(value)
    except ValueError:
        return 0.0


def is_terminating(obj: Object) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def is_pod_active(pod: Object) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not is_terminating(pod)


def ready_condition(pod: Object) -> Object | None:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return condition
    return None


def is_pod_ready(pod: Object) -> bool:
    condition = ready_condition(pod)
    return bool(condition and condition.get("status") == "True")


def is_pod_available(pod: Object, min_ready_seconds: int, now: float | None = None) -> bool:
    """Ready, and for at least ``minReadySeconds`` (by the Ready condition's transition time)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time((ready_condition(pod) or {}).get("lastTransitionTime"))
    return since > 0 and since + min_ready_seconds <= (time.time() if now is None else now)


def deletion_rank(pod: Object, colocated: dict[str, int] | None = None) -> tuple[Any, ...]:
    """Sort key: pods sorting first are deleted first (Kubernetes' ActivePodsWithRanks):
    unscheduled < scheduled; Pending < Unknown < Running; not ready < ready; more pods of
    the same owner on its node first; ready for less time first; more restarts first;
    newer first."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    node = spec.get("nodeName") or ""
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", "Pending"), 0)
    ready = is_pod_ready(pod)
    ready_since = parse_time((ready_condition(pod) or {}).get("lastTransitionTime")) if ready else 0.0
    restarts = max((c.get("restartCount") or 0 for c in status.get("containerStatuses") or ()), default=0)
    created = parse_time(meta(pod).get("creationTimestamp"))
    return (1 if node else 0, phase_rank, 1 if ready else 0, -(colocated or {}).get(node, 0) if node else 0,
            -ready_since, -restarts, -created)


def pods_to_delete(pods: list[Object], count: int) -> list[Object]:
    colocated: dict[str, int] = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            colocated[node] = colocated.get(node, 0) + 1
    return sorted(pods, key=lambda p: deletion_rank(p, colocated))[:count]


def pod_from_template(owner: Object, template: Object, *, generate_name: str | None = None,
                      name: str | None = None, extra_labels: dict[str, str] | None = None) -> Object:
    """A pod for ``owner`` from its template, owned through a controller reference."""
    template_meta = template.get("metadata") or {}
    metadata: Object = {"labels": {**(template_meta.get("labels") or {}), **(extra_labels or {})},
                        "ownerReferences": [owner_reference(owner)], "namespace": meta(owner).get("namespace")}
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    if template_meta.get("finalizers"):
        metadata["finalizers"] = list(template_meta["finalizers"])
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = generate_name or f"{meta(owner).get('name', '')}-"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": copy.deepcopy(template.get("spec") or {})}


async def slow_start_batch(count: int, create: Callable[[], Awaitable[Any]],
                           initial: int = SLOW_START_INITIAL_BATCH) -> tuple[int, BaseException | None]:
    """Run ``create`` ``count`` times in batches of 1, 2, 4, ...; stop after a batch with an
    error, so a template the server rejects costs one request, not ``count``. Returns how many
    succeeded and the first error."""
    done, batch = 0, min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(create() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        done += batch - len(errors)
        if errors:
            return done, errors[0]
        remaining = count - done
        batch = min(remaining, batch * 2)
    return done, None


async def claim(client: Client, resource: str, owner: Object, candidates: list[Object], selector: LabelSelector,
                *, can_adopt: Callable[[], Awaitable[bool]] | None = None) -> list[Object]:
    """The objects ``owner`` controls after adopting matching orphans and releasing owned
    objects that stopped matching (Kubernetes' ControllerRefManager)."""
    uid = meta(owner).get("uid")
    owner_deleting = is_terminating(owner)
    claimed: list[Object] = []
    adopt_allowed: bool | None = None
    for obj in candidates:
        ref = controller_ref(obj)
        labels = meta(obj).get("labels") or {}
        matches = selector.matches(labels)
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches or owner_deleting:
                claimed.append(obj)
                continue
            try:
                await _patch_owner(client, resource, obj, {"$patch": "delete", "uid": uid})
            except NotFound:
                pass
            continue
        if not matches or owner_deleting or is_terminating(obj):
            continue
        if adopt_allowed is None:
            adopt_allowed = await can_adopt() if can_adopt else True
        if not adopt_allowed:
            continue
        try:
            adopted = await _patch_owner(client, resource, obj, owner_reference(owner))
        except (NotFound, Conflict, AlreadyExists):
            continue
        claimed.append(adopted)
    return claimed


async def _patch_owner(client: Client, resource: str, obj: Object, ref: Object) -> Object:
    m = meta(obj)
    body = {"metadata": {"ownerReferences": [ref], "uid": m.get("uid")}}
    return await client.patch(resource, m.get("name", ""), body, namespace=m.get("namespace"),
                              patch_type="strategic")


async def fresh_owner_check(client: Client, resource: str, owner: Object) -> bool:
    """Adoption needs an owner that is still there with the same uid and not being deleted
    (read live: the cache may lag behind a delete and re-create)."""
    m = meta(owner)
    try:
        fresh = await client.get(resource, m.get("name", ""), namespace=m.get("namespace"))
    except NotFound:
        return False
    return meta(fresh).get("uid") == m.get("uid") and not is_terminating(fresh)


def set_condition(conditions: list[Object], condition: Object, now: str) -> list[Object]:
    """Replace the condition of the same type; keep lastTransitionTime when status is unchanged."""
    out = [c for c in conditions if c.get("type") != condition.get("type")]
    old = next((c for c in conditions if c.get("type") == condition.get("type")), None)
    new = dict(condition)
    if old is not None and old.get("status") == new.get("status") and "lastTransitionTime" in old:
        new["lastTransitionTime"] = old["lastTransitionTime"]
    else:
        new.setdefault("lastTransitionTime", now)
    out.append(new)
    return out


def get_condition(obj: Object, kind: str) -> Object | None:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == kind:
            return condition
    return None


ORPHAN_INDEX = "orphans"


def orphan_index(obj: Object) -> list[str]:
    """Informer index: objects without a controller, filed under their namespace (the
    candidates a controller may adopt), so a sync never scans every pod of a namespace."""
    return [meta(obj).get("namespace", "")] if controller_ref(obj) is None else []


POD_INDEXERS = {CONTROLLER_UID_INDEX: controller_uid_index, ORPHAN_INDEX: orphan_index}
