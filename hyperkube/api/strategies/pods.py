"""Pods: defaults (with the admission defaults a stock cluster adds), update rules, field
selectors, graceful deletion and the ``kubectl get pods`` Table (STATUS computed as kubectl shows it).
"""

from __future__ import annotations

import copy
import ipaddress
from decimal import Decimal
from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import (
    Causes,
    KindStrategy,
    PlainStrategy,
    dicts,
    ensure_list,
    get,
    get_dicts,
    mapping,
    name_of,
    spec,
    text,
)
from hyperkube.api.strategies.common import (
    NONE,
    age,
    containers_cell,
    images_cell,
    map_selector_string,
    parse_quantity,
)
from hyperkube.api.strategies.podspec import (
    RESTART_POLICIES,
    default_pod_spec,
    default_template,
    validate_pod_spec,
    validate_template,
)
from hyperkube.machinery import validation as v
from hyperkube.machinery.durations import human_duration, parse_rfc3339

#: what DefaultTolerationSeconds admission adds to every pod
DEFAULT_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
)
#: fields the control plane sets after create that a replaced manifest usually lacks
CARRIED_OVER = ("nodeName", "serviceAccountName", "serviceAccount", "priority", "priorityClassName",
                "preemptionPolicy", "tolerations", "volumes")
IMMUTABLE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")


def qos_class(pod_spec: dict[str, Any]) -> str:
    """BestEffort, Burstable or Guaranteed, from the containers' cpu/memory requests and limits."""
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for c in dicts(pod_spec.get("containers")) + dicts(pod_spec.get("initContainers")):
        res = mapping(c.get("resources")) if isinstance(c, dict) else {}
        for name, qty in mapping(res.get("requests")).items():
            number = parse_quantity(qty)
            if name in ("cpu", "memory") and number and number > 0:
                requests[name] = requests.get(name, Decimal(0)) + number
        found = set()
        for name, qty in mapping(res.get("limits")).items():
            number = parse_quantity(qty)
            if name in ("cpu", "memory") and number and number > 0:
                found.add(name)
                limits[name] = limits.get(name, Decimal(0)) + number
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(requests.get(k) == limits.get(k) for k in limits) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def _mask_mutable(pod_spec: Any) -> Any:
    masked = copy.deepcopy(pod_spec) if isinstance(pod_spec, dict) else {}
    for group in ("containers", "initContainers"):
        for c in dicts(masked.get(group)):
            if isinstance(c, dict):
                c.pop("image", None)
    for field in ("activeDeadlineSeconds", "tolerations", "ephemeralContainers", "schedulingGates"):
        masked.pop(field, None)
    if (masked.get("terminationGracePeriodSeconds") or 0) < 0:
        masked["terminationGracePeriodSeconds"] = 1
    return masked


