"""The scheduler's view of the cluster: nodes with the pods on them, assumed pods included.

A pod the scheduler has chosen a node for is *assumed* onto it at once, before the binding
is written, so the next scheduling cycle (which does not wait for the binding) already sees
the room taken. When the informer later shows the pod bound, the assumption is confirmed; if
the binding fails, it is forgotten and the room freed. Bound pods the scheduler never assumed
(other schedulers, static pods, pods created with ``spec.nodeName``) are simply added.

``nodes`` holds only nodes the informer has shown (with their objects), in a stable order;
pods naming an unknown node are parked on a placeholder NodeInfo until it appears.
"""

from __future__ import annotations

from typing import Any

from hyperkube.scheduler import vectorized
from hyperkube.scheduler.nodeinfo import NodeInfo, PodInfo

Object = dict[str, Any]


class SchedulerCache:
    def __init__(self) -> None:
        self._infos: dict[str, NodeInfo] = {}
        self._node_list: list[NodeInfo] | None = []
        self._table: vectorized.NodeTable | None = None
        self._pod_nodes: dict[str, str] = {}  # pod key -> node name
        self.assumed: set[str] = set()
        #: pods with required anti-affinity (every incoming pod is checked against them)
        self.anti_affinity_pods: dict[str, PodInfo] = {}
        #: pods with preferred (anti-)affinity terms (they score incoming pods they select)
        self.preferring_pods: dict[str, PodInfo] = {}
        #: names of nodes with any taint (most clusters have few)
        self.tainted_nodes: set[str] = set()
        #: bumped on every change, so callers can tell whether anything moved
        self.generation = 0

    # -- nodes -----------------------------------------------------------------------------------

    @property
    def nodes(self) -> list[NodeInfo]:
        if self._node_list is None:
            for info in self._infos.values():
                info.index = -1
            self._node_list = [info for info in self._infos.values() if info.node is not None]
            for index, info in enumerate(self._node_list):
                info.index = index
            self._table = None
        return self._node_list

    @property
    def table(self) -> vectorized.NodeTable | None:
        """The nodes as numpy columns, aligned with :attr:`nodes` (None without numpy)."""
        if not vectorized.ENABLED:
            return None
        nodes = self.nodes
        if self._table is None:
            self._table = vectorized.NodeTable(nodes)
        return self._table

    def _changed(self, info: NodeInfo) -> None:
        self.generation += 1
        if self._table is not None and self._node_list is not None and info.index >= 0:
            self._table.update(info.index, info)

    def node(self, name: str) -> NodeInfo | None:
        info = self._infos.get(name)
        return info if info is not None and info.node is not None else None

    def set_node(self, node: Object) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        info = self._infos.get(name)
        if info is None:
            info = self._infos[name] = NodeInfo(name)
        if info.node is None:
            self._node_list = None
        info.set_node(node)
        if info.taints:
            self.tainted_nodes.add(name)
        else:
            self.tainted_nodes.discard(name)
        self._changed(info)

    def remove_node(self, name: str) -> None:
        info = self._infos.get(name)
        if info is None:
            return
        self.tainted_nodes.discard(name)
        if info.pods:
            info.node = None  # keep the pods' accounting until they go too
        else:
            del self._infos[name]
        self._node_list = None
        self.generation += 1

    # -- pods ------------------------------------------------------------------------------------

    def _place(self, info: PodInfo, node_name: str) -> None:
        node = self._infos.get(node_name)
        if node is None:
            node = self._infos[node_name] = NodeInfo(node_name)
        node.add_pod(info)
        self._pod_nodes[info.key] = node_name
        if info.required_anti_affinity:
            self.anti_affinity_pods[info.key] = info
        if info.preferred_affinity or info.preferred_anti_affinity:
            self.preferring_pods[info.key] = info
        self._changed(node)

    def _unplace(self, key: str) -> PodInfo | None:
        node_name = self._pod_nodes.pop(key, None)
        if node_name is None:
            return None
        node = self._infos.get(node_name)
        if node is None:
            return None
        info = node.remove_pod(key)
        self.anti_affinity_pods.pop(key, None)
        self.preferring_pods.pop(key, None)
        if node.node is None and not node.pods:
            del self._infos[node_name]
        self._changed(node)
        return info

    def assume(self, info: PodInfo, node_name: str) -> None:
        self._unplace(info.key)
        info.node_name = node_name
        self._place(info, node_name)
        self.assumed.add(info.key)

    def forget(self, key: str) -> None:
        """Undo an assumption (the binding failed)."""
        if key in self.assumed:
            self.assumed.discard(key)
            self._unplace(key)

    def set_bound_pod(self, info: PodInfo) -> None:
        """The informer shows ``info`` bound to ``info.node_name`` (confirms an assumption)."""
        self.assumed.discard(info.key)
        current = self._pod_nodes.get(info.key)
        if current is not None:
            node = self._infos.get(current)
            existing = node.pods.get(info.key) if node is not None else None
            if current == info.node_name and existing is not None and existing.pod is info.pod:
                return
            self._unplace(info.key)
        self._place(info, info.node_name)

    def remove_pod(self, key: str) -> None:
        self.assumed.discard(key)
        self._unplace(key)

    def has_pod(self, key: str) -> bool:
        return key in self._pod_nodes

    def pod_node(self, key: str) -> str | None:
        return self._pod_nodes.get(key)

    def all_pods(self) -> list[PodInfo]:
        return [pod for info in self._infos.values() for pod in info.pods.values()]
