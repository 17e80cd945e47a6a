"""The garbage collector: ownerReferences as a graph, and deletion propagation.

Monitors: one shared informer per served resource that can be listed, watched and deleted
(from discovery, re-read every ``gc_discovery_period`` seconds so custom resources join),
events excepted. Their handlers keep a graph: ``uid -> node`` (where the object is, its
ownerReferences) and ``owner uid -> dependent uids``. Work items are ``(action, uid)``:

- ``("delete", uid)``: *attempt to delete* a dependent. Its owners are looked up (graph,
  then a live GET; absent owners are remembered). With at least one solid owner, references
  to gone or foreground-deleting owners are removed. With none left, the object is deleted
  with its own policy (orphan finalizer -> Orphan, foregroundDeletion -> Foreground, else
  Background), or Foreground when an owner waits for it and it has dependents itself.
  An object carrying ``foregroundDeletion`` while being deleted instead waits for its
  ``blockOwnerDeletion`` dependents to go, deleting them, then drops the finalizer.
- ``("orphan", uid)``: an owner deleted with the ``orphan`` finalizer: every dependent loses
  its reference to it, then the finalizer goes.

Background deletion needs nothing else: the API server deletes the owner at once, its
DELETED event queues every dependent, and each finds its owner gone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from hyperkube.client import APIResource, Conflict, Discovery, Informer, NotFound, ResourceNotFound
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import is_terminating, meta

log = logging.getLogger("hyperkube.controllers.garbagecollector")

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
IGNORED = {("", "events"), ("events.k8s.io", "events")}
NEEDED_VERBS = {"list", "watch", "delete"}


@dataclass
class Node:
    resource: APIResource
    namespace: str
    name: str
    uid: str
    owners: list[Object] = field(default_factory=list)
    obj: Object = field(default_factory=dict)

    @property
    def deleting(self) -> bool:
        return is_terminating(self.obj)

    @property
    def finalizers(self) -> list[str]:
        return meta(self.obj).get("finalizers") or []


class GarbageCollector(Controller):
    name = "garbagecollector"
    workers_option = "garbagecollector"
    default_workers = 20

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.discovery = Discovery(self.client)
        self.period = float(ctx.options.get("gc_discovery_period", 30.0))
        self.nodes: dict[str, Node] = {}
        self.dependents: dict[str, set[str]] = {}
        self.monitors: dict[tuple[str, str], Informer] = {}
        self.absent: set[str] = set()
        self._rediscover: asyncio.Task[None] | None = None

    # -- monitors ---------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.sync_monitors()
        self._rediscover = asyncio.create_task(self._rediscover_loop(), name="gc-rediscovery")

    async def run(self, workers: int | None = None) -> None:
        try:
            await super().run(workers)
        finally:
            if self._rediscover is not None:
                self._rediscover.cancel()

    async def _rediscover_loop(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.sync_monitors()
            except Exception as error:  # the next round retries
                log.info("garbage collector: rediscovery failed: %s", error)

    async def sync_monitors(self) -> None:
        self.discovery.invalidate()
        added = []
        for resource in await self.discovery.resources():
            key = (resource.group, resource.name)
            if not resource.preferred or key in IGNORED or key in self.monitors:
                continue
            if not NEEDED_VERBS <= set(resource.verbs):
                continue
            informer = self.ctx.factory.informer(resource.gvr)
            informer.add_event_handler(partial(self._observed, resource),
                                       lambda old, new, r=resource: self._observed(r, new),
                                       partial(self._removed, resource))
            informer.start()
            self.monitors[key] = informer
            added.append(informer)
        if added:
            try:
                async with asyncio.timeout(30):
                    await asyncio.gather(*(i.wait_for_sync() for i in added))
            except TimeoutError:
                log.warning("garbage collector: some monitors have not synced yet")

    # -- the graph --------------------------------------------------------------------------------

    def _observed(self, resource: APIResource, obj: Object) -> None:
        m = meta(obj)
        uid = m.get("uid")
        if not uid:
            return
        owners = [ref for ref in m.get("ownerReferences") or () if ref.get("uid")]
        old = self.nodes.get(uid)
        node = Node(resource, m.get("namespace", ""), m.get("name", ""), uid, owners, obj)
        self.nodes[uid] = node
        old_owner_uids = {ref["uid"] for ref in old.owners} if old else set()
        new_owner_uids = {ref["uid"] for ref in owners}
        for gone in old_owner_uids - new_owner_uids:
            self.dependents.get(gone, set()).discard(uid)
            self._poke_foreground_owner(gone)
        for owner in new_owner_uids:
            self.dependents.setdefault(owner, set()).add(uid)
        if node.deleting and ORPHAN in node.finalizers:
            self.enqueue((ORPHAN, uid))
        if node.deleting and FOREGROUND in node.finalizers:
            self.enqueue(("delete", uid))
            for dependent in self.dependents.get(uid, ()):
                self.enqueue(("delete", dependent))
        if new_owner_uids - old_owner_uids or any(self._owner_waits(o) for o in new_owner_uids):
            if any(o not in self.nodes or self._owner_waits(o) for o in new_owner_uids):
                self.enqueue(("delete", uid))

    def _removed(self, resource: APIResource, obj: Object) -> None:
        uid = meta(obj).get("uid")
        node = self.nodes.pop(uid, None) if uid else None
        if node is None:
            return
        self.absent.add(uid)
        for dependent in self.dependents.get(uid, ()):
            self.enqueue(("delete", dependent))
        for ref in node.owners:
            self.dependents.get(ref["uid"], set()).discard(uid)
            self._poke_foreground_owner(ref["uid"])
        if not self.dependents.get(uid):
            self.dependents.pop(uid, None)

    def _owner_waits(self, uid: str) -> bool:
        node = self.nodes.get(uid)
        return node is not None and node.deleting and FOREGROUND in node.finalizers

    def _poke_foreground_owner(self, uid: str) -> None:
        if self._owner_waits(uid):
            self.enqueue(("delete", uid))

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, key: Any) -> None:
        action, uid = key
        node = self.nodes.get(uid)
        if node is None:
            return
        if action == ORPHAN:
            await self.orphan_dependents(node)
        else:
            await self.attempt_to_delete(node)

    async def attempt_to_delete(self, node: Node) -> None:
        if node.deleting and FOREGROUND not in node.finalizers:
            return  # going anyway
        if node.deleting:
            await self.process_deleting_dependents(node)
            return
        if not node.owners:
            return
        solid, dangling, waiting = [], [], []
        for ref in node.owners:
            owner = await self.lookup_owner(ref, node)
            if owner is None:
                dangling.append(ref)
            elif is_terminating(owner) and FOREGROUND in (meta(owner).get("finalizers") or ()):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            if dangling or waiting:
                await self.remove_owner_references(node, [ref["uid"] for ref in dangling + waiting])
            return
        if waiting and self.dependents.get(node.uid):
            policy = "Foreground"
        elif ORPHAN in node.finalizers:
            policy = "Orphan"
        elif FOREGROUND in node.finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("garbage collector: deleting %s %s/%s (owners gone or waiting), propagation %s",
                 node.resource.kind, node.namespace, node.name, policy)
        try:
            await self.client.delete(node.resource.gvr, node.name, namespace=node.namespace or None,
                                     propagation_policy=policy, preconditions={"uid": node.uid})
        except (NotFound, Conflict):
            pass

    async def lookup_owner(self, ref: Object, dependent: Node) -> Object | None:
        """The owner as it is now, or None when it is gone (or replaced by a namesake)."""
        uid = ref["uid"]
        cached = self.nodes.get(uid)
        if cached is not None:
            return cached.obj
        if uid in self.absent:
            return None
        try:
            resource = await self.discovery.for_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        except ResourceNotFound:
            log.info("garbage collector: owner kind %s %s is not served", ref.get("apiVersion"), ref.get("kind"))
            return None
        namespace = dependent.namespace if resource.namespaced else None
        try:
            owner = await self.client.get(resource.gvr, ref.get("name", ""), namespace=namespace)
        except NotFound:
            self.absent.add(uid)
            return None
        if meta(owner).get("uid") != uid:
            self.absent.add(uid)
            return None
        return owner

    async def process_deleting_dependents(self, node: Node) -> None:
        blocking = []
        for dependent_uid in list(self.dependents.get(node.uid, ())):
            dependent = self.nodes.get(dependent_uid)
            if dependent is None:
                continue
            if any(ref["uid"] == node.uid and ref.get("blockOwnerDeletion") for ref in dependent.owners):
                blocking.append(dependent)
        if blocking:
            for dependent in blocking:
                if not dependent.deleting or FOREGROUND in dependent.finalizers:
                    self.enqueue(("delete", dependent.uid))
            return  # their deletion events bring this owner back
        await self.remove_finalizer(node, FOREGROUND)

    async def orphan_dependents(self, node: Node) -> None:
        for dependent_uid in list(self.dependents.get(node.uid, ())):
            dependent = self.nodes.get(dependent_uid)
            if dependent is not None:
                await self.remove_owner_references(dependent, [node.uid])
        await self.remove_finalizer(node, ORPHAN)

    async def remove_owner_references(self, node: Node, uids: list[str]) -> None:
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid} for uid in uids],
                              "uid": node.uid}}
        try:
            await self.client.patch(node.resource.gvr, node.name, patch, namespace=node.namespace or None,
                                    patch_type="strategic")
        except NotFound:
            pass

    async def remove_finalizer(self, node: Node, finalizer: str) -> None:
        for _ in range(5):
            try:
                obj = await self.client.get(node.resource.gvr, node.name, namespace=node.namespace or None)
            except NotFound:
                return
            finalizers = meta(obj).get("finalizers") or []
            if meta(obj).get("uid") != node.uid or finalizer not in finalizers:
                return
            obj["metadata"]["finalizers"] = [f for f in finalizers if f != finalizer]
            try:
                await self.client.update(node.resource.gvr, obj, namespace=node.namespace or None)
                return
            except Conflict:
                continue
            except NotFound:
                return
        raise Conflict(f"could not remove finalizer {finalizer} from {node.name}")
