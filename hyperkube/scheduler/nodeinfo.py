"""What the scheduler knows of each pod and node, kept incrementally.

:class:`PodInfo` is a pod parsed once (requests, ports, hostPath volumes, affinity terms).
:class:`NodeInfo` is a node plus running totals of what its pods take: adding or removing a
pod is O(1) in resources and ports, so a filter over thousands of nodes reads a few integers
per node instead of summing pods again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hyperkube.scheduler.affinity import PodAffinityTerm, pod_affinity_terms
from hyperkube.scheduler.resources import (
    CPU,
    EPHEMERAL,
    MEMORY,
    PODS,
    Requests,
    node_allocatable,
    pod_requests,
)

Object = dict[str, Any]


def pod_key(pod: Object) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace') or 'default'}/{metadata.get('name', '')}"


@dataclass(slots=True, eq=False)
class PodInfo:
    key: str
    pod: Object
    namespace: str
    labels: dict[str, str]
    requests: Requests
    #: (protocol, port) pairs: on process nodes every containerPort is a host port
    ports: frozenset[tuple[str, int]]
    host_paths: frozenset[str]
    required_anti_affinity: list[PodAffinityTerm]
    preferred_affinity: list[PodAffinityTerm]
    preferred_anti_affinity: list[PodAffinityTerm]
    node_name: str = ""

    @classmethod
    def of(cls, pod: Object) -> PodInfo:
        metadata = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        ports = set()
        for container in spec.get("containers") or ():
            for port in container.get("ports") or ():
                number = port.get("hostPort") or port.get("containerPort")
                if number:
                    ports.add((port.get("protocol") or "TCP", int(number)))
        host_paths = {v["hostPath"].get("path") or "" for v in spec.get("volumes") or ()
                      if isinstance(v.get("hostPath"), dict)}
        return cls(pod_key(pod), pod, metadata.get("namespace") or "default", metadata.get("labels") or {},
                   pod_requests(pod), frozenset(ports), frozenset(host_paths),
                   pod_affinity_terms(pod, "podAntiAffinity", True),
                   pod_affinity_terms(pod, "podAffinity", False),
                   pod_affinity_terms(pod, "podAntiAffinity", False),
                   spec.get("nodeName") or "")


@dataclass(slots=True, eq=False)
class NodeInfo:
    name: str
    node: Object | None = None  # None while pods name a node the informer has not shown yet
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Object] = field(default_factory=list)
    unschedulable: bool = False
    ready: bool = False
    allocatable_cpu: int = 0
    allocatable_memory: int = 0
    allocatable_ephemeral: int = 0
    allocatable_pods: int = 0
    allocatable_scalars: dict[str, int] = field(default_factory=dict)
    requested_cpu: int = 0
    requested_memory: int = 0
    requested_ephemeral: int = 0
    requested_scalars: Counter[str] = field(default_factory=Counter)
    nonzero_cpu: int = 0
    nonzero_memory: int = 0
    pods: dict[str, PodInfo] = field(default_factory=dict)
    ports: Counter[tuple[str, int]] = field(default_factory=Counter)
    host_paths: Counter[str] = field(default_factory=Counter)
    #: this node's row in the cache's node list (and NodeTable); -1 when not listed
    index: int = -1

    def set_node(self, node: Object) -> None:
        self.node = node
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.labels = (node.get("metadata") or {}).get("labels") or {}
        self.taints = [t for t in spec.get("taints") or () if isinstance(t, dict)]
        self.unschedulable = bool(spec.get("unschedulable"))
        self.ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                         for c in status.get("conditions") or () if isinstance(c, dict))
        allocatable = node_allocatable(node)
        self.allocatable_cpu = allocatable.pop(CPU, 0)
        self.allocatable_memory = allocatable.pop(MEMORY, 0)
        self.allocatable_ephemeral = allocatable.pop(EPHEMERAL, 0)
        self.allocatable_pods = allocatable.pop(PODS, 0)
        self.allocatable_scalars = allocatable

    def add_pod(self, info: PodInfo) -> None:
        self.pods[info.key] = info
        self._account(info, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        info = self.pods.pop(key, None)
        if info is not None:
            self._account(info, -1)
        return info

    def _account(self, info: PodInfo, sign: int) -> None:
        r = info.requests
        self.requested_cpu += sign * r.cpu
        self.requested_memory += sign * r.memory
        self.requested_ephemeral += sign * r.ephemeral
        self.nonzero_cpu += sign * r.nonzero_cpu
        self.nonzero_memory += sign * r.nonzero_memory
        for name, value in r.scalars.items():
            self.requested_scalars[name] += sign * value
        for port in info.ports:
            self.ports[port] += sign
            if self.ports[port] <= 0:
                del self.ports[port]
        for path in info.host_paths:
            self.host_paths[path] += sign
            if self.host_paths[path] <= 0:
                del self.host_paths[path]
