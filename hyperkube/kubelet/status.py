"""Pod status as the API shows it, computed from what the runtime reports.

Pure functions: the pod worker gathers container facts (:class:`ContainerView`), and
:func:`pod_status` turns them into ``status`` with phase, conditions (PodScheduled,
Initialized, ContainersReady, Ready, each keeping its lastTransitionTime while unchanged),
containerStatuses, hostIP/podIP (the node IP: pods share the host network), startTime and
qosClass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from hyperkube.kubelet.runtime import EXITED, RUNNING, ContainerStatus
from hyperkube.machinery.durations import now_rfc3339

SUCCEEDED, FAILED, RUNNING_PHASE, PENDING = "Succeeded", "Failed", "Running", "Pending"


@dataclass
class ContainerView:
    """One container as the worker sees it: the runtime's newest attempt, plus what the
    worker knows (why it is waiting, whether it will restart, probe results)."""

    spec: dict[str, Any]
    current: ContainerStatus | None = None
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    last_terminated: ContainerStatus | None = None
    ready: bool = False
    started: bool = False
    will_restart: bool = False


def _time(value: float | None) -> str | None:
    return now_rfc3339(value) if value else None


def terminated_state(status: ContainerStatus) -> dict[str, Any]:
    state: dict[str, Any] = {"exitCode": status.exit_code if status.exit_code is not None else 0,
                             "reason": status.reason or ("Completed" if not status.exit_code else "Error"),
                             "startedAt": _time(status.started_at), "finishedAt": _time(status.finished_at),
                             "containerID": status.container_id}
    if status.message:
        state["message"] = status.message
    return state


def container_status(view: ContainerView) -> dict[str, Any]:
    spec, current = view.spec, view.current
    result: dict[str, Any] = {"name": spec["name"], "image": spec.get("image", ""), "imageID": "",
                              "ready": view.ready, "restartCount": current.attempt if current else 0,
                              "started": False}
    if current is not None and current.state == RUNNING and not view.waiting_message:
        result["state"] = {"running": {"startedAt": _time(current.started_at)}}
        result["started"] = view.started
        result["containerID"] = current.container_id
    elif current is not None and current.state == EXITED and not view.will_restart:
        result["state"] = {"terminated": terminated_state(current)}
        result["containerID"] = current.container_id
    else:
        waiting: dict[str, Any] = {"reason": view.waiting_reason}
        if view.waiting_message:
            waiting["message"] = view.waiting_message
        result["state"] = {"waiting": waiting}
        if current is not None:
            result["containerID"] = current.container_id
    last = view.last_terminated
    if current is not None and current.state == EXITED and view.will_restart:
        last = current
    result["lastState"] = {"terminated": terminated_state(last)} if last is not None else {}
    return result


def phase_of(pod: dict[str, Any], init_views: list[ContainerView], views: list[ContainerView]) -> str:
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    for view in init_views:
        current = view.current
        if current is None or current.state == RUNNING:
            return PENDING
        if current.exit_code != 0:
            return PENDING if view.will_restart else FAILED
    currents = [view.current for view in views]
    if any(c is None for c in currents):
        return PENDING
    if any(c.state == RUNNING for c in currents if c):
        return RUNNING_PHASE
    if policy == "Always" or any(view.will_restart for view in views):
        return RUNNING_PHASE
    if all(c.exit_code == 0 for c in currents if c):
        return SUCCEEDED
    return FAILED


def _condition(previous: dict[str, dict[str, Any]], kind: str, value: bool, reason: str = "") -> dict[str, Any]:
    status = "True" if value else "False"
    old = previous.get(kind)
    stamp = old["lastTransitionTime"] if old and old.get("status") == status and old.get(
        "lastTransitionTime") else now_rfc3339()
    condition = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": stamp}
    if reason and not value:
        condition["reason"] = reason
    return condition


def pod_status(pod: dict[str, Any], init_views: list[ContainerView], views: list[ContainerView], *,
               node_ip: str, start_time: float, qos_class: str, phase: str | None = None,
               reason: str = "", message: str = "", api_status: dict[str, Any] | None = None) -> dict[str, Any]:
    """``pod.status`` is what this kubelet last reported (for transition times); ``api_status``
    what the API holds now, whose conditions of other owners (readiness gates, DisruptionTarget
    ...) are kept."""
    previous_status = pod.get("status") or {}
    previous = {c.get("type"): c for c in previous_status.get("conditions") or [] if isinstance(c, dict)}
    phase = phase or phase_of(pod, init_views, views)
    initialized = all(v.current is not None and v.current.state == EXITED and v.current.exit_code == 0
                      for v in init_views)
    containers_ready = bool(views) and all(v.ready for v in views) and phase == RUNNING_PHASE
    held = {c.get("type"): c.get("status") for c in ((api_status or previous_status).get("conditions") or [])
            if isinstance(c, dict)}
    gates = [g.get("conditionType") for g in (pod.get("spec") or {}).get("readinessGates") or []]
    ready = containers_ready and all(held.get(gate) == "True" for gate in gates)
    if phase == SUCCEEDED:
        initialized = True
    not_ready = [v.spec["name"] for v in views if not v.ready]
    conditions = [
        _condition(previous, "Initialized", initialized, "ContainersNotInitialized"),
        _condition(previous, "Ready", ready, "PodCompleted" if phase in (SUCCEEDED, FAILED) else "ContainersNotReady"),
        _condition(previous, "ContainersReady", containers_ready,
                   "PodCompleted" if phase in (SUCCEEDED, FAILED) else "ContainersNotReady"),
        _condition(previous, "PodScheduled", True),
    ]
    if not containers_ready and phase not in (SUCCEEDED, FAILED) and not_ready:
        text = f"containers with unready status: [{' '.join(not_ready)}]"
        conditions[1]["message"] = conditions[2]["message"] = text
    elif containers_ready and not ready:
        conditions[1]["reason"] = "ReadinessGatesNotReady"
        conditions[1]["message"] = f"corresponding condition of pod readiness gate {gates} does not exist or is False"
    status: dict[str, Any] = {
        "phase": phase, "conditions": conditions, "hostIP": node_ip, "hostIPs": [{"ip": node_ip}],
        "podIP": node_ip, "podIPs": [{"ip": node_ip}], "startTime": now_rfc3339(start_time),
        "qosClass": qos_class, "containerStatuses": [container_status(v) for v in views],
    }
    if init_views:
        status["initContainerStatuses"] = [container_status(v) for v in init_views]
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    others = (api_status if api_status is not None else previous_status).get("conditions") or []
    for condition in others:  # conditions other components own
        if isinstance(condition, dict) and condition.get("type") not in (
                "Initialized", "Ready", "ContainersReady", "PodScheduled"):
            conditions.append(condition)
    return status


def rejected_status(pod: dict[str, Any], node_ip: str, reason: str, message: str) -> dict[str, Any]:
    """Admission refused the pod: Failed with the reason Kubernetes uses (OutOfcpu ...)."""
    return {"phase": FAILED, "reason": reason, "message": message, "hostIP": node_ip,
            "startTime": now_rfc3339(time.time()),
            "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": now_rfc3339()}]}
