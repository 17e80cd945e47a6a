"""DELETE: DeleteOptions, preconditions, finalizers, graceful pods, propagation.

What decides whether an object goes at once or stays with a ``deletionTimestamp``:

- finalizers: the object stays until the last one is removed (an update then deletes it);
- a pod with a grace period on a node stays Terminating until its kubelet deletes it with
  grace 0; an unscheduled or finished pod goes at once (``Strategy.graceful_delete_seconds``);
- a namespace stays Terminating while ``spec.finalizers`` holds ``kubernetes`` (the namespace
  controller empties it and calls ``/finalize``); default, kube-system and kube-public can't
  be deleted;
- ``propagationPolicy: Foreground`` / ``Orphan`` add the ``foregroundDeletion`` / ``orphan``
  finalizer for the garbage collector, but only when the object has dependents (objects whose
  ownerReferences name its uid). Without dependents there is nothing to wait for, so the
  object goes at once, as the collector would make it go.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from hyperkube.api.registry import Resource
from hyperkube.apiserver import bodies
from hyperkube.apiserver.objects import Object, Objects, Written
from hyperkube.machinery import errors
from hyperkube.machinery.durations import now_rfc3339
from hyperkube.storage.interface import Compare, DeleteRequest, PutRequest, RangeRequest, prefix_end

IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
POLICIES = ("Foreground", "Background", "Orphan")


def delete_options(body: Object | None, query: Any) -> Object:
    """DeleteOptions from the body (kubectl) merged over the query (the Python client)."""
    options: Object = {}
    if "gracePeriodSeconds" in query:
        try:
            options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
        except ValueError:
            raise errors.BadRequest(f'invalid gracePeriodSeconds "{query["gracePeriodSeconds"]}"') from None
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if "orphanDependents" in query:
        options["orphanDependents"] = query["orphanDependents"].lower() == "true"
    if body:
        for key in ("gracePeriodSeconds", "propagationPolicy", "orphanDependents", "preconditions", "dryRun"):
            if key in body:
                options[key] = body[key]
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise errors.BadRequest("gracePeriodSeconds must be an integer")
    policy = options.get("propagationPolicy")
    if policy is not None and policy not in POLICIES:
        raise errors.BadRequest(f'propagationPolicy "{policy}" is not one of Foreground, Background, Orphan')
    if options.get("orphanDependents") is not None and policy is not None:
        raise errors.BadRequest("orphanDependents and propagationPolicy may not both be set")
    preconditions = options.get("preconditions")
    if preconditions is not None and not isinstance(preconditions, dict):
        raise errors.BadRequest("preconditions must be an object")
    dry = options.get("dryRun")
    if dry is not None and not isinstance(dry, list):
        raise errors.BadRequest("dryRun must be a list")
    return options


async def has_dependents(objects: Objects, owner: Object, namespaced: bool) -> bool:
    """Whether any object names ``owner``'s uid in its ownerReferences (same namespace, or
    cluster-scoped objects for a cluster-scoped owner)."""
    metadata = owner.get("metadata") or {}
    uid = metadata.get("uid")
    if not uid:
        return False
    needle = uid.encode()
    seen: set[str] = set()
    for resource in objects.registry:
        if resource.namespaced != namespaced:
            continue
        prefix = objects.resource_prefix(resource)
        if namespaced:
            prefix += f"{metadata.get('namespace', '')}/"
        if prefix in seen:
            continue
        seen.add(prefix)
        result = await objects.store.range(RangeRequest(prefix, prefix_end(prefix)))
        for kv in result.kvs:
            if needle not in kv.value:
                continue
            try:
                refs = (orjson.loads(kv.value).get("metadata") or {}).get("ownerReferences") or []
            except (orjson.JSONDecodeError, AttributeError):
                continue
            if any(isinstance(ref, dict) and ref.get("uid") == uid for ref in refs):
                return True
    return False


async def delete(objects: Objects, resource: Resource, namespace: str, name: str, options: Object,
                 dry_run: bool = False) -> tuple[Written, bool]:
    """Delete or start deleting; returns the object and whether it is gone."""
    if resource.group == "" and resource.plural == "namespaces" and name in IMMORTAL_NAMESPACES:
        raise errors.Forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                               details={"name": name, "kind": "namespaces"})
    key = objects.key(resource, namespace, name)
    for _attempt in range(16):
        kv = await objects.read(resource, namespace, name)
        obj = objects.decode(resource, kv.value, kv.mod_revision)
        metadata = obj.setdefault("metadata", {})
        preconditions = options.get("preconditions") or {}
        if preconditions.get("uid") and preconditions["uid"] != metadata.get("uid"):
            raise errors.Conflict.for_object(
                resource.plural, name, f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {metadata.get('uid', '')}", resource.group)
        if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != str(kv.mod_revision):
            raise errors.Conflict.for_object(
                resource.plural, name, f"Precondition failed: ResourceVersion in precondition: "
                f"{preconditions['resourceVersion']}, ResourceVersion in object meta: {kv.mod_revision}",
                resource.group)
        admission = None if objects.admission is None else \
            objects.admission.start("DELETE", resource, "", namespace, name, None, obj, dry_run)
        if admission is not None:
            await admission.admit()
            await admission.validate()
        grace = _grace_seconds(resource, obj, options)
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents"):
            policy = "Orphan"
        finalizers = list(metadata.get("finalizers") or [])
        wanted = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(policy or "")
        if wanted and wanted not in finalizers and not metadata.get("deletionTimestamp") \
                and await has_dependents(objects, obj, resource.namespaced):
            finalizers.append(wanted)
        waits_for_namespace = (resource.group == "" and resource.plural == "namespaces"
                               and (obj.get("spec") or {}).get("finalizers"))
        if not finalizers and not grace and not waits_for_namespace:
            if dry_run:
                return Written(obj, orjson.dumps(obj)), True
            result = await objects.store.txn([Compare(key, "mod", "=", kv.mod_revision)], [DeleteRequest(key)])
            if not result.succeeded:
                continue
            objects.wrote(resource, result.revision)
            if objects._is_service(resource):
                await objects.allocators.release(obj)
            return Written(obj, orjson.dumps(obj)), True
        # stays, marked for deletion
        changed = False
        if finalizers != list(metadata.get("finalizers") or []):
            metadata["finalizers"] = finalizers
            changed = True
        current = metadata.get("deletionGracePeriodSeconds")
        if not metadata.get("deletionTimestamp") or (current is not None and grace < current):
            metadata["deletionTimestamp"] = now_rfc3339(time.time() + grace)
            metadata["deletionGracePeriodSeconds"] = grace
            changed = True
        if waits_for_namespace and (obj.get("status") or {}).get("phase") != "Terminating":
            obj.setdefault("status", {})["phase"] = "Terminating"
            changed = True
        if not changed or dry_run:
            return Written(obj, orjson.dumps(obj)), False
        if resource.strategy.tracks_generation:
            metadata["generation"] = int(metadata.get("generation") or 0) + 1
        value = objects.encode(resource, obj)
        result = await objects.store.txn([Compare(key, "mod", "=", kv.mod_revision)], [PutRequest(key, value)])
        if not result.succeeded:
            continue
        objects.wrote(resource, result.revision)
        bodies.set_resource_version(obj, result.revision)
        return Written(obj, objects.present(resource, value, result.revision)), False
    raise errors.Conflict.for_object(resource.plural, name, "too many concurrent updates", resource.group)


def _grace_seconds(resource: Resource, obj: Object, options: Object) -> int:
    graceful = getattr(resource.strategy, "graceful_delete_seconds", None)
    if graceful is None:
        return 0
    default = graceful(obj)
    if not default:
        return 0  # the kind (an unscheduled pod, say) goes at once whatever the client asked
    requested = options.get("gracePeriodSeconds")
    current = (obj.get("metadata") or {}).get("deletionGracePeriodSeconds")
    grace = default if requested is None else max(int(requested), 0)
    if requested is None and current is not None:
        grace = current
    return grace
