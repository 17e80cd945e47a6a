"""Deployments: roll a pod template out through ReplicaSets.

A sync claims the deployment's ReplicaSets (adopting matching orphans), finds the *new*
one (template equal to the deployment's, ignoring ``pod-template-hash``) and the old ones,
then either scales (paused, or ``spec.replicas`` changed) or rolls out:

- RollingUpdate: grow the new ReplicaSet within ``replicas + maxSurge`` pods, shrink old
  ones while at least ``replicas - maxUnavailable`` pods stay available (unhealthy old pods
  go first); one step per sync, every step triggered by the ReplicaSets' status events;
- Recreate: scale every old ReplicaSet to 0, wait until their pods are gone, then scale the
  new one up.

Old ReplicaSets beyond ``revisionHistoryLimit`` are deleted once the rollout completes.
Rollback (``kubectl rollout undo``) needs nothing special: kubectl writes an old template
back, the matching old ReplicaSet becomes the new one and gets the next revision.
Status and the Progressing/Available conditions are computed in
:mod:`hyperkube.controllers.deployment_util`; the rollout steps in
:mod:`hyperkube.controllers.deployment_rollout`.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from hyperkube.client import NORMAL, AlreadyExists, NotFound, object_key, split_key
from hyperkube.controllers import deployment_util as du
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.deployment_rollout import RolloutMixin
from hyperkube.controllers.podcontrol import (
    CONTROLLER_UID_INDEX,
    ORPHAN_INDEX,
    POD_INDEXERS,
    PODS,
    claim,
    controller_ref,
    fresh_owner_check,
    is_terminating,
    meta,
    owner_reference,
)
from hyperkube.machinery.selectors import label_selector_from_dict

DEPLOYMENTS = "apps/v1/deployments"
REPLICASETS = "apps/v1/replicasets"


class DeploymentController(RolloutMixin, Controller):
    name = "deployment"
    workers_option = "deployment"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.deployments = ctx.factory.informer(DEPLOYMENTS)
        self.replicasets = ctx.factory.informer(REPLICASETS, indexers=POD_INDEXERS)
        self.pods = ctx.factory.informer(PODS, indexers=POD_INDEXERS)
        self.deployments.add_event_handler(self._deployment_changed, lambda old, new: self._deployment_changed(new),
                                           self._deployment_changed)
        self.replicasets.add_event_handler(self._rs_changed, self._rs_updated, self._rs_changed)
        self.pods.add_event_handler(None, None, self._pod_deleted)

    # -- event handlers ---------------------------------------------------------------------------

    def _deployment_changed(self, deployment: Object) -> None:
        self.enqueue(object_key(deployment))

    def _owner_key(self, obj: Object, kind: str, informer: Any) -> str | None:
        ref = controller_ref(obj)
        if ref is None or ref.get("kind") != kind:
            return None
        key = f"{meta(obj).get('namespace', '')}/{ref.get('name', '')}"
        owner = informer.cache.get(key)
        return key if owner is not None and meta(owner).get("uid") == ref.get("uid") else None

    def _rs_changed(self, rs: Object) -> None:
        key = self._owner_key(rs, "Deployment", self.deployments)
        if key is not None:
            self.enqueue(key)
        elif controller_ref(rs) is None:
            labels = meta(rs).get("labels") or {}
            for d in self.deployments.cache.list(meta(rs).get("namespace", "")):
                if label_selector_from_dict(du.spec(d).get("selector")).matches(labels):
                    self.enqueue(object_key(d))

    def _rs_updated(self, old: Object, new: Object) -> None:
        old_key, new_key = self._owner_key(old, "Deployment", self.deployments), \
            self._owner_key(new, "Deployment", self.deployments)
        if old_key and old_key != new_key:
            self.enqueue(old_key)
        self._rs_changed(new)

    def _pod_deleted(self, pod: Object) -> None:
        """Recreate waits for old pods to be gone: their deletion may be the last event."""
        rs_key = self._owner_key(pod, "ReplicaSet", self.replicasets)
        if rs_key is None:
            return
        key = self._owner_key(self.replicasets.cache.get(rs_key) or {}, "Deployment", self.deployments)
        if key is not None:
            d = self.deployments.cache.get(key) or {}
            if not du.is_rolling(d):
                self.enqueue(key)

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, key: Any) -> None:
        cached = self.deployments.cache.get(key)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        d["apiVersion"], d["kind"] = "apps/v1", "Deployment"
        selector = du.spec(d).get("selector")
        if not selector or selector == {}:
            self.recorder.event(d, "Warning", "SelectingAll", "This deployment is selecting all pods. "
                                "A non-empty selector is required.")
            return
        rs_list = await self.claim_replicasets(d, key)
        if is_terminating(d):
            await self.sync_status_only(d, rs_list)
            return
        self.check_paused_conditions(d)
        if du.spec(d).get("paused"):
            await self.sync_scale(d, rs_list)
            return
        new_rs, old_rss = await self.new_and_old(d, rs_list, create=False)
        if self.is_scaling_event(d, new_rs, old_rss):
            await self.sync_scale(d, rs_list)
            return
        if du.is_rolling(d):
            await self.rollout_rolling(d, rs_list)
        else:
            await self.rollout_recreate(d, rs_list)

    async def claim_replicasets(self, d: Object, key: str) -> list[Object]:
        namespace, _ = split_key(key)
        uid = meta(d).get("uid", "")
        candidates = self.replicasets.cache.by_index(CONTROLLER_UID_INDEX, uid)
        candidates += self.replicasets.cache.by_index(ORPHAN_INDEX, namespace)
        claimed = await claim(self.client, REPLICASETS, d, candidates, label_selector_from_dict(du.spec(d)["selector"]),
                              can_adopt=lambda: fresh_owner_check(self.client, DEPLOYMENTS, d))
        return [copy.deepcopy(rs) for rs in claimed]

    def pods_by_rs(self, rs_list: list[Object]) -> dict[str, list[Object]]:
        return {meta(rs)["uid"]: self.pods.cache.by_index(CONTROLLER_UID_INDEX, meta(rs)["uid"]) for rs in rs_list}

    # -- the new and the old ReplicaSets ----------------------------------------------------------

    async def new_and_old(self, d: Object, rs_list: list[Object], *, create: bool) -> tuple[Object | None, list[Object]]:
        template = du.spec(d).get("template")
        ordered = sorted(rs_list, key=lambda rs: (meta(rs).get("creationTimestamp", ""), meta(rs).get("name", "")))
        existing = next((rs for rs in ordered if du.equal_ignore_hash(du.spec(rs).get("template"), template)), None)
        old = [rs for rs in rs_list if rs is not existing]
        new_revision = str(max((du.revision(rs) for rs in old), default=0) + 1)
        if existing is not None:
            return await self._sync_existing_new_rs(d, existing, new_revision), old
        if not create:
            return None, old
        return await self._create_new_rs(d, old, new_revision), old

    async def _sync_existing_new_rs(self, d: Object, rs: Object, new_revision: str) -> Object:
        annotations = dict(meta(rs).get("annotations") or {})
        wanted = {**annotations, **du.copied_annotations(d)}
        if du.revision(rs) < int(new_revision):
            old_revision = annotations.get(du.REVISION)
            wanted[du.REVISION] = new_revision
            if old_revision:
                history = [h for h in (annotations.get(du.REVISION_HISTORY) or "").split(",") if h]
                wanted[du.REVISION_HISTORY] = ",".join([*history, old_revision])
        min_ready = du.spec(d).get("minReadySeconds", 0)
        if wanted != annotations or du.spec(rs).get("minReadySeconds", 0) != min_ready:
            patch = {"metadata": {"annotations": wanted}, "spec": {"minReadySeconds": min_ready}}
            rs = await self.client.patch(REPLICASETS, meta(rs)["name"], patch, namespace=meta(rs)["namespace"])
        await self._set_deployment_revision(d, str(du.revision(rs)))
        if du.get_condition(d, "Progressing") is None:
            du.set_condition(d.setdefault("status", {}), du.condition(
                "Progressing", "True", du.FOUND_NEW_RS, f'Found new replica set "{meta(rs)["name"]}"'))
        return rs

    async def _create_new_rs(self, d: Object, old: list[Object], new_revision: str) -> Object:
        st = d.setdefault("status", {})
        collisions = st.get("collisionCount")
        template = copy.deepcopy(du.spec(d)["template"])
        hash_value = du.template_hash(template, collisions)
        template.setdefault("metadata", {}).setdefault("labels", {})[du.HASH_LABEL] = hash_value
        selector = copy.deepcopy(du.spec(d)["selector"])
        selector.setdefault("matchLabels", {})[du.HASH_LABEL] = hash_value
        name = f"{meta(d)['name']}-{hash_value}"
        rs: Object = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": meta(d)["namespace"], "labels": dict(template["metadata"]["labels"]),
                         "ownerReferences": [owner_reference(d)],
                         "annotations": {**du.copied_annotations(d), du.REVISION: new_revision}},
            "spec": {"replicas": 0, "minReadySeconds": du.spec(d).get("minReadySeconds", 0),
                     "selector": selector, "template": template},
        }
        size = du.new_rs_new_replicas(d, old, rs)
        rs["spec"]["replicas"] = size
        rs["metadata"]["annotations"][du.DESIRED_REPLICAS] = str(du.replicas(d))
        rs["metadata"]["annotations"][du.MAX_REPLICAS] = str(du.replicas(d) + du.max_surge(d))
        try:
            created = await self.client.create(REPLICASETS, rs, namespace=meta(d)["namespace"])
        except AlreadyExists:
            current = await self.client.get(REPLICASETS, name, namespace=meta(d)["namespace"])
            ref = controller_ref(current)
            if ref and ref.get("uid") == meta(d)["uid"] and du.equal_ignore_hash(du.spec(current).get("template"),
                                                                                du.spec(d)["template"]):
                return current
            st["collisionCount"] = (collisions or 0) + 1  # a hash collision: the next sync tries another name
            await self.client.patch_status(DEPLOYMENTS, meta(d)["name"], {"status": {"collisionCount":
                                           st["collisionCount"]}}, namespace=meta(d)["namespace"])
            raise
        if size > 0:
            self.recorder.event(d, NORMAL, "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {size}")
        await self._set_deployment_revision(d, new_revision)
        du.set_condition(st, du.condition("Progressing", "True", du.NEW_RS_CREATED,
                                          f'Created new replica set "{name}"'))
        return created

    async def _set_deployment_revision(self, d: Object, value: str) -> None:
        annotations = meta(d).get("annotations") or {}
        if annotations.get(du.REVISION) == value:
            return
        await self.client.patch(DEPLOYMENTS, meta(d)["name"], {"metadata": {"annotations": {du.REVISION: value}}},
                                namespace=meta(d)["namespace"])
        d["metadata"].setdefault("annotations", {})[du.REVISION] = value

    # -- scaling ----------------------------------------------------------------------------------

    async def scale_rs(self, d: Object, rs: Object, size: int) -> bool:
        """Set an RS's replicas (and the desired/max annotations); True if it changed size."""
        current = du.replicas(rs)
        if current == size and du.replica_annotations_match(rs, d):
            return False
        patch = {"metadata": {"annotations": {du.DESIRED_REPLICAS: str(du.replicas(d)),
                                              du.MAX_REPLICAS: str(du.replicas(d) + du.max_surge(d))}},
                 "spec": {"replicas": size}}
        updated = await self.client.patch(REPLICASETS, meta(rs)["name"], patch, namespace=meta(rs)["namespace"])
        rs.clear()
        rs.update(updated)
        if current != size:
            direction = "up" if size > current else "down"
            self.recorder.event(d, NORMAL, "ScalingReplicaSet",
                                f"Scaled {direction} replica set {meta(rs)['name']} from {current} to {size}")
        return current != size

    def is_scaling_event(self, d: Object, new_rs: Object | None, old_rss: list[Object]) -> bool:
        for rs in ([new_rs] if new_rs else []) + old_rss:
            if du.replicas(rs) <= 0:
                continue
            desired = (meta(rs).get("annotations") or {}).get(du.DESIRED_REPLICAS)
            if desired is not None and desired != str(du.replicas(d)):
                return True
        return False

    async def sync_scale(self, d: Object, rs_list: list[Object]) -> None:
        new_rs, old_rss = await self.new_and_old(d, rs_list, create=False)
        await self.scale(d, new_rs, old_rss)
        if du.spec(d).get("paused"):
            await self.cleanup(d, old_rss)
        await self.write_status(d, du.calculate_status(d, old_rss + ([new_rs] if new_rs else []), new_rs))

    async def scale(self, d: Object, new_rs: Object | None, old_rss: list[Object]) -> None:
        all_rss = ([new_rs] if new_rs else []) + old_rss
        active = [rs for rs in all_rss if du.replicas(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new_rs or max(old_rss, key=lambda r: meta(r).get(
                "creationTimestamp", ""), default=None))
            if target is not None:
                await self.scale_rs(d, target, du.replicas(d))
            return
        if new_rs is not None and du.replicas(new_rs) == du.replicas(d) and \
                int(du.status(new_rs).get("availableReplicas") or 0) == du.replicas(d):
            for rs in old_rss:
                if du.replicas(rs) > 0:
                    await self.scale_rs(d, rs, 0)
            return
        # proportional scaling: share the change among the active ReplicaSets by size
        allowed = du.replicas(d) + du.max_surge(d)
        total = sum(du.replicas(rs) for rs in active)
        to_add = allowed - total
        active.sort(key=lambda rs: (-du.replicas(rs), meta(rs).get("creationTimestamp", "")),
                    reverse=to_add < 0)
        shares = [int(du.replicas(rs) * to_add / total) if total else 0 for rs in active]
        shares[0] += to_add - sum(shares)
        for rs, share in zip(active, shares, strict=True):
            await self.scale_rs(d, rs, max(du.replicas(rs) + share, 0))

    async def cleanup(self, d: Object, old_rss: list[Object]) -> None:
        limit = du.spec(d).get("revisionHistoryLimit")
        if limit is None:
            return
        cleanable = sorted((rs for rs in old_rss if not is_terminating(rs)), key=du.revision)
        for rs in cleanable[:max(len(cleanable) - int(limit), 0)]:
            if du.replicas(rs) != 0 or int(du.status(rs).get("replicas") or 0) != 0 or not du.settled(rs):
                continue
            try:
                await self.client.delete(REPLICASETS, meta(rs)["name"], namespace=meta(rs)["namespace"],
                                         preconditions={"uid": meta(rs)["uid"]})
            except NotFound:
                pass

    # -- status -----------------------------------------------------------------------------------

    def check_paused_conditions(self, d: Object) -> None:
        st = d.setdefault("status", {})
        cond = du.get_condition(d, "Progressing")
        if cond is not None and cond.get("reason") == du.TIMED_OUT:
            return
        paused_shown = cond is not None and cond.get("reason") == du.PAUSED
        if du.spec(d).get("paused") and not paused_shown:
            du.set_condition(st, du.condition("Progressing", "Unknown", du.PAUSED, "Deployment is paused"))
        elif not du.spec(d).get("paused") and paused_shown:
            du.set_condition(st, du.condition("Progressing", "Unknown", du.RESUMED, "Deployment is resumed"))

    async def sync_status_only(self, d: Object, rs_list: list[Object]) -> None:
        new_rs, old_rss = await self.new_and_old(d, rs_list, create=False)
        await self.write_status(d, du.calculate_status(d, old_rss + ([new_rs] if new_rs else []), new_rs))

    async def sync_rollout_status(self, d: Object, all_rss: list[Object], new_rs: Object | None) -> None:
        st = du.calculate_status(d, all_rss, new_rs)
        name = meta(new_rs)["name"] if new_rs else ""
        if not du.has_deadline(d):
            du.remove_condition(st, "Progressing")
        cond = next((c for c in st["conditions"] if c.get("type") == "Progressing"), None)
        is_complete = du.complete(d, st) and new_rs is not None
        if du.has_deadline(d) and not (cond is not None and cond.get("reason") == du.TIMED_OUT):
            if is_complete:
                du.set_condition(st, du.condition("Progressing", "True", du.NEW_RS_AVAILABLE,
                                                  f'ReplicaSet "{name}" has successfully progressed.'))
            elif du.progressing(d, st):
                du.set_condition(st, du.condition("Progressing", "True", du.RS_UPDATED,
                                                  f'ReplicaSet "{name}" is progressing.'))
            elif du.timed_out(d, st):
                du.set_condition(st, du.condition("Progressing", "False", du.TIMED_OUT,
                                                  f'ReplicaSet "{name}" has timed out progressing.'))
        failures = [c for rs in all_rss for c in du.status(rs).get("conditions") or ()
                    if c.get("type") == "ReplicaFailure" and c.get("status") == "True"]
        if failures:
            du.set_condition(st, du.condition("ReplicaFailure", "True", failures[0].get("reason", ""),
                                              failures[0].get("message", "")))
        else:
            du.remove_condition(st, "ReplicaFailure")
        await self.write_status(d, st)
        cond = next((c for c in st["conditions"] if c.get("type") == "Progressing"), None)
        if du.has_deadline(d) and not is_complete and cond is not None and cond.get("reason") != du.TIMED_OUT:
            since = du.parse_time(cond.get("lastUpdateTime"))
            remaining = since + int(du.spec(d)["progressDeadlineSeconds"]) - time.time()
            self.enqueue_after(object_key(d), max(remaining, 0) + 1)

    async def write_status(self, d: Object, st: Object) -> None:
        cached = self.deployments.cache.get(object_key(d)) or d  # d's own status was changed in memory
        if du.same_status(du.status(cached), st):
            return
        try:
            await self.client.patch_status(DEPLOYMENTS, meta(d)["name"], {"status": st}, namespace=meta(d)["namespace"])
        except NotFound:
            pass
