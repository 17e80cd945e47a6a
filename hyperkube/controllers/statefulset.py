"""StatefulSets: pods with stable names ``<set>-0..N-1``, stable claims, ordered changes.

Revisions: the pod template is stored in a ControllerRevision ``<set>-<hash>`` (``data``
holds ``{"spec": {"template": ...}}``, ``revision`` counts up); pods carry the revision name in
``controller-revision-hash``. ``status.updateRevision`` is the template's revision,
``status.currentRevision`` the one the set last finished rolling out.

A sync, in Kubernetes' order:

1. pods that failed or succeeded are deleted (they are re-created next time);
2. missing ordinals below ``replicas`` are created with their PersistentVolumeClaims
   (``<claim>-<set>-<ordinal>``, created if absent; kept on scale-down and deletion unless
   ``persistentVolumeClaimRetentionPolicy`` says Delete, which makes the pod or the set
   their owner so the garbage collector removes them); with
   OrderedReady one at a time, each only once every lower ordinal is Running and Ready;
   with Parallel all at once;
3. ordinals at or above ``replicas`` are deleted, highest first (OrderedReady: one at a
   time, and only while every other pod is healthy);
4. RollingUpdate: from the highest ordinal down to ``partition``, a pod of another revision
   is deleted (one at a time, once all are Running and Ready) and comes back at the new one;
   OnDelete leaves that to the user.
"""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

from hyperkube.client import NORMAL, AlreadyExists, NotFound, object_key, split_key
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.deployment_util import template_hash
from hyperkube.controllers.podcontrol import (
    CONTROLLER_UID_INDEX,
    ORPHAN_INDEX,
    POD_INDEXERS,
    PODS,
    claim,
    controller_ref,
    fresh_owner_check,
    is_pod_available,
    is_pod_ready,
    is_terminating,
    meta,
    owner_reference,
    pod_from_template,
)
from hyperkube.machinery.selectors import label_selector_from_dict

STATEFULSETS = "apps/v1/statefulsets"
REVISIONS = "apps/v1/controllerrevisions"
PVCS = "v1/persistentvolumeclaims"
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def _retention(sts: Object, when: str) -> str:
    return ((sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}).get(when, "Retain")


def running_and_ready(pod: Object) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_pod_ready(pod) and not is_terminating(pod)


def finished(pod: Object) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")


