"""Pure helpers of the Deployment controller: hashing, fence posts, revisions, status.

Nothing here talks to the API server, so each rule can be read (and tested) on its own:

- ``pod-template-hash``: FNV-1a (32 bit) of the pod template's canonical JSON (plus the
  collision count), spelled with Kubernetes' safe alphabet; it names the ReplicaSet
  ``<deployment>-<hash>`` and joins its selector and pod labels;
- maxSurge rounds up, maxUnavailable rounds down, and both zero means one unavailable;
- revisions live in the ``deployment.kubernetes.io/revision`` annotation;
- the status numbers and the Progressing/Available conditions ``kubectl rollout status`` reads.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import orjson

from hyperkube.controllers.podcontrol import meta, parse_time
from hyperkube.machinery.durations import now_rfc3339

Object = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
NOT_COPIED = {REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, LAST_APPLIED}
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
MAX_INT32 = 2**31 - 1

# Progressing/Available reasons, as Kubernetes spells them
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"


def spec(obj: Object) -> Object:
    return obj.get("spec") or {}


def status(obj: Object) -> Object:
    return obj.get("status") or {}


def replicas(obj: Object | None) -> int:
    return int(spec(obj).get("replicas", 1) or 0) if obj is not None else 0


def template_hash(template: Object, collision_count: int | None = None) -> str:
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += collision_count.to_bytes(4, "little")
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in str(value))


def _without_hash(template: Object | None) -> Object:
    template = copy.deepcopy(template or {})
    labels = (template.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return template


def equal_ignore_hash(a: Object | None, b: Object | None) -> bool:
    return _without_hash(a) == _without_hash(b)


def revision(obj: Object | None) -> int:
    try:
        return int((meta(obj or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def is_rolling(deployment: Object) -> bool:
    return (spec(deployment).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def _scaled(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        percent = int(value[:-1])
        exact = percent * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    if isinstance(value, str):
        return int(value)
    return int(value or 0)


def fence_posts(deployment: Object) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved against spec.replicas."""
    rolling = (spec(deployment).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas(deployment)
    surge = _scaled(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(deployment: Object) -> int:
    return fence_posts(deployment)[0] if is_rolling(deployment) else 0


def max_unavailable(deployment: Object) -> int:
    desired = replicas(deployment)
    if not is_rolling(deployment) or desired == 0:
        return 0
    return min(fence_posts(deployment)[1], desired)


def new_rs_new_replicas(deployment: Object, all_rss: list[Object], new_rs: Object) -> int:
    """How big the new ReplicaSet may grow now (RollingUpdate: within maxSurge)."""
    desired = replicas(deployment)
    if not is_rolling(deployment):
        return desired
    current = sum(replicas(rs) for rs in all_rss)
    max_total = desired + max_surge(deployment)
    if current >= max_total:
        return replicas(new_rs)
    return replicas(new_rs) + min(max_total - current, max(desired - replicas(new_rs), 0))


def available_of(rs: Object) -> int:
    """Available pods an RS will still have once its spec is observed (never above spec)."""
    return min(int(status(rs).get("availableReplicas") or 0), replicas(rs))


def settled(rs: Object) -> bool:
    return int(status(rs).get("observedGeneration") or 0) >= int(meta(rs).get("generation") or 0)


def replica_annotations_match(rs: Object, deployment: Object) -> bool:
    annotations = meta(rs).get("annotations") or {}
    return (annotations.get(DESIRED_REPLICAS) == str(replicas(deployment))
            and annotations.get(MAX_REPLICAS) == str(replicas(deployment) + max_surge(deployment)))


def copied_annotations(deployment: Object) -> dict[str, str]:
    return {k: v for k, v in (meta(deployment).get("annotations") or {}).items() if k not in NOT_COPIED}


def get_condition(obj: Object, kind: str) -> Object | None:
    return next((c for c in status(obj).get("conditions") or () if c.get("type") == kind), None)


def condition(kind: str, state: str, reason: str, message: str) -> Object:
    now = now_rfc3339()
    return {"type": kind, "status": state, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def set_condition(st: Object, new: Object) -> None:
    """Set a condition in a status dict; an unchanged status keeps its transition time."""
    conditions = st.get("conditions") or []
    old = next((c for c in conditions if c.get("type") == new["type"]), None)
    if old is not None and old.get("status") == new["status"] and old.get("reason") == new["reason"]:
        new = {**new, "lastTransitionTime": old.get("lastTransitionTime", new["lastTransitionTime"])}
    elif old is not None and old.get("status") == new["status"]:
        new = {**new, "lastTransitionTime": old.get("lastTransitionTime", new["lastTransitionTime"])}
    st["conditions"] = [c for c in conditions if c.get("type") != new["type"]] + [new]


def remove_condition(st: Object, kind: str) -> None:
    st["conditions"] = [c for c in st.get("conditions") or [] if c.get("type") != kind]


def has_deadline(deployment: Object) -> bool:
    deadline = spec(deployment).get("progressDeadlineSeconds")
    return deadline is not None and deadline != MAX_INT32


def calculate_status(deployment: Object, all_rss: list[Object], new_rs: Object | None) -> Object:
    available = sum(int(status(rs).get("availableReplicas") or 0) for rs in all_rss)
    total = sum(int(status(rs).get("replicas") or 0) for rs in all_rss)
    st: Object = {
        "observedGeneration": meta(deployment).get("generation", 1),
        "replicas": total,
        "updatedReplicas": int(status(new_rs).get("replicas") or 0) if new_rs else 0,
        "readyReplicas": sum(int(status(rs).get("readyReplicas") or 0) for rs in all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(sum(replicas(rs) for rs in all_rss) - available, 0),
        "conditions": [dict(c) for c in status(deployment).get("conditions") or ()],
    }
    if status(deployment).get("collisionCount") is not None:
        st["collisionCount"] = status(deployment)["collisionCount"]
    if available >= replicas(deployment) - max_unavailable(deployment):
        set_condition(st, condition("Available", "True", "MinimumReplicasAvailable",
                                    "Deployment has minimum availability."))
    else:
        set_condition(st, condition("Available", "False", "MinimumReplicasUnavailable",
                                    "Deployment does not have minimum availability."))
    return st


def complete(deployment: Object, st: Object) -> bool:
    desired = replicas(deployment)
    return (st.get("updatedReplicas") == desired and st.get("replicas") == desired
            and st.get("availableReplicas") == desired
            and st.get("observedGeneration", 0) >= meta(deployment).get("generation", 1))


def progressing(deployment: Object, st: Object) -> bool:
    old = status(deployment)
    new_old = st.get("replicas", 0) - st.get("updatedReplicas", 0)
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    return (st.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_old < old_old
            or st.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or st.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def timed_out(deployment: Object, st: Object, now: float | None = None) -> bool:
    if not has_deadline(deployment):
        return False
    cond = next((c for c in st.get("conditions") or () if c.get("type") == "Progressing"), None)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    return since + int(spec(deployment)["progressDeadlineSeconds"]) < (time.time() if now is None else now)


def same_status(a: Object, b: Object) -> bool:
    """Equal ignoring condition timestamps of otherwise unchanged conditions."""
    def strip(st: Object) -> Object:
        return {**st, "conditions": sorted((c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
                                           for c in st.get("conditions") or ())}
    return strip(a) == strip(b)
