"""Pod garbage collection: a periodic sweep (every ``podgc_period`` seconds, 20 by default).

- terminated pods (Succeeded or Failed) above ``--terminated-pod-gc-threshold`` are deleted,
  oldest first (0 turns this off);
- pods bound to a node that no longer exists are force-deleted (grace 0), after the node
  has been missing for ``podgc_quarantine`` seconds and a live GET confirms it is gone;
- terminating pods that were never scheduled are force-deleted (no kubelet will finish them).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from hyperkube.client import NotFound
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import PODS, is_terminating, meta

log = logging.getLogger("hyperkube.controllers.podgc")
NODES = "v1/nodes"


class PodGCController(Controller):
    name = "podgc"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.threshold = int(ctx.options.get("terminated_pod_gc_threshold", 12500))
        self.period = float(ctx.options.get("podgc_period", 20.0))
        self.quarantine = float(ctx.options.get("podgc_quarantine", 40.0))
        self.pods = ctx.factory.informer(PODS)
        self.nodes = ctx.factory.informer(NODES)
        self._missing_since: dict[str, float] = {}

    async def run(self, workers: int | None = None) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("podgc: sweep failed")
            await asyncio.sleep(self.period)

    async def sync(self, key: Any) -> None:  # pragma: no cover - the sweep needs no queue
        await self.sweep()

    async def sweep(self) -> None:
        pods = self.pods.cache.list()
        await self.gc_terminated(pods)
        await self.gc_orphaned(pods)
        await self.gc_unscheduled_terminating(pods)

    async def gc_terminated(self, pods: list[Object]) -> None:
        if self.threshold <= 0:
            return
        terminated = [p for p in pods if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")
                      and not is_terminating(p)]
        excess = len(terminated) - self.threshold
        if excess <= 0:
            return
        terminated.sort(key=lambda p: (meta(p).get("creationTimestamp", ""), meta(p).get("name", "")))
        log.info("podgc: deleting %d terminated pods above the threshold of %d", excess, self.threshold)
        await asyncio.gather(*(self.delete(p, None) for p in terminated[:excess]))

    async def gc_orphaned(self, pods: list[Object]) -> None:
        known = set(self.nodes.cache.keys())
        now = time.monotonic()
        missing = {(p.get("spec") or {}).get("nodeName") for p in pods} - known - {None, ""}
        self._missing_since = {n: self._missing_since.get(n, now) for n in missing}
        gone = set()
        for node in missing:
            if now - self._missing_since[node] < self.quarantine:
                continue
            try:
                await self.client.get(NODES, node)
            except NotFound:
                gone.add(node)
        doomed = [p for p in pods if (p.get("spec") or {}).get("nodeName") in gone]
        for pod in doomed:
            log.info("podgc: force-deleting pod %s/%s bound to missing node %s", meta(pod).get("namespace"),
                     meta(pod).get("name"), pod["spec"]["nodeName"])
        await asyncio.gather(*(self.delete(p, 0) for p in doomed))

    async def gc_unscheduled_terminating(self, pods: list[Object]) -> None:
        doomed = [p for p in pods if is_terminating(p) and not (p.get("spec") or {}).get("nodeName")]
        await asyncio.gather(*(self.delete(p, 0) for p in doomed))

    async def delete(self, pod: Object, grace: int | None) -> None:
        try:
            await self.client.delete(PODS, meta(pod)["name"], namespace=meta(pod)["namespace"],
                                     grace_period_seconds=grace, preconditions={"uid": meta(pod)["uid"]})
        except NotFound:
            pass