class StatefulSetController(Controller):
    name = "statefulset"
    workers_option = "statefulset"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.sets = ctx.factory.informer(STATEFULSETS)
        self.pods = ctx.factory.informer(PODS, indexers=POD_INDEXERS)
        self.revisions = ctx.factory.informer(REVISIONS, indexers=POD_INDEXERS)
        self.sets.add_event_handler(self._changed, lambda old, new: self._changed(new), self._changed)
        self.pods.add_event_handler(self._pod, lambda old, new: self._pod(new), self._pod)

    def _changed(self, obj: Object) -> None:
        self.enqueue(object_key(obj))

    def _pod(self, pod: Object) -> None:
        ref = controller_ref(pod)
        if ref is not None and ref.get("kind") == "StatefulSet":
            self.enqueue(f"{meta(pod).get('namespace', '')}/{ref.get('name', '')}")

    # -- revisions --------------------------------------------------------------------------------

    async def revisions_for(self, sts: Object) -> tuple[Object, list[Object]]:
        """The update revision (created if new) and every revision the set owns."""
        owned = [copy.deepcopy(r) for r in self.revisions.cache.by_index(CONTROLLER_UID_INDEX, meta(sts)["uid"])]
        template = (sts.get("spec") or {}).get("template") or {}
        data = {"spec": {"template": template}}
        for revision in owned:
            if revision.get("data") == data:
                return revision, owned
        collisions = (sts.get("status") or {}).get("collisionCount")
        name = f"{meta(sts)['name']}-{template_hash(template, collisions)}"
        body = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": name, "namespace": meta(sts)["namespace"],
                             "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                             "ownerReferences": [owner_reference(sts)]},
                "data": data, "revision": max((int(r.get("revision") or 0) for r in owned), default=0) + 1}
        try:
            created = await self.client.create(REVISIONS, body, namespace=meta(sts)["namespace"])
        except AlreadyExists:
            created = await self.client.get(REVISIONS, name, namespace=meta(sts)["namespace"])
            if created.get("data") != data:
                raise
        return created, owned + [created]

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, key: Any) -> None:
        cached = self.sets.cache.get(key)
        if cached is None:
            return
        sts = {**copy.deepcopy(cached), "apiVersion": "apps/v1", "kind": "StatefulSet"}
        if is_terminating(sts):
            return
        namespace, name = split_key(key)
        spec = sts.get("spec") or {}
        candidates = self.pods.cache.by_index(CONTROLLER_UID_INDEX, meta(sts)["uid"]) + \
            self.pods.cache.by_index(ORPHAN_INDEX, namespace)
        pattern = re.compile(rf"^{re.escape(name)}-(\d+)$")
        pods = [p for p in await claim(self.client, PODS, sts, candidates, label_selector_from_dict(spec.get("selector")),
                                       can_adopt=lambda: fresh_owner_check(self.client, STATEFULSETS, sts))
                if pattern.match(meta(p)["name"])]
        update, revisions = await self.revisions_for(sts)
        status = sts.get("status") or {}
        current_name = status.get("currentRevision") or meta(update)["name"]
        by_name = {meta(r)["name"]: r for r in revisions}
        current = by_name.get(current_name, update)
        replicas = int(spec.get("replicas", 1))
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        strategy = spec.get("updateStrategy") or {}
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0) \
            if strategy.get("type", "RollingUpdate") == "RollingUpdate" else 0
        by_ordinal = {int(pattern.match(meta(p)["name"]).group(1)): p for p in pods}  # type: ignore[union-attr]
        await self.apply(sts, by_ordinal, replicas, ordered, strategy, partition, current, update)
        await self.update_status(sts, list(by_ordinal.values()), current, update, replicas)
        await self.trim_history(sts, revisions, {meta(current)["name"], meta(update)["name"]} |
                                {(meta(p).get("labels") or {}).get(REVISION_LABEL) for p in pods})

    async def apply(self, sts: Object, pods: dict[int, Object], replicas: int, ordered: bool, strategy: Object,
                    partition: int, current: Object, update: Object) -> None:
        for ordinal, pod in sorted(pods.items()):
            if finished(pod) and not is_terminating(pod):
                await self.delete_pod(sts, pod)
                pods.pop(ordinal)
                if ordered:
                    return
        for ordinal in range(replicas):
            pod = pods.get(ordinal)
            if pod is None:
                use = current if (strategy.get("type", "RollingUpdate") == "RollingUpdate" and ordinal < partition) \
                    else update
                pods[ordinal] = await self.create_pod(sts, ordinal, use)
                if ordered:
                    return
            elif ordered and not running_and_ready(pod):
                return  # wait for this ordinal before touching the next
        condemned = sorted((o for o in pods if o >= replicas), reverse=True)
        for ordinal in condemned:
            pod = pods[ordinal]
            if is_terminating(pod):
                if ordered:
                    return
                continue
            if ordered and not all(running_and_ready(p) for o, p in pods.items() if o != ordinal):
                return
            if _retention(sts, "whenScaled") == "Delete":
                await self.claims_owned_by(sts, pod)  # the garbage collector deletes them with the pod
            await self.delete_pod(sts, pod)
            if ordered:
                return
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        if not all(running_and_ready(p) for o, p in pods.items() if o < replicas):
            return
        update_name = meta(update)["name"]
        for ordinal in range(replicas - 1, partition - 1, -1):
            pod = pods.get(ordinal)
            if pod is not None and (meta(pod).get("labels") or {}).get(REVISION_LABEL) != update_name:
                await self.delete_pod(sts, pod)
                return

    async def create_pod(self, sts: Object, ordinal: int, revision: Object) -> Object:
        spec = sts.get("spec") or {}
        set_name, namespace = meta(sts)["name"], meta(sts)["namespace"]
        name = f"{set_name}-{ordinal}"
        template = (revision.get("data") or {}).get("spec", {}).get("template") or spec.get("template") or {}
        pod = pod_from_template(sts, template, name=name, extra_labels={
            REVISION_LABEL: meta(revision)["name"], POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal)})
        pod["spec"]["hostname"] = name
        if spec.get("serviceName"):
            pod["spec"]["subdomain"] = spec["serviceName"]
        volumes = [v for v in pod["spec"].get("volumes") or []]
        for claim_template in spec.get("volumeClaimTemplates") or []:
            claim_name = f"{meta(claim_template)['name']}-{name}"
            await self.ensure_claim(sts, claim_template, claim_name)
            volumes = [v for v in volumes if v.get("name") != meta(claim_template)["name"]]
            volumes.append({"name": meta(claim_template)["name"], "persistentVolumeClaim": {"claimName": claim_name}})
        if volumes:
            pod["spec"]["volumes"] = volumes
        try:
            created = await self.client.create(PODS, pod, namespace=namespace)
        except AlreadyExists:  # created by an earlier sync the cache has not shown yet
            return await self.client.get(PODS, name, namespace=namespace)
        self.recorder.event(sts, NORMAL, "SuccessfulCreate", f"create Pod {name} in StatefulSet {set_name} successful")
        return created

    async def ensure_claim(self, sts: Object, template: Object, claim_name: str) -> None:
        namespace = meta(sts)["namespace"]
        try:
            await self.client.get(PVCS, claim_name, namespace=namespace)
            return
        except NotFound:
            pass
        owners = [owner_reference(sts, controller=True)] if _retention(sts, "whenDeleted") == "Delete" else []
        labels = {**(meta(template).get("labels") or {}),
                  **(((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})}
        body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim_name, "namespace": namespace, "labels": labels,
                             "annotations": dict(meta(template).get("annotations") or {}), "ownerReferences": owners},
                "spec": copy.deepcopy(template.get("spec") or {})}
        try:
            await self.client.create(PVCS, body, namespace=namespace)
            self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                                f"create Claim {claim_name} for StatefulSet {meta(sts)['name']} success")
        except AlreadyExists:
            pass

    async def claims_owned_by(self, sts: Object, pod: Object) -> None:
        """persistentVolumeClaimRetentionPolicy.whenScaled=Delete: the condemned pod owns its claims."""
        ordinal_name = meta(pod)["name"]
        for claim_template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            claim_name = f"{meta(claim_template)['name']}-{ordinal_name}"
            ref = owner_reference({**pod, "apiVersion": "v1", "kind": "Pod"}, controller=False)
            patch = {"metadata": {"ownerReferences": [ref]}}  # replaces the set's reference, as Kubernetes does
            try:
                await self.client.patch(PVCS, claim_name, patch, namespace=meta(sts)["namespace"])
            except NotFound:
                pass

    async def delete_pod(self, sts: Object, pod: Object) -> None:
        try:
            await self.client.delete(PODS, meta(pod)["name"], namespace=meta(pod)["namespace"],
                                     preconditions={"uid": meta(pod)["uid"]})
            self.recorder.event(sts, NORMAL, "SuccessfulDelete",
                                f"delete Pod {meta(pod)['name']} in StatefulSet {meta(sts)['name']} successful")
        except NotFound:
            pass

    async def update_status(self, sts: Object, pods: list[Object], current: Object, update: Object,
                            replicas: int) -> None:
        live = [p for p in pods if not is_terminating(p)]
        current_name, update_name = meta(current)["name"], meta(update)["name"]
        revision_of = [(meta(p).get("labels") or {}).get(REVISION_LABEL) for p in live]
        min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
        ready = sum(1 for p in live if running_and_ready(p))
        status: Object = {
            "observedGeneration": meta(sts).get("generation", 1), "replicas": len(live),
            "readyReplicas": ready, "availableReplicas": ready if not min_ready else sum(
                1 for p in live if running_and_ready(p) and is_pod_available(p, min_ready)),
            "currentReplicas": revision_of.count(current_name), "updatedReplicas": revision_of.count(update_name),
            "currentRevision": current_name, "updateRevision": update_name,
            "collisionCount": int((sts.get("status") or {}).get("collisionCount") or 0),
        }
        if status["updatedReplicas"] == replicas and status["readyReplicas"] == replicas == len(live):
            status["currentRevision"], status["currentReplicas"] = update_name, status["updatedReplicas"]
        old = sts.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()):
            return
        try:
            await self.client.patch_status(STATEFULSETS, meta(sts)["name"], {"status": status},
                                           namespace=meta(sts)["namespace"])
        except NotFound:
            pass

    async def trim_history(self, sts: Object, revisions: list[Object], live: set[str | None]) -> None:
        limit = int((sts.get("spec") or {}).get("revisionHistoryLimit", 10))
        spare = sorted((r for r in revisions if meta(r)["name"] not in live), key=lambda r: int(r.get("revision") or 0))
        doomed = spare[:max(len(spare) - limit, 0)]
        await asyncio.gather(*(self._delete_revision(r) for r in doomed))

    async def _delete_revision(self, revision: Object) -> None:
        try:
            await self.client.delete(REVISIONS, meta(revision)["name"], namespace=meta(revision)["namespace"])
        except NotFound:
            pass

