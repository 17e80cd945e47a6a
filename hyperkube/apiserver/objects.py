"""Create, read, update: Kubernetes' object semantics over the etcd-style store.

This is the registry layer the HTTP handlers (and the bootstrap) call; it knows nothing of
HTTP. Each write is one store txn with a compare on the key's revision, which is the whole
of optimistic concurrency: create compares ``create_revision == 0`` (else AlreadyExists),
update compares ``mod_revision`` with what it read (else Conflict, or a retry when the
client sent no resourceVersion). Schema validation (``hyperkube.api.schemas``) runs once per
write, before the kind's strategy defaults and validates. Deletion lives in ``deletion.py``.

Field ownership: a create or update given a ``field_manager`` records an ``Update`` entry in
``metadata.managedFields`` for the fields that writer set or changed (``api.apply.record_update``),
after the strategy's defaults, so the defaults belong to the creator as in Kubernetes. A PUT
body without managedFields keeps the stored ones; ``[{}]`` clears them. PATCH computes its
own ownership (apply or update) and passes no manager.
"""

from __future__ import annotations

import asyncio
import copy
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from hyperkube.api import apply as field_ownership
from hyperkube.api import schemas
from hyperkube.api.registry import Registry, Resource
from hyperkube.apiserver import bodies
from hyperkube.machinery import errors
from hyperkube.machinery.durations import now_rfc3339
from hyperkube.storage.interface import Compare, DeleteRequest, KeyValue, PutRequest, Store

Object = dict[str, Any]

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
#: kinds whose PUT creates a missing object, as Kubernetes' AllowCreateOnUpdate says
CREATE_ON_UPDATE = {("", "endpoints"), ("", "events"), ("events.k8s.io", "events"),
                    ("coordination.k8s.io", "leases"), ("rbac.authorization.k8s.io", "roles"),
                    ("rbac.authorization.k8s.io", "rolebindings"), ("rbac.authorization.k8s.io", "clusterroles"),
                    ("rbac.authorization.k8s.io", "clusterrolebindings"), ("discovery.k8s.io", "endpointslices")}
OWNERSHIP_THREAD_THRESHOLD = 64 * 1024  # bytes of JSON above which managedFields are computed in a thread
SYSTEM_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


@dataclass(slots=True)
class Written:
    obj: Object  # the object as served, resourceVersion set (do not mutate: it may be shared)
    body: bytes  # its JSON
    warnings: list[str] = field(default_factory=list)
    created: bool = False


_random = random.Random()  # uids and generated names need uniqueness, not secrecy: no syscall per call


def new_uid() -> str:
    return str(uuid.UUID(int=_random.getrandbits(128), version=4))


def generate_name(base: str) -> str:
    return base[:58] + "".join(_random.choice(_NAME_ALPHABET) for _ in range(5))


def check_path_name(name: str, field_name: str = "metadata.name") -> None:
    """What every name must satisfy to be a path segment (Kubernetes' IsValidPathSegmentName)."""
    problem = ""
    if name in (".", ".."):
        problem = f"may not be '{name}'"
    elif "/" in name or "%" in name:
        problem = "may not contain '/' or '%'"
    elif "\x00" in name:
        problem = "may not contain NUL"
    if problem:
        raise errors.BadRequest(f'invalid name "{name}": {problem}')


