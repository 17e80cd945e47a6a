"""PATCH: the four patch types on a resource, its ``/status`` and its ``/scale``.

The patch engines are pure functions (``machinery.jsonpatch``, ``machinery.mergepatch``,
``api.strategicpatch``, ``api.apply``); this module is only the request flow around them::

    read the live object (kv, mod_revision)
    -> patched = engine(live, patch)             any engine error: 400 / 409 / 422, nothing written
    -> managedFields: apply() or record_update() (the writer takes the fields it changed)
    -> Objects.update(patched with resourceVersion = mod_revision)
         (schema validation, kind strategy, status carried over, store compare-and-swap)
    -> a lost compare-and-swap re-reads and re-applies the patch, unless the patch itself
       carried a resourceVersion (then it is the client's precondition: 409 Conflict)

Server-side apply (``application/apply-patch+yaml``) creates the object when it is missing
(201), needs ``fieldManager``, and honours ``force``. ``dryRun=All`` runs everything but the
write, which is what ``kubectl diff`` relies on. Any other Content-Type is 415.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from hyperkube.api import apply as ssa
from hyperkube.api import schemas
from hyperkube.api.registry import Resource
from hyperkube.api.strategicpatch import apply_strategic_patch
from hyperkube.apiserver import bodies, paths
from hyperkube.machinery import errors
from hyperkube.machinery.durations import now_rfc3339
from hyperkube.machinery.jsonpatch import apply_json_patch, check_operations, parse_pointer
from hyperkube.machinery.mergepatch import apply_merge_patch

if TYPE_CHECKING:
    from hyperkube.apiserver.handlers import RestAPI

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH, STRATEGIC_PATCH)
MAX_MANAGER_LENGTH = 128
KUBECTL_APPLIER = "kubectl"  # kubectl apply --server-side's default fieldManager
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ATTEMPTS = 16
_MISSING = object()
THREAD_THRESHOLD = 64 * 1024  # bytes of object plus patch above which the patch is computed in a thread


def manager_name(request: web.Request, patch_type: str, options_kind: str = "PatchOptions") -> str:
    """``fieldManager``, required for apply; otherwise the User-Agent's product (``kubectl``),
    cut to 128 bytes. A given one must fit in 128 bytes and be printable (422 on the
    request's options kind, as Kubernetes' ValidateFieldManager says)."""
    name = request.query.get("fieldManager")
    if name is None or name == "":
        if patch_type == APPLY_PATCH:
            raise errors.BadRequest("PATCH requests with application/apply-patch+yaml must set the fieldManager "
                                    "parameter")
        name = (request.headers.get("User-Agent") or "unknown").split("/", 1)[0] or "unknown"
        return name.encode()[:MAX_MANAGER_LENGTH].decode(errors="ignore")
    causes = []
    if len(name.encode()) > MAX_MANAGER_LENGTH:
        causes.append(errors.cause("fieldManager", f"Too long: may not be more than {MAX_MANAGER_LENGTH} bytes",
                                   "FieldValueTooLong"))
    for position, char in enumerate(name):
        if not char.isprintable():
            causes.append(errors.cause("fieldManager", f'Invalid value: "{name}": invalid character '
                                       f"U+{ord(char):04X} (at position {position})"))
            break
    if causes:
        raise errors.Invalid.for_object(options_kind, "", causes, "meta.k8s.io")
    return name


def parse_force(request: web.Request, patch_type: str) -> bool:
    value = request.query.get("force")
    if value is None:
        return False
    if value.lower() not in ("true", "false", "1", "0", ""):
        raise errors.BadRequest(f'invalid value for force: "{value}"')
    force = value.lower() in ("true", "1")
    if force and patch_type != APPLY_PATCH:
        raise errors.BadRequest("force is only allowed for apply patches (application/apply-patch+yaml)")
    return force


def decode_patch(data: bytes, patch_type: str) -> Any:
    if not data.strip():
        raise errors.BadRequest("the body of the request was empty")
    body = _MISSING
    if patch_type == APPLY_PATCH and data.lstrip()[:1] == b"{":
        try:  # kubectl sends the applied configuration as JSON: skip the (slow) YAML parser
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            body = _MISSING
    if body is _MISSING:
        body = bodies.decode(data, patch_type)
    if patch_type == JSON_PATCH:
        return check_operations(body)
    if not isinstance(body, dict):
        raise errors.BadRequest("the patch must be a JSON object" if patch_type != APPLY_PATCH else
                                "the applied configuration must be an object")
    return body


def duplicate_fields(data: bytes, patch: Any, patch_type: str, mode: str) -> list[str]:
    """Fields given twice in a JSON patch object (``metadata.labels.a``): a strict-decoding
    error under ``fieldValidation=Strict``, a warning under Warn. Only looked for when the
    body does not re-encode to itself (the cheap sign that something was dropped)."""
    if mode == "Ignore" or patch_type == JSON_PATCH or not data.lstrip().startswith(b"{"):
        return []
    if orjson.dumps(patch) == data.strip():
        return []
    try:
        return schemas.decode_json(data)[1]
    except (ValueError, RecursionError):
        return []


def pins_resource_version(patch: Any, patch_type: str) -> bool:
    """Whether the patch names a resourceVersion: then a lost race is the client's conflict."""
    if patch_type == JSON_PATCH:
        for operation in patch:
            try:
                if parse_pointer(operation.get("path", "")) == ["metadata", "resourceVersion"]:
                    return True
            except errors.APIError:
                continue
        return False
    metadata = patch.get("metadata")
    return isinstance(metadata, dict) and bool(metadata.get("resourceVersion"))


