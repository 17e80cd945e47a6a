"""The CRD controller of one API server: CustomResourceDefinitions in the store -> served resources.

Every API server process runs one. It reads every CRD before the server accepts connections,
then follows the CRD key prefix through the server's watch hub, so several API servers on one
store each serve what any of them created. On every change it reconciles the whole (small)
set, level-triggered and idempotent:

1. **names**: CRDs are taken in creation order, those already accepted first; one whose plural, singular, kind, listKind or
   short names collide with an earlier CRD of the same group (or with a built-in resource) is
   not accepted (``NamesAccepted=False``, reason ``PluralConflict`` ...) and keeps serving the
   names it had accepted before, if any;
2. **registry**: each CRD with accepted names gets one registry entry per served version
   (:func:`hyperkube.api.crd.resources_for`) and its schemas registered
   (:func:`hyperkube.api.schemas.register_schema`: validation, pruning, defaults); schemas go
   in before the entries, and come out after them. Discovery, aggregated discovery and
   ``/openapi/v3`` follow the registry generation, so they change with it;
3. **status**: ``acceptedNames`` and the ``NamesAccepted``, ``Established`` (and, while being
   deleted, ``Terminating``) conditions are written through ``/status`` when they differ from
   the stored ones; a lost race is retried on the next event;
4. **deletion**: a CRD with a ``deletionTimestamp`` refuses new custom resources, gets its
   custom resources deleted (each through the normal DELETE path, so their finalizers run),
   and once none is left loses the ``customresourcecleanup.apiextensions.k8s.io`` finalizer,
   which lets the store drop it; the DELETE event then removes its registry entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from typing import Any

from hyperkube.api import schemas
from hyperkube.api.crd import CRD_GROUP, CustomResource, Names, resources_for, schema_of
from hyperkube.api.crd_strategy import CLEANUP_FINALIZER, storage_version
from hyperkube.api.registry import Registry, Resource
from hyperkube.apiserver import deletion
from hyperkube.apiserver.feeds import Hub
from hyperkube.apiserver.objects import Object, Objects
from hyperkube.apiserver.selection import split_key
from hyperkube.machinery import errors
from hyperkube.machinery.durations import now_rfc3339
from hyperkube.storage.interface import RangeRequest, prefix_end

log = logging.getLogger("hyperkube.apiserver.crds")

#: schemas are process-wide; API servers sharing a process share them: gvk -> (controller, CRD) holders
_schema_holders: dict[tuple[str, str, str], set[tuple[int, str]]] = {}


def _hold_schema(gvk: tuple[str, str, str], schema: dict[str, Any], holder: tuple[int, str]) -> None:
    if schemas.custom_schemas().get(gvk) != schema:
        schemas.register_schema(*gvk, schema)
    _schema_holders.setdefault(gvk, set()).add(holder)


def _release_schema(gvk: tuple[str, str, str], holder: tuple[int, str]) -> None:
    holders = _schema_holders.get(gvk)
    if holders is None:
        return
    holders.discard(holder)
    if not holders:
        del _schema_holders[gvk]
        schemas.unregister_schema(*gvk)


# ---- names --------------------------------------------------------------------------------------

def _creation_order(crd: Object) -> tuple[int, str, str]:
    """CRDs already accepted keep their names; the rest queue by age (then name)."""
    metadata = crd.get("metadata") or {}
    accepted = any(isinstance(c, dict) and c.get("type") == "NamesAccepted" and c.get("status") == "True"
                   for c in (crd.get("status") or {}).get("conditions") or [])
    return (0 if accepted else 1), str(metadata.get("creationTimestamp") or ""), str(metadata.get("name") or "")


def accept_names(crds: list[Object], builtin: set[tuple[str, str]]) -> dict[str, tuple[Names | None, str, str]]:
    """CRD name -> (names to serve, condition reason, message); reason "NoConflicts" when accepted."""
    taken: dict[str, dict[str, set[str]]] = {}
    out: dict[str, tuple[Names | None, str, str]] = {}
    for crd in sorted(crds, key=_creation_order):
        spec = crd.get("spec") or {}
        group = str(spec.get("group") or "")
        claimed = taken.setdefault(group, {"plural": set(), "singular": set(), "kind": set(), "listKind": set(),
                                           "shortNames": set()})
        requested = Names.of(spec.get("names"))
        previous = Names.of((crd.get("status") or {}).get("acceptedNames"))
        name = str((crd.get("metadata") or {}).get("name") or "")
        if requested is None:
            out[name] = (previous, "NotAccepted", "names are incomplete")
            continue
        problem = _conflict(requested, claimed, builtin, group)
        if problem is None:
            accepted: Names | None = requested
            reason, message = "NoConflicts", "no conflicts found"
        else:
            reason, message = problem
            accepted = previous if previous is not None and _conflict(previous, claimed, builtin, group) is None \
                else None
        if accepted is not None:
            claimed["plural"].add(accepted.plural)
            claimed["singular"].add(accepted.singular)
            claimed["kind"].add(accepted.kind)
            claimed["listKind"].add(accepted.list_kind)
            claimed["shortNames"].update(accepted.short_names)
        out[name] = (accepted, reason, message)
    return out


def _conflict(names: Names, claimed: dict[str, set[str]], builtin: set[tuple[str, str]],
              group: str) -> tuple[str, str] | None:
    if names.plural in claimed["plural"] or (group, names.plural) in builtin:
        return "PluralConflict", f'"{names.plural}" is already in use'
    if names.singular in claimed["singular"]:
        return "SingularConflict", f'"{names.singular}" is already in use'
    for short in names.short_names:
        if short in claimed["shortNames"]:
            return "ShortNamesConflict", f'"{short}" is already in use'
    if names.kind in claimed["kind"]:
        return "KindConflict", f'"{names.kind}" is already in use'
    if names.list_kind in claimed["listKind"]:
        return "ListKindConflict", f'"{names.list_kind}" is already in use'
    return None


def _set_condition(conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str) -> None:
    for condition in conditions:
        if condition.get("type") == kind:
            if (condition.get("status"), condition.get("reason"), condition.get("message")) != (status, reason,
                                                                                                 message):
                if condition.get("status") != status:
                    condition["lastTransitionTime"] = now_rfc3339()
                condition.update(status=status, reason=reason, message=message)
            return
    conditions.append({"type": kind, "status": status, "lastTransitionTime": now_rfc3339(), "reason": reason,
                       "message": message})


def desired_status(crd: Object, accepted: Names | None, reason: str, message: str) -> dict[str, Any]:
    status = copy.deepcopy(crd.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    _set_condition(conditions, "NamesAccepted", "True" if reason == "NoConflicts" else "False", reason, message)
    if accepted is not None:
        _set_condition(conditions, "Established", "True", "InitialNamesAccepted",
                       "the initial names have been accepted")
        status["acceptedNames"] = accepted.as_status()
    else:
        _set_condition(conditions, "Established", "False", "NotAccepted", "not all names are accepted")
    if (crd.get("metadata") or {}).get("deletionTimestamp"):
        _set_condition(conditions, "Terminating", "True", "InstanceDeletionInProgress",
                       "CustomResource deletion is in progress")
    status["conditions"] = conditions
    stored = storage_version(crd)
    versions = list(status.get("storedVersions") or [])
    if stored and stored not in versions:
        versions.append(stored)
    status["storedVersions"] = versions
    return status


# ---- the controller -----------------------------------------------------------------------------

class CRDController:
    def __init__(self, objects: Objects, registry: Registry, hub: Hub) -> None:
        self.objects = objects
        self.registry = registry
        self.hub = hub
        resource = registry.get(CRD_GROUP, "v1", "customresourcedefinitions")
        assert resource is not None, "the registry has no customresourcedefinitions"
        self.resource: Resource = resource
        self.prefix = objects.resource_prefix(resource)
        self.crds: dict[str, Object] = {}
        #: CRD name -> (fingerprint, registry entries served for it)
        self.installed: dict[str, tuple[Any, list[CustomResource]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        self._retry = False

    # ---- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Load and serve every stored CRD, then follow changes (call before serving)."""
        revision = await self._load()
        await self.reconcile()
        subscription = await self.hub.subscribe(self.prefix, revision)
        self._task = asyncio.create_task(self._follow(subscription), name="crd-controller")

    async def _load(self) -> int:
        result = await self.objects.store.range(RangeRequest(self.prefix, prefix_end(self.prefix)))
        crds = {}
        for kv in result.kvs:
            try:
                crds[kv.key[len(self.prefix):]] = self.objects.decode(self.resource, kv.value, kv.mod_revision)
            except errors.APIError:
                continue
        self.crds = crds
        return result.revision

    async def _follow(self, subscription: Any) -> None:
        try:
            while True:
                changes = await subscription.next(2.0 if self._retry else 30.0)
                if subscription.ended:
                    return
                for change in changes:
                    name = change.key[len(self.prefix):]
                    obj = change.obj()
                    if change.type == "DELETE" or obj is None:
                        self.crds.pop(name, None)
                    else:
                        self.crds[name] = copy.deepcopy(obj)
                if subscription.error is not None:  # fell behind: read everything again
                    subscription.close()
                    revision = await self._load()
                    subscription = await self.hub.subscribe(self.prefix, revision)
                try:  # also on a quiet timeout: level-triggered, and a lost status write is retried
                    await self.reconcile()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("reconciling CRDs failed")
                    self._retry = True
        finally:
            subscription.close()

    async def close(self) -> None:
        tasks = [t for t in [self._task, *self._cleanups.values()] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._cleanups.clear()
        for name in list(self.installed):
            self._uninstall(name)

    # ---- reconcile ------------------------------------------------------------------------
    async def reconcile(self) -> None:
        self._retry = False
        builtin = {(r.group, r.plural) for r in self.registry if not isinstance(r, CustomResource)}
        decisions = accept_names(list(self.crds.values()), builtin)
        for name in list(self.installed):
            if name not in self.crds:
                self._uninstall(name)
        for name, crd in list(self.crds.items()):
            accepted, reason, message = decisions.get(name, (None, "NotAccepted", ""))
            try:
                self._install(name, crd, accepted)
            except (ValueError, KeyError, TypeError) as exc:  # one bad stored CRD must not stop the rest
                log.warning("cannot serve CRD %s: %s", name, exc)
                continue
            status = desired_status(crd, accepted, reason, message)
            if status != (crd.get("status") or {}):
                await self._write_status(name, crd, status)
            metadata = crd.get("metadata") or {}
            if metadata.get("deletionTimestamp") and CLEANUP_FINALIZER in (metadata.get("finalizers") or []) \
                    and name not in self._cleanups:
                task = asyncio.create_task(self._cleanup(name), name=f"crd-cleanup-{name}")
                self._cleanups[name] = task
                task.add_done_callback(lambda _t, n=name: self._cleanups.pop(n, None))

    def _install(self, name: str, crd: Object, accepted: Names | None) -> None:
        metadata = crd.get("metadata") or {}
        terminating = bool(metadata.get("deletionTimestamp"))
        fingerprint = (metadata.get("uid"), metadata.get("generation"), accepted, terminating)
        current = self.installed.get(name)
        if current is not None and current[0] == fingerprint:
            return
        wanted = resources_for(crd, accepted, terminating) if accepted is not None else []
        versions = {str(v.get("name")): v for v in (crd.get("spec") or {}).get("versions") or []
                    if isinstance(v, dict)}
        holder = (id(self), name)
        for resource in wanted:
            _hold_schema((resource.group, resource.version, resource.kind), schema_of(versions[resource.version]),
                         holder)
        for resource in wanted:
            self.registry.add(resource)
        kept = {(r.group, r.version, r.plural) for r in wanted}
        kept_kinds = {(r.group, r.version, r.kind) for r in wanted}
        for old in current[1] if current is not None else []:
            if (old.group, old.version, old.plural) not in kept:
                self._remove_entry(old)
            if (old.group, old.version, old.kind) not in kept_kinds:
                _release_schema((old.group, old.version, old.kind), holder)
        self.installed[name] = (fingerprint, wanted)
        if wanted:
            log.info("serving %s (%s)", name, ", ".join(r.version for r in wanted))

    def _uninstall(self, name: str) -> None:
        _fingerprint, served = self.installed.pop(name)
        for resource in served:
            self._remove_entry(resource)
        for resource in served:
            _release_schema((resource.group, resource.version, resource.kind), (id(self), name))
        if served:
            log.info("stopped serving %s", name)

    def _remove_entry(self, resource: CustomResource) -> None:
        """Remove ``resource`` unless another CRD's entry has taken its place meanwhile."""
        if self.registry.get(resource.group, resource.version, resource.plural) is resource:
            self.registry.remove(resource.group, resource.version, resource.plural)

    async def _write_status(self, name: str, crd: Object, status: dict[str, Any]) -> None:
        body = copy.deepcopy(crd)
        body["status"] = status
        try:
            written = await self.objects.update(self.resource, "", name, body, subresource="status")
        except (errors.Conflict, errors.NotFound):
            self._retry = True  # someone wrote it meanwhile: the next event brings the new state
            return
        except errors.APIError as exc:
            log.warning("could not write the status of CRD %s: %s", name, exc.message)
            return
        current = self.crds.get(name)
        if current is not None and str((current.get("metadata") or {}).get("resourceVersion")) == \
                str((crd.get("metadata") or {}).get("resourceVersion")):
            self.crds[name] = copy.deepcopy(written.obj)

    # ---- deletion -------------------------------------------------------------------------
    def _storage_resource(self, crd: Object) -> Resource | None:
        names = Names.of((crd.get("status") or {}).get("acceptedNames")) or Names.of((crd.get("spec") or {})
                                                                                     .get("names"))
        if names is None:
            return None
        spec = copy.deepcopy(crd.get("spec") or {})
        stored = storage_version(crd)
        for version in spec.get("versions") or []:
            if isinstance(version, dict):
                version["served"] = version.get("name") == stored
        found = resources_for({**crd, "spec": spec}, names, terminating=True)
        return found[0] if found else None

    async def _cleanup(self, name: str) -> None:
        """Delete every custom resource of a CRD being deleted, then drop its finalizer."""
        while True:
            try:
                if await self._cleanup_step(name):
                    return
            except asyncio.CancelledError:
                raise
            except errors.APIError as exc:
                log.warning("cleaning up CRD %s: %s", name, exc.message)
            except Exception:
                log.exception("cleaning up CRD %s failed", name)
            await asyncio.sleep(1.0)

    async def _cleanup_step(self, name: str) -> bool:
        crd = self.crds.get(name)
        metadata = (crd or {}).get("metadata") or {}
        if crd is None or not metadata.get("deletionTimestamp") or CLEANUP_FINALIZER not in (
                metadata.get("finalizers") or []):
            return True
        resource = self._storage_resource(crd)
        if resource is not None:
            prefix = self.objects.resource_prefix(resource)
            result = await self.objects.store.range(RangeRequest(prefix, prefix_end(prefix)))
            if result.kvs:
                for kv in result.kvs:
                    namespace, item = split_key(kv.key, prefix, resource.namespaced)
                    if b'"deletionTimestamp"' in kv.value:
                        continue
                    with contextlib.suppress(errors.NotFound, errors.Conflict):
                        await deletion.delete(self.objects, resource, namespace, item,
                                              {"propagationPolicy": "Background"})
                subscription = await self.hub.subscribe(prefix, result.revision)
                try:
                    await subscription.next(1.0)  # wake on the next change under the prefix
                finally:
                    subscription.close()
                return False
        return await self._drop_finalizer(name)

    async def _drop_finalizer(self, name: str) -> bool:
        for _attempt in range(16):
            try:
                current = await self.objects.get(self.resource, "", name)
            except errors.NotFound:
                return True
            metadata = current.setdefault("metadata", {})
            finalizers = [f for f in metadata.get("finalizers") or [] if f != CLEANUP_FINALIZER]
            if finalizers == list(metadata.get("finalizers") or []):
                return True
            metadata["finalizers"] = finalizers
            try:
                await self.objects.update(self.resource, "", name, current)
            except errors.Conflict:
                continue
            except errors.NotFound:
                return True
            log.info("custom resources of %s deleted; finalizer removed", name)
            return True
        return False