class PodStrategy(KindStrategy):
    field_labels = ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                    "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
                    "status.nominatedNodeName")

    def default(self, obj: Object) -> None:
        pod_spec = spec(obj)
        default_pod_spec(pod_spec)
        for group in ("initContainers", "containers"):
            for c in dicts(pod_spec.get(group)):
                res = c.get("resources")
                if isinstance(res, dict) and isinstance(res.get("limits"), dict) and res["limits"]:
                    if not isinstance(res.get("requests"), dict):
                        res["requests"] = {}
                    for name, qty in res["limits"].items():
                        res["requests"].setdefault(name, qty)

    def prepare_for_create(self, obj: Object) -> None:
        pod_spec = spec(obj)
        pod_spec.setdefault("serviceAccountName", "default")
        tolerations = ensure_list(pod_spec, "tolerations")
        if isinstance(tolerations, list):
            for default in DEFAULT_TOLERATIONS:
                if not any(isinstance(t, dict) and t.get("key") == default["key"] and
                           t.get("effect") in (None, "", "NoExecute") for t in tolerations):
                    tolerations.append(dict(default))
        if not pod_spec.get("priorityClassName"):
            pod_spec.setdefault("priority", 0)
        pod_spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        super().prepare_for_create(obj)

    def initial_status(self, obj: Object) -> Object:
        return {"phase": "Pending", "qosClass": qos_class(spec(obj))}

    def prepare_for_update(self, new: Object, old: Object) -> None:
        new_spec, old_spec = spec(new), mapping(old.get("spec"))
        for field in CARRIED_OVER:
            if field in old_spec and not new_spec.get(field):
                new_spec[field] = copy.deepcopy(old_spec[field])
        super().prepare_for_update(new, old)

    def validate_spec(self, obj: Object) -> Causes:
        return validate_pod_spec(obj.get("spec"), for_pod=True)

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
        out: Causes = []
        if _mask_mutable(new_spec) != _mask_mutable(old_spec):
            out.append(v.forbidden("spec", IMMUTABLE_MESSAGE))
        old_deadline, new_deadline = old_spec.get("activeDeadlineSeconds"), new_spec.get("activeDeadlineSeconds")
        if old_deadline is not None and (new_deadline is None or new_deadline > old_deadline):
            out.append(v.invalid("spec.activeDeadlineSeconds", new_deadline,
                                 "must be less than or equal to previous value"))
        new_tolerations = dicts(new_spec.get("tolerations"))
        for tol in dicts(old_spec.get("tolerations")):
            if tol not in new_tolerations:
                out.append(v.forbidden("spec.tolerations", "existing toleration can not be modified except its "
                                       "tolerationSeconds"))
                break
        return out

    def validate_status_update(self, new: Object, old: Object) -> Causes:
        out = super().validate_status_update(new, old)
        status = mapping(new.get("status"))
        out += v.enum("status.phase", status.get("phase"), POD_PHASES)
        for i, condition in enumerate(dicts(status.get("conditions"))):
            if not condition.get("type"):
                out.append(v.required(f"status.conditions[{i}].type"))
            out += v.enum(f"status.conditions[{i}].status", condition.get("status"), ("True", "False", "Unknown"))
        for field in ("podIP", "hostIP"):
            if status.get(field) and not _is_ip(status[field]):
                out.append(v.invalid(f"status.{field}", status[field], "must be a valid IP address"))
        for i, entry in enumerate(dicts(status.get("podIPs"))):
            if not _is_ip(entry.get("ip")):
                out.append(v.invalid(f"status.podIPs[{i}].ip", entry.get("ip"), "must be a valid IP address"))
        return out

    def graceful_delete_seconds(self, obj: Object) -> int | None:
        """An unscheduled or finished pod goes at once; a running one waits for its kubelet."""
        if not get(obj, "spec", "nodeName") or get(obj, "status", "phase") in ("Succeeded", "Failed"):
            return 0
        seconds = get(obj, "spec", "terminationGracePeriodSeconds", default=30)
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            return 30
        return seconds if seconds >= 0 else 1

    def field_values(self, obj: Object) -> dict[str, str]:
        pod_ips = [ip.get("ip", "") for ip in get_dicts(obj, "status", "podIPs") if isinstance(ip, dict)]
        return {
            "spec.nodeName": str(get(obj, "spec", "nodeName", default="")),
            "spec.restartPolicy": str(get(obj, "spec", "restartPolicy", default="")),
            "spec.schedulerName": str(get(obj, "spec", "schedulerName", default="")),
            "spec.serviceAccountName": str(get(obj, "spec", "serviceAccountName", default="")),
            "spec.hostNetwork": "true" if get(obj, "spec", "hostNetwork") else "false",
            "status.phase": str(get(obj, "status", "phase", default="")),
            "status.podIP": str(get(obj, "status", "podIP", default="")),
            "status.podIPs": ",".join(pod_ips),
            "status.nominatedNodeName": str(get(obj, "status", "nominatedNodeName", default="")),
        }

    def columns(self) -> list[Column]:
        return [
            NAME_COLUMN,
            Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
            Column("Status", description="The aggregate status of the containers in this pod."),
            Column("Restarts", description="The number of times the containers in this pod have been restarted "
                   "and when the last container in this pod has restarted."),
            AGE_COLUMN,
            Column("IP", priority=1, description="The IP address assigned to the pod."),
            Column("Node", priority=1, description="The name of the node the pod is scheduled to."),
            Column("Nominated Node", priority=1,
                   description="The node this pod is nominated to run on by the scheduler for preemption."),
            Column("Readiness Gates", priority=1, description="The readiness gates of this pod."),
        ]

    def row(self, obj: Object, now: float) -> list[Any]:
        ready, status, restarts = pod_status_cells(obj, now)
        gates = get_dicts(obj, "spec", "readinessGates")
        gates_cell = NONE
        if gates:
            true = {c.get("type") for c in get_dicts(obj, "status", "conditions")
                    if isinstance(c, dict) and c.get("status") == "True"}
            gates_cell = f"{sum(1 for g in gates if g.get('conditionType') in true)}/{len(gates)}"
        pod_ips = get_dicts(obj, "status", "podIPs")
        ip = (pod_ips[0].get("ip") if pod_ips and isinstance(pod_ips[0], dict) else None) or \
            get(obj, "status", "podIP", default="")
        return [get(obj, "metadata", "name", default=""), ready, status, restarts, age(obj, now),
                ip or NONE, get(obj, "spec", "nodeName", default="") or NONE,
                get(obj, "status", "nominatedNodeName", default="") or NONE, gates_cell]


