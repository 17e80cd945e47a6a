"""Pod requests and node allocatable as integers, parsed once and cached.

Quantities are parsed with :mod:`hyperkube.machinery.quantity` (exact decimals) but only once
per distinct string: a cluster has few distinct request strings, and the scheduler reads
them for every pod it sees. CPU is counted in millicores, everything else in whole units
(bytes for memory and ephemeral storage).

Like Kubernetes, a pod's request is the sum over its containers, at least the largest init
container's, plus ``spec.overhead``. For *scoring* (not fitting) a container without a CPU or
memory request counts as 100m / 200Mi, so best-effort pods still spread instead of piling
onto the first node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hyperkube.machinery.quantity import QuantityError, parse_quantity

CPU, MEMORY, PODS, EPHEMERAL = "cpu", "memory", "pods", "ephemeral-storage"
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024


@lru_cache(maxsize=4096)
def amount(name: str, text: Any) -> int:
    """``("cpu", "250m")`` -> 250; ``("memory", "1Gi")`` -> 1073741824; malformed -> 0."""
    try:
        quantity = parse_quantity(text)
    except (QuantityError, TypeError):
        return 0
    return quantity.milli() if name == CPU else quantity.integer()


@dataclass(slots=True)
class Requests:
    cpu: int = 0
    memory: int = 0
    ephemeral: int = 0
    scalars: dict[str, int] = field(default_factory=dict)
    #: CPU and memory as scoring counts them (defaults for containers that ask nothing)
    nonzero_cpu: int = 0
    nonzero_memory: int = 0

    def as_dict(self) -> dict[str, int]:
        """Every non-zero resource by its API name (for messages and tests)."""
        values = {CPU: self.cpu, MEMORY: self.memory, EPHEMERAL: self.ephemeral, **self.scalars}
        return {k: v for k, v in values.items() if v}


def _container_requests(container: dict[str, Any]) -> dict[str, int]:
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    merged = {**limits, **requests}  # the API defaults requests from limits; be safe either way
    return {name: amount(name, value) for name, value in merged.items()}


def pod_requests(pod: dict[str, Any]) -> Requests:
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    nonzero_cpu = nonzero_memory = 0
    for container in spec.get("containers") or ():
        values = _container_requests(container)
        for name, value in values.items():
            total[name] = total.get(name, 0) + value
        nonzero_cpu += values.get(CPU) or DEFAULT_MILLI_CPU
        nonzero_memory += values.get(MEMORY) or DEFAULT_MEMORY
    for container in spec.get("initContainers") or ():
        values = _container_requests(container)
        for name, value in values.items():
            total[name] = max(total.get(name, 0), value)
        nonzero_cpu = max(nonzero_cpu, values.get(CPU) or DEFAULT_MILLI_CPU)
        nonzero_memory = max(nonzero_memory, values.get(MEMORY) or DEFAULT_MEMORY)
    for name, value in (spec.get("overhead") or {}).items():
        extra = amount(name, value)
        total[name] = total.get(name, 0) + extra
        if name == CPU:
            nonzero_cpu += extra
        elif name == MEMORY:
            nonzero_memory += extra
    cpu, memory, ephemeral = total.pop(CPU, 0), total.pop(MEMORY, 0), total.pop(EPHEMERAL, 0)
    total.pop(PODS, None)
    return Requests(cpu, memory, ephemeral, {k: v for k, v in total.items() if v}, nonzero_cpu, nonzero_memory)


def node_allocatable(node: dict[str, Any]) -> dict[str, int]:
    """status.allocatable, falling back to status.capacity per resource."""
    status = node.get("status") or {}
    values = {**(status.get("capacity") or {}), **(status.get("allocatable") or {})}
    return {name: amount(name, value) for name, value in values.items()}