def patched_object(resource: Resource, live: dict[str, Any], patch: Any, patch_type: str) -> dict[str, Any]:
    if patch_type == JSON_PATCH:
        result = apply_json_patch(live, patch)
    elif patch_type == MERGE_PATCH:
        result = apply_merge_patch(live, patch)
    else:
        result = apply_strategic_patch(live, patch, resource.group, resource.version, resource.kind)
    if not isinstance(result, dict):
        raise errors.BadRequest("the patched object must be a JSON object")
    return result


def conflicts_were_client_side_applied(live: dict[str, Any], conflict: errors.Conflict, shape: Any) -> bool:
    """Whether every conflicting field is in the object's last client-side applied
    configuration: then ``kubectl apply --server-side`` takes them over without ``force``, as
    Kubernetes' last-applied manager allows, so moving from client- to server-side apply
    doesn't conflict with kubectl's own earlier applies (kubectl then migrates managedFields)."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not isinstance(text, str):
        return False
    try:
        last_applied = json.loads(text)
    except ValueError:
        return False
    if not isinstance(last_applied, dict):
        return False
    allowed = {ssa.path_string(path) for path in ssa.field_set(last_applied, shape)}
    fields = [cause.get("field") for cause in conflict.details.get("causes") or []]
    return bool(fields) and all(field in allowed for field in fields)


def stale(resource: Resource, name: str) -> errors.Conflict:
    return errors.Conflict.for_object(resource.plural, name, "the object has been modified; please apply your "
                                      "changes to the latest version and try again", resource.group)


def check_uid(resource: Resource, name: str, wanted: Any, actual: Any) -> None:
    """A uid in the patch is a precondition too (the object was deleted and recreated)."""
    if wanted not in (None, "") and wanted != actual:
        raise errors.Conflict.for_object(resource.plural, name, f"Precondition failed: UID in precondition: "
                                         f"{wanted}, UID in object meta: {actual}", resource.group)


async def handle(api: RestAPI, request: web.Request, target: paths.Target, subresource: str = "") -> web.StreamResponse:
    """PATCH on an object (``subresource`` "", "status" or "scale")."""
    from hyperkube.apiserver.handlers import check_kind, dry_run, warning_headers

    request["verb"] = "patch"
    resource = target.resource
    patch_type = bodies.media_type(request.headers.get("Content-Type"))
    if patch_type not in PATCH_TYPES:
        raise errors.UnsupportedMediaType("the body of the request was in an unknown format - accepted media types "
                                          "include: " + ", ".join(PATCH_TYPES))
    mode = schemas.normalize_field_validation(request.query.get("fieldValidation"))
    dry = dry_run(request.query)
    force = parse_force(request, patch_type)
    manager = manager_name(request, patch_type)
    raw = await bodies.read_body(request)
    patch = decode_patch(raw, patch_type)
    duplicates = duplicate_fields(raw, patch, patch_type, mode)
    if patch_type == APPLY_PATCH:
        check_kind(patch, resource)
        metadata = patch.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise errors.BadRequest("metadata must be an object")
        if isinstance(metadata, dict):
            if metadata.get("managedFields") is not None:
                raise errors.BadRequest("metadata.managedFields must be nil")
            if metadata.get("name") not in (None, "", target.name):
                raise errors.BadRequest(f"the name of the object ({metadata['name']}) does not match the name on "
                                        f"the URL ({target.name})")
            if resource.namespaced and metadata.get("namespace") not in (None, "", target.namespace):
                raise errors.BadRequest("the namespace of the provided object does not match the namespace sent "
                                        "on the request")
    if subresource == "scale":
        return await _patch_scale(api, target, patch, patch_type, manager, dry)
    pinned = pins_resource_version(patch, patch_type)
    objects = api.objects
    key = objects.key(resource, target.namespace, target.name)
    shape = ssa.shape_for(resource.group, resource.version, resource.kind)
    ignored = [("status",)] if not subresource and resource.strategy.has_status else (
        [("spec",)] if subresource == "status" else [])
    for _attempt in range(ATTEMPTS):
        kv = await objects.store.get(key)
        if kv is None:
            if patch_type != APPLY_PATCH or subresource:
                raise errors.NotFound.for_object(resource.plural, target.name, resource.group)
            config = copy.deepcopy(patch)
            config.setdefault("metadata", {})["name"] = target.name
            created = ssa.apply(None, config, manager, api_version=resource.group_version, shape=shape,
                                now=now_rfc3339(), ignored=ignored)
            try:
                written = await objects.create(resource, target.namespace, created, dry_run=dry,
                                               field_validation=mode, duplicates=duplicates)
            except errors.AlreadyExists:
                continue  # someone created it meanwhile: apply to theirs
            return bodies.raw_response(written.body, 201, warning_headers(written.warnings))
        live = objects.decode(resource, kv.value, kv.mod_revision)
        revision = str(kv.mod_revision)

        def compute(live: dict[str, Any] = live) -> dict[str, Any]:
            now = now_rfc3339()
            if patch_type == APPLY_PATCH:
                try:
                    return ssa.apply(live, patch, manager, api_version=resource.group_version, shape=shape,
                                     now=now, force=force, subresource=subresource, ignored=ignored)
                except errors.Conflict as conflict:
                    if manager != KUBECTL_APPLIER or not conflicts_were_client_side_applied(live, conflict, shape):
                        raise
                    return ssa.apply(live, patch, manager, api_version=resource.group_version, shape=shape,
                                     now=now, force=True, subresource=subresource, ignored=ignored)
            new = patched_object(resource, live, patch, patch_type)
            return ssa.record_update(live, new, manager, api_version=resource.group_version, shape=shape,
                                     now=now, subresource=subresource)
        # a few ms for a typical object; big ones (large ConfigMaps, CRs) go to a thread
        new = compute() if len(kv.value) + len(raw) < THREAD_THRESHOLD else await asyncio.to_thread(compute)
        metadata = new.get("metadata")
        if not isinstance(metadata, dict):
            raise errors.BadRequest("metadata must be an object")
        wanted = metadata.get("resourceVersion")
        if wanted not in (None, "", revision):
            raise stale(resource, target.name)
        check_uid(resource, target.name, metadata.get("uid"), (live.get("metadata") or {}).get("uid"))
        metadata["resourceVersion"] = revision
        try:
            written = await objects.update(resource, target.namespace, target.name, new, subresource=subresource,
                                           dry_run=dry, field_validation=mode, duplicates=duplicates)
        except (errors.Conflict, errors.NotFound) as error:
            if pinned or isinstance(error, errors.Conflict) and "has been modified" not in error.message:
                raise
            continue  # lost the compare-and-swap (or the object went away): read again, patch again
        return bodies.raw_response(written.body, 201 if written.created else 200,
                                   warning_headers(written.warnings))
    raise errors.Conflict.for_object(resource.plural, target.name, "too many concurrent updates", resource.group)


async def _patch_scale(api: RestAPI, target: paths.Target, patch: Any, patch_type: str, manager: str,
                       dry: bool) -> web.StreamResponse:
    """PATCH …/scale: patch the autoscaling/v1 Scale view, write ``spec.replicas`` of the parent."""
    from hyperkube.apiserver.subresources import scale_of, set_replicas

    resource = target.resource
    pinned = pins_resource_version(patch, patch_type)
    shape = ssa.shape_for(resource.group, resource.version, resource.kind)
    for _attempt in range(ATTEMPTS):
        current = await api.objects.get(resource, target.namespace, target.name)
        scale = scale_of(current, resource)
        if patch_type == JSON_PATCH:
            patched = apply_json_patch(scale, patch)
        elif patch_type == STRATEGIC_PATCH:
            patched = apply_strategic_patch(scale, patch, "autoscaling", "v1", "Scale")
        else:  # merge patch; an applied Scale configuration merges the same way
            patched = apply_merge_patch(scale, patch)
        spec = patched.get("spec") if isinstance(patched, dict) else None
        replicas = spec.get("replicas") if isinstance(spec, dict) else None
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.Invalid.for_object("Scale", target.name, [errors.cause(
                "spec.replicas", f"Invalid value: {orjson.dumps(replicas).decode()}: must be greater than or "
                "equal to 0")], "autoscaling")
        wanted = (patched.get("metadata") or {}).get("resourceVersion") if isinstance(patched.get("metadata"),
                                                                                      dict) else None
        if wanted not in (None, "", scale["metadata"].get("resourceVersion")):
            raise stale(resource, target.name)
        new = copy.deepcopy(current)
        set_replicas(resource, new, replicas)
        new = ssa.record_update(current, new, manager, api_version=resource.group_version, shape=shape,
                                now=now_rfc3339())
        try:
            written = await api.objects.update(resource, target.namespace, target.name, new, dry_run=dry)
        except errors.Conflict:
            if pinned:
                raise
            continue
        return bodies.json_response(scale_of(written.obj, resource))
    raise errors.Conflict.for_object(resource.plural, target.name, "too many concurrent updates", resource.group)