def spec_part(obj: Object) -> Object:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Objects:
    """Object semantics for every resource in the registry, over one store."""

    def __init__(self, store: Store, registry: Registry, prefix: str = "/registry",
                 allocators: Any = None, namespaces: Any = None, metrics: Any = None, hub: Any = None) -> None:
        self.store = store
        self.registry = registry
        self.prefix = prefix.rstrip("/") or "/registry"
        self.allocators = allocators
        self.namespaces = namespaces  # namespaces.Lifecycle; None during bootstrap
        self.metrics = metrics
        self.hub = hub  # feeds.Hub: GETs come from its caches when they are fresh
        self.admission: Any = None  # admission chain (admission/__init__.py build()); None = no plugins
        self._prefixes: dict[tuple[str, str, str], bytes] = {}
        self._written: dict[str, int] = {}  # key prefix -> this server's last write revision under it

    def wrote(self, resource: Resource, revision: int) -> None:
        """Record a write, so GETs from this server never see the feed's cache older than it."""
        prefix = self.resource_prefix(resource)
        if revision > self._written.get(prefix, 0):
            self._written[prefix] = revision

    # ---- keys and (de)serialization ---------------------------------------------------------
    def key(self, resource: Resource, namespace: str, name: str) -> str:
        return resource.key(name, namespace, self.prefix)

    def resource_prefix(self, resource: Resource) -> str:
        return resource.key_prefix(self.prefix)

    def stored_prefix(self, resource: Resource) -> bytes:
        ident = (resource.group, resource.version, resource.kind)
        found = self._prefixes.get(ident)
        if found is None:
            found = self._prefixes[ident] = bodies.stored_prefix(resource.group_version, resource.kind)
        return found

    def encode(self, resource: Resource, obj: Object) -> bytes:
        to_storage = getattr(resource.strategy, "to_storage", None)
        stored = to_storage(obj) if to_storage is not None else obj
        return bodies.encode_for_storage(stored)

    def present(self, resource: Resource, value: bytes, revision: int) -> bytes:
        """Stored bytes as served: resourceVersion spliced in; converted when another version wrote it."""
        prefix = self.stored_prefix(resource)
        if value.startswith(prefix):
            return bodies.with_resource_version(value, revision, prefix)
        return orjson.dumps(self.decode(resource, value, revision))

    def decode(self, resource: Resource, value: bytes, revision: int) -> Object:
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise errors.InternalError("stored object is not valid JSON") from None
        if not isinstance(obj, dict):
            raise errors.InternalError("stored object is not a JSON object")
        from_storage = getattr(resource.strategy, "from_storage", None)
        if from_storage is not None and not value.startswith(self.stored_prefix(resource)):
            obj = from_storage(obj)
        return bodies.set_resource_version(obj, revision)

    def decode_shared(self, resource: Resource, kv: KeyValue) -> Object:
        """Like :meth:`decode`, but may return the watch cache's shared copy: never mutate it."""
        if self.hub is not None and kv.value.startswith(self.stored_prefix(resource)):
            obj = self.hub.decoded(self.resource_prefix(resource), kv)
            if obj is not None:
                return obj
        return self.decode(resource, kv.value, kv.mod_revision)

    def _observe(self, operation: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.observe_storage(operation, time.perf_counter() - started)

    async def read(self, resource: Resource, namespace: str, name: str, cached: bool = False) -> KeyValue:
        """The stored object; with ``cached`` it may come from the watch feed's cache, which
        holds this server's own writes (read-your-writes) and lags others' by the feed delay."""
        key = self.key(resource, namespace, name)
        if cached and self.hub is not None:
            prefix = self.resource_prefix(resource)
            kv = self.hub.cached(prefix, key, self._written.get(prefix, 0))
            if kv is not None:
                return kv
        started = time.perf_counter()
        kv = await self.store.get(key)
        self._observe("get", started)
        if kv is None:
            raise errors.NotFound.for_object(resource.plural, name, resource.group)
        return kv

    async def get(self, resource: Resource, namespace: str, name: str) -> Object:
        kv = await self.read(resource, namespace, name)
        return self.decode(resource, kv.value, kv.mod_revision)

    # ---- validation shared by create and update --------------------------------------------
    def check_schema(self, resource: Resource, obj: Object, field_validation: str,
                     duplicates: list[str], name: str) -> list[str]:
        result = schemas.validate(resource.group, resource.version, resource.kind, obj, field_validation, duplicates)
        return result.raise_for(field_validation, resource.kind, name, resource.version, resource.group)

    @staticmethod
    def raise_invalid(resource: Resource, name: str, causes: list[dict[str, str]]) -> None:
        if causes:
            raise errors.Invalid.for_object(resource.kind, name, causes, resource.group)

    # ---- create ----------------------------------------------------------------------------------
    async def create(self, resource: Resource, namespace: str, obj: Object, *, dry_run: bool = False,
                     field_validation: str = "Ignore", duplicates: list[str] | None = None,
                     field_manager: str | None = None) -> Written:
        metadata = obj.get("metadata")
        if metadata is None:
            metadata = obj["metadata"] = {}
        if not isinstance(metadata, dict):
            raise errors.BadRequest("metadata must be an object")
        name = metadata.get("name") or ""
        generate = metadata.get("generateName") or ""
        if not isinstance(name, str) or not isinstance(generate, str):
            raise errors.BadRequest("metadata.name and metadata.generateName must be strings")
        warnings = self.check_schema(resource, obj, field_validation, duplicates or [], name or generate)
        if not name and not generate:
            raise errors.Invalid.for_object(resource.kind, "", [errors.cause(
                "metadata.name", "Required value: name or generateName is required", "FieldValueRequired")],
                resource.group)
        if resource.namespaced:
            if not namespace:
                raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        for stale in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            metadata.pop(stale, None)
        if resource.namespaced and self.namespaces is not None:
            await self.namespaces.check_create(namespace)
        strategy = resource.strategy
        strategy.prepare_for_create(obj)
        if field_manager is not None:
            obj = await self.record_ownership(resource, None, obj, field_manager, "")
        metadata = obj.setdefault("metadata", metadata)
        metadata["uid"] = new_uid()
        metadata["creationTimestamp"] = now_rfc3339()
        if strategy.tracks_generation:
            metadata["generation"] = 1
        for attempt in range(8):
            if not name:
                metadata["name"] = generate_name(generate)
            check_path_name(metadata["name"])
            self.raise_invalid(resource, metadata["name"], strategy.validate(obj))
            allocated = False
            if self._is_service(resource) and not dry_run and attempt == 0:
                await self.allocators.allocate(obj)
                allocated = True
            value = self.encode(resource, obj)
            if dry_run:
                return Written(obj, orjson.dumps(obj), warnings, created=True)
            key = self.key(resource, namespace, metadata["name"])
            started = time.perf_counter()
            try:
                result = await self.store.txn([Compare(key, "create", "=", 0)], [PutRequest(key, value)])
            except BaseException:
                if allocated:
                    await self.allocators.release(obj)
                raise
            self._observe("create", started)
            if result.succeeded:
                self.wrote(resource, result.revision)
                served = bodies.set_resource_version(obj, result.revision)
                return Written(served, self.present(resource, value, result.revision), warnings, created=True)
            if name:
                if self._is_service(resource):
                    await self.allocators.release(obj)
                raise errors.AlreadyExists.for_object(resource.plural, name, resource.group)
        raise errors.AlreadyExists(f"could not generate a unique name from {generate!r}; try again")

    def _is_service(self, resource: Resource) -> bool:
        return self.allocators is not None and resource.group == "" and resource.plural == "services"

    @classmethod
    async def record_ownership(cls, resource: Resource, old: Object | None, new: Object, manager: str,
                               subresource: str) -> Object:
        """``new`` with ``manager``'s Update entry; a main-resource write never owns status
        (what the strategy set there on create is the server's, as Kubernetes' reset fields say).
        Walking a big object's fields takes a while (~20 ms per 1000 keys): those go to a thread."""
        if len(orjson.dumps(new)) > OWNERSHIP_THREAD_THRESHOLD:
            return await asyncio.to_thread(cls._record_ownership, resource, old, new, manager, subresource)
        return cls._record_ownership(resource, old, new, manager, subresource)

    @staticmethod
    def _record_ownership(resource: Resource, old: Object | None, new: Object, manager: str,
                          subresource: str) -> Object:
        shape = field_ownership.shape_for(resource.group, resource.version, resource.kind)
        if subresource == "" and resource.strategy.has_status and "status" in new:
            recorded = field_ownership.record_update(
                None if old is None else {k: v for k, v in old.items() if k != "status"},
                {k: v for k, v in new.items() if k != "status"}, manager, api_version=resource.group_version,
                shape=shape, now=now_rfc3339())
            return {**new, "metadata": recorded["metadata"]}
        return field_ownership.record_update(old, new, manager, api_version=resource.group_version, shape=shape,
                                             now=now_rfc3339(), subresource=subresource)

    # ---- update ----------------------------------------------------------------------------------
    async def update(self, resource: Resource, namespace: str, name: str, body: Object, *,
                     subresource: str = "", dry_run: bool = False, field_validation: str = "Ignore",
                     duplicates: list[str] | None = None, field_manager: str | None = None) -> Written:
        metadata = body.get("metadata")
        if metadata is None:
            metadata = body["metadata"] = {}
        if not isinstance(metadata, dict):
            raise errors.BadRequest("metadata must be an object")
        body_name = metadata.get("name")
        if body_name in (None, ""):
            metadata["name"] = name
        elif body_name != name:
            raise errors.BadRequest(f"the name of the object ({body_name}) does not match the name on the URL ({name})")
        if resource.namespaced:
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        wanted_rv = metadata.get("resourceVersion") or ""
        if not isinstance(wanted_rv, str):
            raise errors.BadRequest("metadata.resourceVersion must be a string")
        warnings = self.check_schema(resource, body, field_validation, duplicates or [], name)
        pristine = copy.deepcopy(body) if not wanted_rv else None
        for _attempt in range(16):
            key = self.key(resource, namespace, name)
            kv = await self.store.get(key)
            if kv is None:
                if subresource or (resource.group, resource.plural) not in CREATE_ON_UPDATE:
                    raise errors.NotFound.for_object(resource.plural, name, resource.group)
                written = await self.create(resource, namespace, body, dry_run=dry_run,
                                            field_manager=field_manager)
                written.warnings = warnings
                return written
            if wanted_rv and wanted_rv != str(kv.mod_revision):
                raise errors.Conflict.for_object(
                    resource.plural, name, "the object has been modified; please apply your changes to the "
                    "latest version and try again", resource.group)
            old = self.decode(resource, kv.value, kv.mod_revision)
            new = body if pristine is None else copy.deepcopy(pristine)
            written = await self._apply_update(resource, namespace, name, kv, old, new, subresource, dry_run,
                                               field_manager)
            if written is not None:
                written.warnings = warnings
                return written
            if wanted_rv:
                raise errors.Conflict.for_object(
                    resource.plural, name, "the object has been modified; please apply your changes to the "
                    "latest version and try again", resource.group)
        raise errors.Conflict.for_object(resource.plural, name, "too many concurrent updates", resource.group)

    async def _apply_update(self, resource: Resource, namespace: str, name: str, kv: KeyValue, old: Object,
                            new: Object, subresource: str, dry_run: bool,
                            field_manager: str | None = None) -> Written | None:
        """One attempt; None when someone else wrote the object first."""
        strategy = resource.strategy
        # a /status write keeps the managedFields its writer computed (Kubernetes'
        # ResetObjectMetaForStatus leaves them out of what it resets)
        sent_fields = (new.get("metadata") or {}).get("managedFields") if isinstance(new.get("metadata"),
                                                                                      dict) else None
        old_meta = old.get("metadata") or {}
        new_meta = new.setdefault("metadata", {})
        for key in SYSTEM_METADATA:
            if key in old_meta:
                new_meta[key] = old_meta[key]
            else:
                new_meta.pop(key, None)
        if subresource == "status":
            strategy.prepare_for_status_update(new, old)
            if sent_fields is not None:  # else the stored ones, which prepare_for_status_update kept
                new["metadata"] = {**(new.get("metadata") or {}), "managedFields": sent_fields}
            check = getattr(strategy, "validate_status_update", None) or strategy.validate_update
        elif subresource == "finalize":
            getattr(strategy, "prepare_for_finalize", strategy.prepare_for_status_update)(new, old)
            check = strategy.validate_update
        else:
            strategy.prepare_for_update(new, old)
            check = strategy.validate_update
        if field_manager is not None and subresource != "finalize":
            new = await self.record_ownership(resource, old, new, field_manager, subresource)
        new_meta = new.setdefault("metadata", {})
        new_meta["resourceVersion"] = str(kv.mod_revision)
        self.raise_invalid(resource, name, check(new, old))
        if strategy.tracks_generation and not subresource and spec_part(new) != spec_part(old):
            new_meta["generation"] = int(old_meta.get("generation") or 0) + 1
        if new == old:
            return Written(old, self.present(resource, kv.value, kv.mod_revision))
        if self._is_service(resource) and not dry_run and not finished_deleting(resource, new):
            await self.allocators.update(new, old)
        if dry_run:
            return Written(new, orjson.dumps(new))
        key = self.key(resource, namespace, name)
        if finished_deleting(resource, new):
            result = await self.store.txn([Compare(key, "mod", "=", kv.mod_revision)], [DeleteRequest(key)])
            if not result.succeeded:
                return None
            self.wrote(resource, result.revision)
            if self._is_service(resource):
                await self.allocators.release(new)
            bodies.set_resource_version(new, result.revision)
            return Written(new, orjson.dumps(new))
        value = self.encode(resource, new)
        started = time.perf_counter()
        result = await self.store.txn([Compare(key, "mod", "=", kv.mod_revision)], [PutRequest(key, value)])
        self._observe("update", started)
        if not result.succeeded:
            return None
        self.wrote(resource, result.revision)
        bodies.set_resource_version(new, result.revision)
        return Written(new, self.present(resource, value, result.revision))


def finished_deleting(resource: Resource, obj: Object) -> bool:
    """An object being deleted whose last finalizer is gone (and whose grace has run out)."""
    metadata = obj.get("metadata") or {}
    if not metadata.get("deletionTimestamp") or metadata.get("finalizers"):
        return False
    if resource.group == "" and resource.plural == "namespaces":
        return not ((obj.get("spec") or {}).get("finalizers"))
    return not metadata.get("deletionGracePeriodSeconds")
