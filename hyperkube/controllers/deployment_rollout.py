"""The rollout steps of the Deployment controller (RollingUpdate and Recreate).

Each sync takes at most one step and returns; the ReplicaSet status events it causes bring
the next sync. The invariants of a rolling update hold at every step:

- pods (sum of the ReplicaSets' replicas) never exceed ``replicas + maxSurge``;
- old ReplicaSets shrink only by what is available beyond ``replicas - maxUnavailable``,
  counting an RS's available pods only up to its (new) spec, and only once the RS
  controller has observed its last spec change, so a lagging status never licenses a
  second scale-down.
"""

from __future__ import annotations

from typing import Any

from hyperkube.controllers import deployment_util as du
from hyperkube.controllers.podcontrol import meta

Object = dict[str, Any]


class RolloutMixin:
    """Mixed into :class:`~hyperkube.controllers.deployment.DeploymentController`."""

    async def rollout_rolling(self: Any, d: Object, rs_list: list[Object]) -> None:
        new_rs, old_rss = await self.new_and_old(d, rs_list, create=True)
        all_rss = old_rss + [new_rs]
        if await self.reconcile_new_rs(d, all_rss, new_rs):
            await self.sync_rollout_status(d, all_rss, new_rs)
            return
        if await self.reconcile_old_rss(d, all_rss, [rs for rs in old_rss if du.replicas(rs) > 0], new_rs):
            await self.sync_rollout_status(d, all_rss, new_rs)
            return
        if du.complete(d, du.calculate_status(d, all_rss, new_rs)):
            await self.cleanup(d, old_rss)
        await self.sync_rollout_status(d, all_rss, new_rs)

    async def reconcile_new_rs(self: Any, d: Object, all_rss: list[Object], new_rs: Object) -> bool:
        desired = du.replicas(d)
        if du.replicas(new_rs) == desired:
            return False
        if du.replicas(new_rs) > desired:
            return await self.scale_rs(d, new_rs, desired)
        return await self.scale_rs(d, new_rs, du.new_rs_new_replicas(d, all_rss, new_rs))

    async def reconcile_old_rss(self: Any, d: Object, all_rss: list[Object], old_rss: list[Object],
                                new_rs: Object) -> bool:
        if sum(du.replicas(rs) for rs in old_rss) == 0:
            return False
        if not all(du.settled(rs) for rs in all_rss):
            return False  # wait for every RS to report on its current spec
        all_pods = sum(du.replicas(rs) for rs in all_rss)
        min_available = du.replicas(d) - du.max_unavailable(d)
        new_unavailable = du.replicas(new_rs) - du.available_of(new_rs)
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = await self._cleanup_unhealthy(d, old_rss, max_scaled_down)
        scaled = await self._scale_down_old(d, all_rss, old_rss, min_available)
        return cleaned + scaled > 0

    async def _cleanup_unhealthy(self: Any, d: Object, old_rss: list[Object], limit: int) -> int:
        """Old pods that are not available go first: removing them costs no availability."""
        total = 0
        for rs in sorted(old_rss, key=lambda r: meta(r).get("creationTimestamp", "")):
            if total >= limit:
                break
            unhealthy = du.replicas(rs) - du.available_of(rs)
            if du.replicas(rs) == 0 or unhealthy <= 0:
                continue
            count = min(limit - total, unhealthy)
            await self.scale_rs(d, rs, du.replicas(rs) - count)
            total += count
        return total

    async def _scale_down_old(self: Any, d: Object, all_rss: list[Object], old_rss: list[Object],
                              min_available: int) -> int:
        available = sum(du.available_of(rs) for rs in all_rss)
        if available <= min_available:
            return 0
        budget = available - min_available
        total = 0
        for rs in sorted(old_rss, key=lambda r: meta(r).get("creationTimestamp", "")):
            if total >= budget:
                break
            if du.replicas(rs) == 0:
                continue
            count = min(du.replicas(rs), budget - total)
            await self.scale_rs(d, rs, du.replicas(rs) - count)
            total += count
        return total

    async def rollout_recreate(self: Any, d: Object, rs_list: list[Object]) -> None:
        new_rs, old_rss = await self.new_and_old(d, rs_list, create=False)
        all_rss = old_rss + ([new_rs] if new_rs else [])
        scaled_down = False
        for rs in old_rss:
            if du.replicas(rs) > 0:
                scaled_down = await self.scale_rs(d, rs, 0) or scaled_down
        if scaled_down:
            await self.sync_rollout_status(d, all_rss, new_rs)
            return
        if self._old_pods_running(new_rs, old_rss):
            await self.sync_rollout_status(d, all_rss, new_rs)
            return
        if new_rs is None:
            new_rs, old_rss = await self.new_and_old(d, rs_list, create=True)
            all_rss = old_rss + [new_rs]
        await self.scale_rs(d, new_rs, du.replicas(d))
        if du.complete(d, du.calculate_status(d, all_rss, new_rs)):
            await self.cleanup(d, old_rss)
        await self.sync_rollout_status(d, all_rss, new_rs)

    def _old_pods_running(self: Any, new_rs: Object | None, old_rss: list[Object]) -> bool:
        if sum(int(du.status(rs).get("replicas") or 0) for rs in old_rss) > 0:
            return True
        for rs_uid, pods in self.pods_by_rs(old_rss).items():
            if new_rs is not None and meta(new_rs).get("uid") == rs_uid:
                continue
            if any((p.get("status") or {}).get("phase") not in ("Failed", "Succeeded") for p in pods):
                return True
        return False
