"""ReplicaSet and ReplicationController: keep ``spec.replicas`` pods matching the selector.

One implementation serves both kinds (:class:`ReplicaSetController` and the subclass
:class:`ReplicationManager` differ only in the resource, the kind and how the selector is
spelled). A sync:

1. claims pods: the ones it controls (an informer index by controller uid) plus matching
   orphans (adopted), minus owned pods that stopped matching (released);
2. if the expectations of earlier writes have been seen by the informer, creates the missing
   pods in slow-start batches or deletes the surplus in Kubernetes' order (unscheduled,
   pending, not ready, ... newest first), at most ``burst_replicas`` per sync;
3. writes status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (ready
   for minReadySeconds), observedGeneration and the ReplicaFailure condition.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hyperkube.client import NORMAL, WARNING, NotFound, object_key, split_key
from hyperkube.controllers.base import Controller, ControllerContext, Expectations, Object
from hyperkube.controllers.podcontrol import (
    CONTROLLER_UID_INDEX,
    ORPHAN_INDEX,
    POD_INDEXERS,
    PODS,
    claim,
    controller_ref,
    fresh_owner_check,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    is_terminating,
    meta,
    pod_from_template,
    pods_to_delete,
    slow_start_batch,
)
from hyperkube.machinery.durations import now_rfc3339
from hyperkube.machinery.selectors import LabelSelector, label_selector_from_dict, label_selector_from_set

BURST_REPLICAS = 500


class ReplicaSetController(Controller):
    name = "replicaset"
    workers_option = "replicaset"
    resource = "apps/v1/replicasets"
    api_version = "apps/v1"
    kind = "ReplicaSet"

    def __init__(self, ctx: ControllerContext, *, burst_replicas: int = BURST_REPLICAS) -> None:
        super().__init__(ctx)
        self.burst_replicas = burst_replicas
        self.expectations = Expectations()
        self.owners = ctx.factory.informer(self.resource)
        self.pods = ctx.factory.informer(PODS, indexers=POD_INDEXERS)
        self.owners.add_event_handler(self._owner_changed, lambda old, new: self._owner_changed(new),
                                      self._owner_deleted)
        self.pods.add_event_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # -- selectors and ownership ------------------------------------------------------------------

    def selector(self, owner: Object) -> LabelSelector:
        return label_selector_from_dict((owner.get("spec") or {}).get("selector"))

    def typed(self, owner: Object) -> Object:
        return {**owner, "apiVersion": self.api_version, "kind": self.kind}

    def _owner_of(self, pod: Object) -> str | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != self.kind or ref.get("apiVersion", "").split("/")[0] != \
                self.api_version.split("/")[0]:
            return None
        key = f"{meta(pod).get('namespace', '')}/{ref.get('name', '')}"
        owner = self.owners.cache.get(key)
        if owner is None or meta(owner).get("uid") != ref.get("uid"):
            return None
        return key

    def _matching_owners(self, pod: Object) -> list[str]:
        labels = meta(pod).get("labels") or {}
        return [object_key(o) for o in self.owners.cache.list(meta(pod).get("namespace", ""))
                if self.selector(o).matches(labels)]

    # -- event handlers ---------------------------------------------------------------------------

    def _owner_changed(self, owner: Object) -> None:
        self.enqueue(object_key(owner))

    def _owner_deleted(self, owner: Object) -> None:
        key = object_key(owner)
        self.expectations.forget(key)
        self.enqueue(key)

    def _pod_added(self, pod: Object) -> None:
        if is_terminating(pod):
            self._pod_deleted(pod)
            return
        key = self._owner_of(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.enqueue(key)
        elif controller_ref(pod) is None:
            for owner_key in self._matching_owners(pod):
                self.enqueue(owner_key)

    def _pod_updated(self, old: Object, new: Object) -> None:
        if is_terminating(new) and not is_terminating(old):
            self._pod_deleted(new)
            return
        new_key, old_key = self._owner_of(new), self._owner_of(old)
        if old_key is not None and old_key != new_key:
            self.enqueue(old_key)
        if new_key is not None:
            self.enqueue(new_key)
            min_ready = int((self.owners.cache.get(new_key) or {}).get("spec", {}).get("minReadySeconds") or 0)
            if min_ready and is_pod_ready(new) and not is_pod_ready(old):
                self.enqueue_after(new_key, min_ready + 0.5)
        elif controller_ref(new) is None:
            targets = set(self._matching_owners(new))
            if meta(old).get("labels") != meta(new).get("labels"):
                targets.update(self._matching_owners(old))
            for owner_key in targets:
                self.enqueue(owner_key)

    def _pod_deleted(self, pod: Object) -> None:
        key = self._owner_of(pod)
        if key is None:
            ref = controller_ref(pod)
            if ref is None or ref.get("kind") != self.kind:
                return
            key = f"{meta(pod).get('namespace', '')}/{ref.get('name', '')}"
        self.expectations.deletion_observed(key, object_key(pod))
        self.enqueue(key)

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, key: Any) -> None:
        owner = self.owners.cache.get(key)
        if owner is None:
            self.expectations.forget(key)
            return
        owner = self.typed(owner)
        namespace, _ = split_key(key)
        uid = meta(owner).get("uid", "")
        candidates = self.pods.cache.by_index(CONTROLLER_UID_INDEX, uid)
        candidates += [p for p in self.pods.cache.by_index(ORPHAN_INDEX, namespace) if is_pod_active(p)]
        claimed = await claim(self.client, PODS, owner, candidates, self.selector(owner),
                              can_adopt=lambda: fresh_owner_check(self.client, self.resource, owner))
        active = [p for p in claimed if is_pod_active(p)]
        error: Exception | None = None
        diff = 0
        if self.expectations.satisfied(key) and not is_terminating(owner):
            diff = len(active) - int((owner.get("spec") or {}).get("replicas", 1))
            error = await self.manage(owner, key, active, diff)
        await self.update_status(owner, active, error, diff)
        if error is not None:
            raise error

    async def manage(self, owner: Object, key: str, active: list[Object], diff: int) -> Exception | None:
        namespace = meta(owner).get("namespace", "")
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            template = (owner.get("spec") or {}).get("template") or {}
            self.expectations.expect_creations(key, count)

            async def create() -> None:
                pod = await self.client.create(PODS, pod_from_template(owner, template), namespace=namespace)
                self.recorder.event(owner, NORMAL, "SuccessfulCreate", f"Created pod: {meta(pod).get('name')}")

            done, error = await slow_start_batch(count, create)
            if done < count:
                self.expectations.lower_creations(key, count - done)
            if error is not None:
                self.recorder.event(owner, WARNING, "FailedCreate", f"Error creating: {error}")
                return error if isinstance(error, Exception) else RuntimeError(str(error))
        elif diff > 0:
            victims = pods_to_delete(active, min(diff, self.burst_replicas))
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])

            async def delete(pod: Object) -> Exception | None:
                name = meta(pod).get("name", "")
                try:
                    await self.client.delete(PODS, name, namespace=namespace,
                                             preconditions={"uid": meta(pod).get("uid", "")})
                except NotFound:
                    self.expectations.deletion_observed(key, object_key(pod))
                except Exception as error:
                    self.expectations.deletion_observed(key, object_key(pod))
                    self.recorder.event(owner, WARNING, "FailedDelete", f"Error deleting: {error}")
                    return error
                else:
                    self.recorder.event(owner, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")
                return None

            errors = [e for e in await asyncio.gather(*(delete(p) for p in victims)) if e is not None]
            if errors:
                return errors[0]
        return None

    def calculate_status(self, owner: Object, active: list[Object], error: Exception | None,
                         diff: int) -> Object:
        spec = owner.get("spec") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        fully = sum(1 for p in active if template_labels.items() <= (meta(p).get("labels") or {}).items())
        ready = sum(1 for p in active if is_pod_ready(p))
        available = sum(1 for p in active if is_pod_available(p, min_ready))
        status: Object = {"replicas": len(active), "fullyLabeledReplicas": fully, "readyReplicas": ready,
                          "availableReplicas": available,
                          "observedGeneration": meta(owner).get("generation", 1)}
        conditions = [c for c in (owner.get("status") or {}).get("conditions") or ()
                      if c.get("type") != "ReplicaFailure"]
        if error is not None:
            reason = "FailedCreate" if diff < 0 else "FailedDelete"
            conditions.append({"type": "ReplicaFailure", "status": "True", "reason": reason,
                               "message": str(error), "lastTransitionTime": now_rfc3339()})
        if conditions:
            status["conditions"] = conditions
        return status

    async def update_status(self, owner: Object, active: list[Object], error: Exception | None, diff: int) -> None:
        status = self.calculate_status(owner, active, error, diff)
        min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready and status["readyReplicas"] != status["availableReplicas"]:
            self.enqueue_after(object_key(owner), 1.0)  # pods become available as time passes
        current = owner.get("status") or {}
        changed = any(current.get(k, 0) != v for k, v in status.items() if k != "conditions")
        old_conditions = [(c.get("type"), c.get("status"), c.get("reason")) for c in current.get("conditions") or ()]
        new_conditions = [(c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or ()]
        if not changed and old_conditions == new_conditions:
            return
        patch = {"status": {**status, "conditions": status.get("conditions")}}
        m = meta(owner)
        try:
            await self.client.patch_status(self.resource, m.get("name", ""), patch, namespace=m.get("namespace"))
        except NotFound:
            return


class ReplicationManager(ReplicaSetController):
    """ReplicationControllers: the same controller over ``v1`` with a map selector."""

    name = "replicationcontroller"
    workers_option = "replicationcontroller"
    resource = "v1/replicationcontrollers"
    api_version = "v1"
    kind = "ReplicationController"

    def selector(self, owner: Object) -> LabelSelector:
        selector = (owner.get("spec") or {}).get("selector")
        if not selector:
            return label_selector_from_dict(None)  # selects nothing
        return label_selector_from_set(selector)
