"""Admission: a pod that does not fit what the node can allocate is Failed, not run.

Counted against ``allocatable`` are the pods this kubelet admitted that have not finished:
their number against ``pods`` (--max-pods), and the sums of their containers' cpu and memory
requests. The rejection carries the reason Kubernetes uses (``OutOfpods``, ``OutOfcpu``,
``OutOfmemory``) and its message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hyperkube.kubelet.status import rejected_status
from hyperkube.machinery.quantity import parse_quantity

if TYPE_CHECKING:
    from hyperkube.kubelet.kubelet import Kubelet


def admit(kubelet: Kubelet, pod: dict[str, Any]) -> dict[str, Any] | None:
    """Reject (a Failed status) a pod that does not fit what the node can allocate."""
    uid = pod["metadata"]["uid"]
    active = [w.pod for u, w in kubelet.workers.items() if u != uid and w.pod is not None and w.admitted
              and w.rejected is None and w.final_phase is None]
    if len(active) + 1 > kubelet.config.max_pods:
        return rejected_status(pod, kubelet.node_ip, "OutOfpods",
                               "Pod was rejected: Node didn't have enough resource: pods, "
                               f"requested: 1, used: {len(active)}, capacity: {kubelet.config.max_pods}")
    allocatable = kubelet.node.allocatable()
    for resource in ("cpu", "memory"):
        capacity = _amount(resource, allocatable.get(resource, "0"))
        used = sum(_requests(p, resource) for p in active)
        requested = _requests(pod, resource)
        if requested and used + requested > capacity:
            return rejected_status(pod, kubelet.node_ip, f"OutOf{resource}",
                                   f"Pod was rejected: Node didn't have enough resource: {resource}, "
                                   f"requested: {requested}, used: {used}, capacity: {capacity}")
    return None


def _amount(resource: str, quantity: str) -> int:
    value = parse_quantity(str(quantity))
    return value.milli() if resource == "cpu" else value.integer()


def _requests(pod: dict[str, Any], resource: str) -> int:
    total = 0
    for container in (pod.get("spec") or {}).get("containers") or []:
        value = ((container.get("resources") or {}).get("requests") or {}).get(resource)
        if value is not None:
            total += _amount(resource, value)
    return total
