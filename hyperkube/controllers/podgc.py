"""The pod garbage collector: a periodic sweep, not a queue (Kubernetes' PodGC).

Every ``gc_period`` seconds (20) it force-deletes (grace 0):

- finished pods (Succeeded/Failed) beyond ``--terminated-pod-gc-threshold`` (12500; 0 turns
  this off), oldest first;
- orphaned pods: bound to a node that no longer exists (confirmed by a live GET, as the
  informer may simply not have seen a new node yet);
- terminating pods that were never scheduled (no kubelet will ever confirm them);
- terminating pods on a node tainted ``node.kubernetes.io/out-of-service`` with NoExecute.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hyperkube.client import Conflict, NotFound, object_key
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import PODS, is_terminating, meta, parse_time

log = logging.getLogger("hyperkube.controllers.podgc")

NODES = "v1/nodes"
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"


class PodGCController(Controller):
    name = "podgc"
    default_workers = 1

    def __init__(self, ctx: ControllerContext, *, gc_period: float = 20.0, threshold: int | None = None) -> None:
        super().__init__(ctx)
        self.gc_period = gc_period
        self.threshold = int(threshold if threshold is not None else ctx.options.get("terminated_pod_gc_threshold",
                                                                                    12500))
        self.pods = ctx.factory.informer(PODS)
        self.nodes = ctx.factory.informer(NODES)

    async def run(self, workers: int | None = None) -> None:
        while True:
            try:
                await self.gc()
            except Exception:  # the next sweep tries again
                log.exception("pod garbage collection failed")
            await asyncio.sleep(self.gc_period)

    async def sync(self, key: Any) -> None:  # pragma: no cover - the sweep does the work
        await self.gc()

    async def gc(self) -> int:
        """One sweep; returns how many pods it deleted."""
        pods = self.pods.cache.list()
        victims: dict[str, Object] = {}
        if self.threshold > 0:
            finished = [p for p in pods if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")
                        and not is_terminating(p)]
            if len(finished) > self.threshold:
                finished.sort(key=lambda p: parse_time(meta(p).get("creationTimestamp")))
                for pod in finished[:len(finished) - self.threshold]:
                    victims[object_key(pod)] = pod
        for pod in pods:
            node_name = (pod.get("spec") or {}).get("nodeName")
            if not node_name:
                if is_terminating(pod):
                    victims[object_key(pod)] = pod
                continue
            node = self.nodes.cache.get(node_name)
            if node is None and await self._node_gone(node_name):
                victims[object_key(pod)] = pod
            elif node is not None and is_terminating(pod) and any(
                    t.get("key") == OUT_OF_SERVICE and t.get("effect") == "NoExecute"
                    for t in (node.get("spec") or {}).get("taints") or ()):
                victims[object_key(pod)] = pod
        for key, pod in victims.items():
            namespace, _, name = key.partition("/")
            log.info("podgc: deleting pod %s", key)
            try:
                await self.client.delete(PODS, name, namespace=namespace, grace_period_seconds=0,
                                         preconditions={"uid": meta(pod).get("uid", "")})
            except (NotFound, Conflict):
                pass
        return len(victims)

    async def _node_gone(self, name: str) -> bool:
        try:
            await self.client.get(NODES, name)
        except NotFound:
            return True
        return False
