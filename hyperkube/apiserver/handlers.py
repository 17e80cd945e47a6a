"""The generic REST handlers: one code path for every resource in the registry.

``/api/v1/{rest}`` and ``/apis/{group}/{version}/{rest}`` are caught here (discovery owns
the bare group-version paths), resolved to a :class:`~hyperkube.apiserver.paths.Target`,
and dispatched by method and shape: collection GET (list or watch), POST (create), DELETE
(deletecollection); item GET, PUT, DELETE; PATCH (``patch.py``); subresources
(``subresources.py``). Handlers set ``request["verb"]`` and
``request["resource"]`` for the metrics middleware.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from hyperkube.api import schemas
from hyperkube.api.registry import Registry, Resource
from hyperkube.apiserver import (
    bodies,
    deletion,
    lists,
    paths,
    protobuf_bodies,
    proxy_paths,
    reviews,
    subresources,
    tables,
    watch,
)
from hyperkube.apiserver import patch as patching
from hyperkube.apiserver.authn import tokenrequest
from hyperkube.apiserver.feeds import Hub
from hyperkube.apiserver.objects import Objects, Written
from hyperkube.apiserver.selection import Filter
from hyperkube.machinery import errors

THREAD_THRESHOLD = 2000  # lists longer than this are encoded off the event loop
LARGE_BODY = 256 * 1024  # request bodies larger than this are decoded off the event loop


@dataclass
class Context:
    registry: Registry
    objects: Objects
    hub: Hub
    metrics: Any = None


def dry_run(query: Any) -> bool:
    values = query.getall("dryRun", [])
    for value in values:
        if value != "All":
            raise errors.BadRequest(f'unsupported dryRun value "{value}": only "All" is supported')
    return bool(values)


def warning_headers(warnings: list[str]) -> CIMultiDict[str] | None:
    if not warnings:
        return None
    headers: CIMultiDict[str] = CIMultiDict()
    for warning in warnings:
        headers.add("Warning", '299 - "' + warning.replace('"', '\\"') + '"')
    return headers


async def decode_write_body(request: web.Request, resource: Resource, mode: str) -> tuple[dict[str, Any], list[str]]:
    """The object of a POST/PUT, with apiVersion/kind filled from the URL or checked against it."""
    data = await bodies.read_body(request)
    content_type = request.headers.get("Content-Type")
    kind = bodies.media_type(content_type)
    if kind.endswith("patch+json") or kind == "application/apply-patch+yaml":
        raise errors.UnsupportedMediaType(f'the media type "{kind}" is not supported on {request.method}')
    if kind == protobuf_bodies.PROTOBUF:
        if len(data) > LARGE_BODY:
            obj = await asyncio.to_thread(protobuf_bodies.decode_object, data, resource.group_version, resource.kind)
        else:
            obj = protobuf_bodies.decode_object(data, resource.group_version, resource.kind)
        check_kind(obj, resource)
        return obj, []
    if len(data) > LARGE_BODY:  # a big YAML body takes PyYAML a while: not on the event loop
        obj, duplicates = await asyncio.to_thread(_decode_write_body, data, content_type, kind, mode)
    else:
        obj, duplicates = _decode_write_body(data, content_type, kind, mode)
    check_kind(obj, resource)
    return obj, duplicates


def _decode_write_body(data: bytes, content_type: str | None, kind: str,
                       mode: str) -> tuple[dict[str, Any], list[str]]:
    obj = bodies.decode_object(data, content_type)
    duplicates: list[str] = []
    # duplicate keys are invisible to orjson; a body that is exactly orjson's encoding has none
    if mode != "Ignore" and kind in ("", bodies.JSON) and orjson.dumps(obj) != data.strip():
        try:
            _, duplicates = schemas.decode_json(data)
        except (ValueError, RecursionError):
            duplicates = []
    return obj, duplicates


def check_kind(obj: dict[str, Any], resource: Resource) -> None:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version in (None, ""):
        obj["apiVersion"] = resource.group_version
    elif api_version != resource.group_version:
        raise errors.BadRequest(f"the API version in the data ({api_version}) does not match the expected "
                                f"API version ({resource.group_version})")
    if kind in (None, ""):
        obj["kind"] = resource.kind
    elif kind != resource.kind:
        raise errors.BadRequest(f"the kind in the data ({kind}) does not match the expected kind "
                                f"({resource.kind})" if isinstance(kind, str) else "kind must be a string")


def check_namespace(obj: dict[str, Any], namespace: str, resource: Resource) -> None:
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and resource.namespaced:
        given = metadata.get("namespace")
        if given not in (None, "") and given != namespace:
            raise errors.BadRequest("the namespace of the provided object does not match the namespace sent "
                                    "on the request")


class RestAPI:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.objects = context.objects

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/v1/{rest:.+}", self.core)
        app.router.add_route("*", "/apis/{group}/{version}/{rest:.+}", self.grouped)

    async def core(self, request: web.Request) -> web.StreamResponse:
        rest = request.match_info["rest"]
        proxied = proxy_paths.match(rest)
        if proxied is not None:  # nodes/N/proxy/..., namespaces/NS/{pods,services}/N/proxy/...
            return await proxy_paths.handle(self, request, proxied)
        return await self.dispatch(request, "", "v1", rest)

    async def grouped(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        if tokenrequest.is_token_review(info["group"], info["version"], info["rest"]):
            return await tokenrequest.token_review(request)
        if reviews.handles(info["group"], info["version"], info["rest"]):
            return await reviews.handle(request, info["group"], info["version"], info["rest"])
        return await self.dispatch(request, info["group"], info["version"], info["rest"])

    async def dispatch(self, request: web.Request, group: str, version: str, rest: str) -> web.StreamResponse:
        target = paths.resolve(self.context.registry, group, version, rest)
        request["resource"] = target.resource
        request["scope"] = ("resource" if target.name else
                            "namespace" if target.namespace else "cluster")
        if target.subresource:
            request["subresource"] = target.subresource
            return await subresources.handle(self, request, target)
        method = request.method
        verbs = target.resource.verbs
        if target.is_collection:
            if method == "GET" and ("list" in verbs or "watch" in verbs):
                return await self.list_or_watch(request, target)
            if method == "POST" and "create" in verbs:
                if target.resource.plural == "bindings" and target.resource.group == "":
                    return await subresources.bind(self, request, target)
                return await self.create(request, target)
            if method == "DELETE" and "deletecollection" in verbs:
                return await self.delete_collection(request, target)
        else:
            if method == "GET" and "get" in verbs:
                return await self.get(request, target)
            if method == "PUT" and "update" in verbs:
                return await self.update(request, target)
            if method == "DELETE" and "delete" in verbs:
                return await self.delete(request, target)
            if method == "PATCH" and "patch" in verbs:
                return await patching.handle(self, request, target)
        raise errors.MethodNotAllowed(f"the server does not allow this method on the requested resource "
                                      f"({method})")

    # ---- reads -------------------------------------------------------------------------------------
    async def get(self, request: web.Request, target: paths.Target) -> web.StreamResponse:
        request["verb"] = "get"
        accept = request.headers.get("Accept")
        bodies.check_acceptable(accept)
        resource = target.resource
        kv = await self.objects.read(resource, target.namespace, target.name, cached=True)
        if bodies.wants_table(accept):
            obj = self.objects.decode(resource, kv.value, kv.mod_revision)
            include = tables.include_mode(request.query.get("includeObject"))
            return bodies.json_response(tables.table(resource, [obj], {"resourceVersion": str(kv.mod_revision)},
                                                     include))
        return bodies.raw_response(self.objects.present(resource, kv.value, kv.mod_revision))

    async def list_or_watch(self, request: web.Request, target: paths.Target) -> web.StreamResponse:
        query = request.query
        options = lists.parse_options(query, target.legacy_watch)
        resource = target.resource
        filt = Filter(resource, target.namespace, options.label_selector, options.field_selector)
        accept = request.headers.get("Accept")
        bodies.check_acceptable(accept)
        as_table = bodies.wants_table(accept)
        include = tables.include_mode(query.get("includeObject")) if as_table else "Metadata"
        if options.watch:
            request["verb"] = "watch"
            return await watch.serve(self.context, request, resource, filt, options, as_table, include)
        request["verb"] = "list"
        page = await lists.read_page(self.objects.store, self.objects.resource_prefix(resource),
                                     resource.namespaced, filt, options, self.objects.decode_shared)
        metadata: dict[str, Any] = {"resourceVersion": str(page.revision)}
        if page.continue_token:
            metadata["continue"] = page.continue_token
        if page.remaining:
            metadata["remainingItemCount"] = page.remaining
        if len(page.kvs) > THREAD_THRESHOLD:
            body = await asyncio.to_thread(self._encode_list, resource, page, metadata, as_table, include)
        else:
            body = self._encode_list(resource, page, metadata, as_table, include)
        return bodies.raw_response(body)

    def _encode_list(self, resource: Resource, page: lists.Page, metadata: dict[str, Any], as_table: bool,
                     include: str) -> bytes:
        if as_table:
            objects = page.objects
            if objects is None:
                decode = self.objects.decode_shared
                objects = [decode(resource, kv) for kv in page.kvs]
            return orjson.dumps(tables.table(resource, objects, metadata, include, time.time()))
        present = self.objects.present
        items = b",".join([present(resource, kv.value, kv.mod_revision) for kv in page.kvs])
        head = orjson.dumps({"kind": resource.list_kind, "apiVersion": resource.group_version,
                             "metadata": metadata})
        return b"".join((head[:-1], b',"items":[', items, b"]}"))

    # ---- writes ------------------------------------------------------------------------------------
    def written(self, written: Written, status: int) -> web.Response:
        return bodies.raw_response(written.body, status, warning_headers(written.warnings))

    async def create(self, request: web.Request, target: paths.Target) -> web.StreamResponse:
        request["verb"] = "create"
        resource = target.resource
        if resource.namespaced and not target.namespace:
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        mode = schemas.normalize_field_validation(request.query.get("fieldValidation"))
        dry = dry_run(request.query)
        obj, duplicates = await decode_write_body(request, resource, mode)
        check_namespace(obj, target.namespace, resource)
        manager = patching.manager_name(request, "", "CreateOptions")
        written = await self.objects.create(resource, target.namespace, obj, dry_run=dry, field_validation=mode,
                                            duplicates=duplicates, field_manager=manager)
        return self.written(written, 201)

    async def update(self, request: web.Request, target: paths.Target, subresource: str = "") -> web.StreamResponse:
        request["verb"] = "update"
        resource = target.resource
        mode = schemas.normalize_field_validation(request.query.get("fieldValidation"))
        dry = dry_run(request.query)
        obj, duplicates = await decode_write_body(request, resource, mode)
        check_namespace(obj, target.namespace, resource)
        manager = patching.manager_name(request, "", "UpdateOptions")
        written = await self.objects.update(resource, target.namespace, target.name, obj, subresource=subresource,
                                            dry_run=dry, field_validation=mode, duplicates=duplicates,
                                            field_manager=manager)
        return self.written(written, 201 if written.created else 200)

    async def delete_options(self, request: web.Request) -> dict[str, Any]:
        data = await bodies.read_body(request)
        body = bodies.decode_object(data, request.headers.get("Content-Type")) if data.strip() else None
        options = deletion.delete_options(body, request.query)
        if options.get("dryRun") and options["dryRun"] != ["All"]:
            raise errors.BadRequest('unsupported dryRun value: only "All" is supported')
        return options

    async def delete(self, request: web.Request, target: paths.Target) -> web.StreamResponse:
        request["verb"] = "delete"
        options = await self.delete_options(request)
        dry = dry_run(request.query) or bool(options.get("dryRun"))
        written, gone = await deletion.delete(self.objects, target.resource, target.namespace, target.name,
                                              options, dry)
        status = 202 if not gone and options.get("propagationPolicy") == "Foreground" else 200
        return self.written(written, status)

    async def delete_collection(self, request: web.Request, target: paths.Target) -> web.StreamResponse:
        request["verb"] = "deletecollection"
        resource = target.resource
        options = await self.delete_options(request)
        dry = dry_run(request.query) or bool(options.get("dryRun"))
        list_options = lists.parse_options(request.query)
        list_options.limit = 0
        list_options.continue_token = ""
        filt = Filter(resource, target.namespace, list_options.label_selector, list_options.field_selector)
        page = await lists.read_page(self.objects.store, self.objects.resource_prefix(resource),
                                     resource.namespaced, filt, list_options)
        items = []
        for kv in page.kvs:
            namespace, name = _split(kv.key, self.objects.resource_prefix(resource), resource.namespaced)
            try:
                written, _gone = await deletion.delete(self.objects, resource, namespace, name, options, dry)
            except errors.NotFound:
                continue
            items.append(written.obj)
        return bodies.json_response({"kind": resource.list_kind, "apiVersion": resource.group_version,
                                     "metadata": {"resourceVersion": str(page.revision)}, "items": items})


def _split(key: str, prefix: str, namespaced: bool) -> tuple[str, str]:
    rest = key[len(prefix):]
    if namespaced:
        namespace, _, name = rest.partition("/")
        return namespace, name
    return "", rest
