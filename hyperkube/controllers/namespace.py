"""The namespace controller: empties a Terminating namespace, then lets it go.

``kubectl delete namespace x`` only marks the namespace (``deletionTimestamp``, phase
Terminating); the API server keeps it while ``spec.finalizers`` holds ``kubernetes``. A sync
of a Terminating namespace:

1. reads discovery afresh (custom resources included) and keeps every namespaced resource
   that can be listed and deleted (preferred versions; a group that fails discovery is
   reported and retried, the others are still emptied);
2. deletes each resource's content: ``deletecollection`` where served, else one DELETE per
   object (a few resources at a time);
3. lists again and counts what remains and which finalizers hold it;
4. writes the conditions Kubernetes writes (NamespaceDeletionDiscoveryFailure,
   NamespaceDeletionGroupVersionParsingFailure, NamespaceDeletionContentFailure,
   NamespaceContentRemaining, NamespaceFinalizersRemaining), each True with the reason that
   blocks, or False with the all-clear;
5. when nothing remains, removes ``kubernetes`` through ``/finalize``; the API server then
   deletes the namespace (at once, unless ``metadata.finalizers`` still hold it).

Content that is still going (pods waiting for their kubelet, objects waiting for their own
finalizers) makes the sync check again after ``recheck`` seconds, growing to ``max_recheck``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hyperkube.client import APIError, APIResource, Conflict, Discovery, NotFound
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import is_terminating, meta
from hyperkube.machinery.durations import now_rfc3339

log = logging.getLogger("hyperkube.controllers.namespace")

NAMESPACES = "v1/namespaces"
FINALIZER = "kubernetes"
CONDITION_TYPES = ("NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                   "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining")
ALL_CLEAR = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted", "All content successfully deleted, may be waiting on "
                                        "finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


class NamespaceController(Controller):
    name = "namespace"
    workers_option = "namespace"
    default_workers = 10

    def __init__(self, ctx: ControllerContext, *, recheck: float = 0.5, max_recheck: float = 15.0,
                 parallel_deletes: int = 8) -> None:
        super().__init__(ctx)
        self.recheck = recheck
        self.max_recheck = max_recheck
        self.parallel = asyncio.Semaphore(parallel_deletes)
        self.discovery = Discovery(self.client)
        self.attempts: dict[str, int] = {}
        self.namespaces = ctx.factory.informer(NAMESPACES)
        self.namespaces.add_event_handler(self._changed, lambda old, new: self._changed(new), None)

    def _changed(self, namespace: Object) -> None:
        if is_terminating(namespace):
            self.enqueue(meta(namespace).get("name", ""))

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, key: Any) -> None:
        namespace = self.namespaces.cache.get(key)
        if namespace is None or not is_terminating(namespace):
            self.attempts.pop(key, None)
            return
        if FINALIZER not in ((namespace.get("spec") or {}).get("finalizers") or []):
            self.attempts.pop(key, None)
            return
        problems: dict[str, tuple[str, str]] = {}
        try:
            resources = await self.deletable_resources()
        except APIError as error:
            problems["NamespaceDeletionDiscoveryFailure"] = ("DiscoveryFailed", f"Discovery failed: {error}")
            resources = []
        failures = await self.delete_content(key, resources)
        if failures:
            problems["NamespaceDeletionContentFailure"] = (
                "ContentDeletionFailed", f"Failed to delete all resource types, {len(failures)} remaining: "
                + ", ".join(failures))
        counts, finalizers = await self.remaining(key, resources)
        if counts:
            problems["NamespaceContentRemaining"] = (
                "SomeResourcesRemain", "Some resources are remaining: "
                + ", ".join(f"{name} has {n} resource instances" for name, n in sorted(counts.items())))
        if finalizers:
            problems["NamespaceFinalizersRemaining"] = (
                "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: "
                + ", ".join(f"{name} in {n} resource instances" for name, n in sorted(finalizers.items())))
        namespace = await self.write_conditions(namespace, problems)
        if problems:
            attempt = self.attempts.get(key, 0)
            self.attempts[key] = attempt + 1
            self.enqueue_after(key, min(self.recheck * (1.5 ** attempt), self.max_recheck))
            return
        self.attempts.pop(key, None)
        await self.finalize(namespace)

    async def deletable_resources(self) -> list[APIResource]:
        self.discovery.invalidate()
        seen: set[tuple[str, str]] = set()
        found = []
        for resource in await self.discovery.resources():
            verbs = set(resource.verbs)
            if not resource.namespaced or not resource.preferred or "list" not in verbs:
                continue
            if not verbs & {"delete", "deletecollection"} or (resource.group, resource.name) in seen:
                continue
            seen.add((resource.group, resource.name))
            found.append(resource)
        return found

    async def delete_content(self, namespace: str, resources: list[APIResource]) -> list[str]:
        """Delete everything; the names of the resources whose deletion failed."""

        async def one(resource: APIResource) -> str | None:
            async with self.parallel:
                try:
                    if "deletecollection" in resource.verbs:
                        await self.client.delete_collection(resource.gvr, namespace=namespace)
                    else:
                        listed = await self.client.list_all(resource.gvr, namespace=namespace)
                        for item in listed.get("items") or []:
                            if not is_terminating(item):
                                try:
                                    await self.client.delete(resource.gvr, meta(item)["name"], namespace=namespace)
                                except NotFound:
                                    pass
                except NotFound:
                    return None
                except APIError as error:
                    log.info("namespace %s: deleting %s failed: %s", namespace, _qualified(resource), error)
                    return _qualified(resource)
                return None

        results = await asyncio.gather(*(one(r) for r in resources))
        return sorted(name for name in results if name)

    async def remaining(self, namespace: str, resources: list[APIResource]) -> tuple[dict[str, int], dict[str, int]]:
        """How many objects of each resource remain, and how many each finalizer holds."""
        counts: dict[str, int] = {}
        finalizers: dict[str, int] = {}

        async def one(resource: APIResource) -> None:
            async with self.parallel:
                try:
                    listed = await self.client.list_all(resource.gvr, namespace=namespace)
                except APIError:
                    return
            items = listed.get("items") or []
            if items:
                counts[_qualified(resource)] = len(items)
            for item in items:
                for finalizer in meta(item).get("finalizers") or ():
                    finalizers[finalizer] = finalizers.get(finalizer, 0) + 1

        await asyncio.gather(*(one(r) for r in resources))
        return counts, finalizers

    async def write_conditions(self, namespace: Object, problems: dict[str, tuple[str, str]]) -> Object:
        status = namespace.get("status") or {}
        old = {c.get("type"): c for c in status.get("conditions") or ()}
        conditions = []
        now = now_rfc3339()
        for kind in CONDITION_TYPES:
            reason, message = problems.get(kind) or ALL_CLEAR[kind]
            state = "True" if kind in problems else "False"
            previous = old.get(kind) or {}
            since = previous.get("lastTransitionTime") if previous.get("status") == state else None
            conditions.append({"type": kind, "status": state, "lastTransitionTime": since or now,
                               "reason": reason, "message": message})
        unchanged = [(c["type"], c["status"], c["reason"], c["message"]) for c in conditions] == [
            (c.get("type"), c.get("status"), c.get("reason"), c.get("message")) for c in status.get("conditions") or ()]
        if unchanged:
            return namespace
        try:
            return await self.client.patch_status(NAMESPACES, meta(namespace)["name"],
                                                  {"status": {"conditions": conditions}})
        except NotFound:
            return namespace

    async def finalize(self, namespace: Object) -> None:
        name = meta(namespace)["name"]
        for _ in range(5):
            finalizers = [f for f in (namespace.get("spec") or {}).get("finalizers") or [] if f != FINALIZER]
            body = {**namespace, "apiVersion": "v1", "kind": "Namespace",
                    "spec": {**(namespace.get("spec") or {}), "finalizers": finalizers}}
            try:
                await self.client.update(NAMESPACES, body, subresource="finalize")
                return
            except NotFound:
                return
            except Conflict:
                namespace = await self.client.get(NAMESPACES, name)
        raise Conflict(f'namespace "{name}" kept changing while it was finalized')


def _qualified(resource: APIResource) -> str:
    return f"{resource.name}.{resource.group}" if resource.group else resource.name