POD_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class PodTemplateStrategy(PlainStrategy):
    """core/v1 PodTemplates: a template with pod defaults; no status, but a generation."""

    tracks_generation = True

    def default(self, obj: Object) -> None:
        default_template(obj.get("template"))

    def validate_spec(self, obj: Object) -> Causes:
        return validate_template(obj.get("template"), "template", restart_policies=RESTART_POLICIES)

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Containers", description="Names of each container in the template."),
                Column("Images", description="Images referenced by each container in the template."),
                Column("Pod Labels", description="The labels for the pod template.")]

    def row(self, obj: Object, now: float) -> list[Any]:
        template_spec = get(obj, "template", "spec")
        return [name_of(obj), containers_cell(template_spec), images_cell(template_spec),
                map_selector_string(get(obj, "template", "metadata", "labels"))]


def _finished_at(state: dict[str, Any]) -> float:
    finished = mapping(mapping(state.get("lastState")).get("terminated"))
    try:
        return parse_rfc3339(finished["finishedAt"]) if finished.get("finishedAt") else 0.0
    except ValueError:
        return 0.0


def pod_status_cells(pod: Object, now: float) -> tuple[str, str, str]:
    """READY, STATUS and RESTARTS, computed the way kubectl's pod printer does."""
    pod_spec = mapping(pod.get("spec"))
    status = mapping(pod.get("status"))
    init_specs = dicts(pod_spec.get("initContainers"))
    sidecars = {text(c.get("name")) for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(dicts(pod_spec.get("containers"))) + len(sidecars)
    ready = restarts = sidecar_restarts = 0
    last_restart = sidecar_last_restart = 0.0
    reason = status.get("reason") or status.get("phase") or ""
    conditions = [c for c in dicts(status.get("conditions")) if isinstance(c, dict)]
    for cond in conditions:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    initializing = False
    for i, cs in enumerate(dicts(status.get("initContainerStatuses"))):
        restarts += int(cs.get("restartCount") or 0)
        last_restart = max(last_restart, _finished_at(cs))
        state = mapping(cs.get("state"))
        terminated, waiting = state.get("terminated"), state.get("waiting")
        sidecar = text(cs.get("name")) in sidecars
        if sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            sidecar_last_restart = max(sidecar_last_restart, _finished_at(cs))
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in conditions)
    if not initializing or initialized:
        restarts = sidecar_restarts
        last_restart = sidecar_last_restart
        running = False
        for cs in reversed(dicts(status.get("containerStatuses"))):
            restarts += int(cs.get("restartCount") or 0)
            last_restart = max(last_restart, _finished_at(cs))
            state = mapping(cs.get("state"))
            terminated, waiting = state.get("terminated"), state.get("waiting")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                reason = (f"Signal:{terminated['signal']}" if terminated.get("signal")
                          else f"ExitCode:{terminated.get('exitCode', 0)}")
            elif cs.get("ready") and state.get("running") is not None:
                running = True
                ready += 1
        if reason == "Completed" and running:
            has_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if has_ready else "NotReady"
    deleting = bool(mapping(pod.get("metadata")).get("deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and status.get("phase") not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_cell = str(restarts)
    if restarts and last_restart:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"
    return f"{ready}/{total}", reason, restarts_cell

