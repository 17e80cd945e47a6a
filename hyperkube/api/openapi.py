"""``/openapi/v3``: the root and one OpenAPI 3.0 document per served group-version.

kubectl reads these for two things (CLIENTS.md A4, "explain"):

- ``create -f``/``apply -f`` look, per GVK, for a path whose ``patch`` operation carries
  ``x-kubernetes-group-version-kind`` and a ``fieldValidation`` query parameter; finding it,
  kubectl skips client-side validation and sends ``fieldValidation=Strict``. Every served
  group-version must be in the root, or kubectl falls back to v2 and fails.
- ``explain pods.spec.containers`` finds the component schema whose
  ``x-kubernetes-group-version-kind`` (a list) names the kind and walks its properties.

Documents are built from the registry and ``hyperkube.api.schemas`` (built-in definitions or a
CRD's registered schema), with names and ``$ref``s as Kubernetes spells them
(``#/components/schemas/io.k8s.api.core.v1.Pod``), a ``$ref`` with siblings wrapped in
``allOf`` as upstream does, JSON-Schema-only spellings (type lists with ``null``,
``additionalProperties: false``) turned into OpenAPI 3.0. Building every document takes a
moment, so callers on the event loop run :func:`openapi_v3_root` /
:func:`openapi_v3_document` in a thread; results are cached per registry generation (and
schema generation), so later calls are dictionary lookups.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from typing import Any

import orjson

from hyperkube import KUBERNETES_GIT_VERSION
from hyperkube.api import schemas
from hyperkube.api.registry import Registry, Resource
from hyperkube.machinery.errors import NotFound

__all__ = ["openapi_v3_root", "openapi_v3_document", "openapi_v3_document_and_hash", "gv_path", "openapi_v2",
           "openapi_v2_protobuf", "OPENAPI_V2_PROTOBUF",
           "component_name"]

_SCHEMA_REF = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_COMMON = (_META + "Status", _META + "DeleteOptions", _META + "Patch")


def gv_path(group: str, version: str) -> str:
    """``api/v1`` or ``apis/apps/v1``: a key of the root's ``paths``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def component_name(group: str, version: str, kind: str) -> str:
    """The component name of a kind: the built-in definition name, or for a custom resource
    the reversed group, as Kubernetes names CRD schemas (``com.example.v1.Widget``)."""
    name = None if (group, version, kind) in schemas.custom_schemas() else \
        schemas.definition_name(group, version, kind)
    return name or ".".join(reversed(group.split("."))) + f".{version}.{kind}"


# ---- caching ------------------------------------------------------------------------------------

class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_registry: weakref.WeakKeyDictionary[Registry, tuple[tuple[int, int], dict[str, Any]]] = \
            weakref.WeakKeyDictionary()

    def entries(self, registry: Registry) -> dict[str, Any]:
        stamp = (registry.generation, schemas.schemas_generation())
        with self.lock:
            cached = self.by_registry.get(registry)
            if cached is None or cached[0] != stamp:
                cached = (stamp, {})
                self.by_registry[registry] = cached
            return cached[1]


_cache = _Cache()


def openapi_v3_document_and_hash(registry: Registry, group: str, version: str) -> tuple[bytes, str]:
    """The serialized document of one group-version and its hash (the ``?hash=`` and ETag)."""
    entries = _cache.entries(registry)
    key = gv_path(group, version)
    found = entries.get(key)
    if found is None:
        resources = [r for r in registry if r.group == group and r.version == version]
        if not resources:
            raise NotFound(f'the server could not find the requested resource (openapi/v3/{key})')
        body = orjson.dumps(_document(resources), option=orjson.OPT_SORT_KEYS)
        found = (body, hashlib.sha512(body).hexdigest().upper())
        entries[key] = found
    return found


def openapi_v3_document(registry: Registry, group: str, version: str) -> bytes:
    return openapi_v3_document_and_hash(registry, group, version)[0]


def openapi_v3_root(registry: Registry) -> dict[str, Any]:
    """``{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=H"}, ...}}``."""
    paths: dict[str, Any] = {}
    for group, versions in sorted(registry.group_versions().items()):
        for version in versions:
            _, digest = openapi_v3_document_and_hash(registry, group, version)
            key = gv_path(group, version)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


# ---- schemas ------------------------------------------------------------------------------------

def _convert(schema: Any, refs: set[str]) -> Any:
    """One JSON-Schema node of kubernetes-validate -> OpenAPI 3.0, recording referenced names."""
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        name = schema["$ref"].rpartition("/")[2]
        refs.add(name)
        rest = {k: _convert(v, refs) for k, v in schema.items() if k != "$ref"}
        target = {"$ref": _SCHEMA_REF + name}
        return {"allOf": [target], **rest} if rest else target
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            kinds = [t for t in value if t != "null"]
            if len(kinds) == 1:
                out["type"] = kinds[0]
            elif kinds:
                out["type"] = kinds
        elif key == "additionalProperties" and value is False:
            continue
        elif key == "properties":
            out[key] = {name: _convert(sub, refs) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = _convert(value, refs)
        elif key in ("oneOf", "anyOf", "allOf"):
            out[key] = [_convert(sub, refs) for sub in value]
        else:
            out[key] = value
    return out


def _builtin_component(name: str, refs: set[str]) -> dict[str, Any]:
    schema = schemas.definitions().get(name) or {}
    converted = _convert(schema, refs)
    for field in ("apiVersion", "kind"):  # kubernetes-validate adds these enums; Kubernetes has none
        prop = converted.get("properties", {}).get(field)
        if isinstance(prop, dict):
            prop.pop("enum", None)
    if name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
        converted = {"description": "IntOrString is a type that can hold an int32 or a string.",
                     "x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    return converted


def _custom_components(resource: Resource, refs: set[str]) -> dict[str, dict[str, Any]]:
    schema = schemas.schema_for(resource.group, resource.version, resource.kind) or {"type": "object"}
    converted = _convert(schema, refs)
    properties = converted.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": "string", "description": _API_VERSION_DOC})
    properties.setdefault("kind", {"type": "string", "description": _KIND_DOC})
    properties["metadata"] = ({"allOf": [{"$ref": _SCHEMA_REF + _META + "ObjectMeta"}],
                               "description": "Standard object's metadata."})
    refs.add(_META + "ObjectMeta")
    converted.setdefault("type", "object")
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    converted["x-kubernetes-group-version-kind"] = [gvk]
    name = component_name(resource.group, resource.version, resource.kind)
    refs.add(_META + "ListMeta")
    list_schema = {
        "description": f"{resource.kind}List is a list of {resource.kind}",
        "type": "object", "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": _API_VERSION_DOC},
            "items": {"type": "array", "items": {"$ref": _SCHEMA_REF + name},
                      "description": f"List of {resource.plural}."},
            "kind": {"type": "string", "description": _KIND_DOC},
            "metadata": {"allOf": [{"$ref": _SCHEMA_REF + _META + "ListMeta"}],
                         "description": "Standard list metadata."}},
        "x-kubernetes-group-version-kind": [{**gvk, "kind": resource.list_kind}],
    }
    return {name: converted, name + "List": list_schema}


_API_VERSION_DOC = ("APIVersion defines the versioned schema of this representation of an object. Servers should "
                    "convert recognized schemas to the latest internal value, and may reject unrecognized values.")
_KIND_DOC = ("Kind is a string value representing the REST resource this object represents. Servers may infer "
             "this from the endpoint the client submits requests to. Cannot be updated. In CamelCase.")


def _components(resources: list[Resource]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    refs: set[str] = set(_COMMON)
    custom = schemas.custom_schemas()
    for resource in resources:
        if (resource.group, resource.version, resource.kind) in custom:
            out.update(_custom_components(resource, refs))
            continue
        for kind in (resource.kind, resource.list_kind):
            name = schemas.definition_name(resource.group, resource.version, kind)
            if name:
                refs.add(name)
        if "scale" in resource.subresources:
            refs.add("io.k8s.api.autoscaling.v1.Scale")
    pending = sorted(refs - out.keys())
    while pending:
        name = pending.pop()
        if name in out:
            continue
        found: set[str] = set()
        out[name] = _builtin_component(name, found)
        pending.extend(sorted(found - out.keys()))
    return dict(sorted(out.items()))


# ---- paths --------------------------------------------------------------------------------------

def _query(name: str, description: str, schema_type: str = "string", unique: bool = True) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "description": description,
                             "schema": {"type": schema_type}}
    if unique:
        param["schema"]["uniqueItems"] = True
    return param


_DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be persisted. "
                  "Valid values are: - All: all dry run stages will be processed")
_FIELD_MANAGER = _query("fieldManager", "fieldManager is a name associated with the actor or entity that is "
                        "making these changes.")
_FIELD_VALIDATION = _query("fieldValidation", "fieldValidation instructs the server on how to handle objects in "
                           "the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: "
                           "Ignore, Warn (the default) and Strict.")
_FORCE = _query("force", "Force is going to \"force\" Apply requests.", "boolean")
_LIST = [
    _query("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".", "boolean"),
    _query("continue", "The continue option should be set when retrieving more results from the server."),
    _query("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
    _query("labelSelector", "A selector to restrict the list of returned objects by their labels."),
    _query("limit", "limit is a maximum number of responses to return for a list call.", "integer"),
    _query("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be "
           "served from."),
    _query("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
    _query("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`.", "boolean"),
    _query("timeoutSeconds", "Timeout for the list/watch call.", "integer"),
    _query("watch", "Watch for changes to the described resources.", "boolean"),
]
_DELETE = [
    _DRY_RUN,
    _query("gracePeriodSeconds", "The duration in seconds before the object should be deleted.", "integer"),
    _query("orphanDependents", "Deprecated: please use the PropagationPolicy.", "boolean"),
    _query("propagationPolicy", "Whether and how garbage collection will be performed: 'Orphan', "
           "'Background' or 'Foreground'."),
]
_PATH_PARAMS = {
    "name": {"name": "name", "in": "path", "required": True, "description": "name of the {kind}",
             "schema": {"type": "string", "uniqueItems": True}},
    "namespace": {"name": "namespace", "in": "path", "required": True,
                  "description": "object name and auth scope, such as for teams and projects",
                  "schema": {"type": "string", "uniqueItems": True}},
    "pretty": _query("pretty", "If 'true', then the output is pretty printed."),
}
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json", "application/apply-patch+yaml")


def _content(ref: str) -> dict[str, Any]:
    schema = {"$ref": _SCHEMA_REF + ref}
    return {t: {"schema": schema} for t in ("application/json", "application/yaml",
                                            "application/vnd.kubernetes.protobuf")}


def _response(ref: str, *codes: str) -> dict[str, Any]:
    out: dict[str, Any] = {code: {"description": {"200": "OK", "201": "Created", "202": "Accepted"}[code],
                                  "content": _content(ref)} for code in codes}
    out["401"] = {"description": "Unauthorized"}
    return out


def _operation(resource: Resource, action: str, verb: str, op_id: str, schema_ref: str | None,
               params: list[dict[str, Any]], gvk: dict[str, str], body_ref: str | None = None,
               patch: bool = False, codes: tuple[str, ...] = ("200",)) -> dict[str, Any]:
    tag = (resource.group.split(".")[0] if resource.group else "core") + "_" + resource.version
    op: dict[str, Any] = {
        "description": f"{verb} {resource.kind}", "operationId": op_id, "tags": [tag],
        "parameters": list(params), "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
        "responses": _response(schema_ref, *codes) if schema_ref else {"200": {"description": "OK"}},
    }
    if body_ref:
        op["requestBody"] = {"required": not patch, "content": (
            {t: {"schema": {"$ref": _SCHEMA_REF + body_ref}} for t in _PATCH_TYPES} if patch else
            {"*/*": {"schema": {"$ref": _SCHEMA_REF + body_ref}}})}
    return op


def _camel(resource: Resource) -> str:
    group = "".join(part.capitalize() for part in (resource.group or "core").split(".")[:1])
    return group + resource.version.capitalize()


def _resource_paths(resource: Resource, components: dict[str, Any]) -> dict[str, Any]:
    root = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
    kind_ref = component_name(resource.group, resource.version, resource.kind)
    list_ref = kind_ref + "List" if kind_ref + "List" in components else None
    kind_ref_or_none = kind_ref if kind_ref in components else None
    status_ref = _META + "Status"
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    verbs = set(resource.verbs)
    prefix = "Namespaced" if resource.namespaced else ""
    scope = root + "/namespaces/{namespace}" if resource.namespaced else root
    name_param = dict(_PATH_PARAMS["name"], description=f"name of the {resource.kind}")
    scope_params = [_PATH_PARAMS["namespace"]] if resource.namespaced else []
    word, cv = resource.kind, _camel(resource)
    paths: dict[str, Any] = {}

    collection: dict[str, Any] = {"parameters": scope_params + [_PATH_PARAMS["pretty"]]}
    if "list" in verbs:
        collection["get"] = _operation(resource, "list", "list or watch objects of kind", f"list{cv}{prefix}{word}",
                                       list_ref, _LIST, gvk)
    if "create" in verbs:
        collection["post"] = _operation(resource, "post", "create a", f"create{cv}{prefix}{word}", kind_ref_or_none,
                                        [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION], gvk, kind_ref_or_none,
                                        codes=("200", "201", "202"))
    if "deletecollection" in verbs:
        collection["delete"] = _operation(resource, "deletecollection", "delete collection of",
                                          f"deleteCollection{cv}{prefix}{word}", status_ref, _DELETE + _LIST, gvk,
                                          _META + "DeleteOptions")
    if len(collection) > 1:
        paths[f"{scope}/{resource.plural}"] = collection

    item: dict[str, Any] = {"parameters": [name_param] + scope_params + [_PATH_PARAMS["pretty"]]}
    if "get" in verbs:
        item["get"] = _operation(resource, "get", "read the specified", f"read{cv}{prefix}{word}", kind_ref_or_none,
                                 [], gvk)
    if "update" in verbs:
        item["put"] = _operation(resource, "put", "replace the specified", f"replace{cv}{prefix}{word}",
                                 kind_ref_or_none, [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION], gvk,
                                 kind_ref_or_none, codes=("200", "201"))
    if "patch" in verbs:
        item["patch"] = _operation(resource, "patch", "partially update the specified", f"patch{cv}{prefix}{word}",
                                   kind_ref_or_none, [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION, _FORCE], gvk,
                                   _META + "Patch", patch=True, codes=("200", "201"))
    if "delete" in verbs:
        item["delete"] = _operation(resource, "delete", "delete a", f"delete{cv}{prefix}{word}", status_ref,
                                    _DELETE, gvk, _META + "DeleteOptions", codes=("200", "202"))
    if len(item) > 1:
        paths[f"{scope}/{resource.plural}/{{name}}"] = item

    if resource.namespaced and "list" in verbs:
        paths[f"{root}/{resource.plural}"] = {
            "parameters": [_PATH_PARAMS["pretty"]],
            "get": _operation(resource, "list", "list or watch objects of kind",
                              f"list{cv}{word}ForAllNamespaces", list_ref, _LIST, gvk)}

    for sub, sub_kind in sorted(resource.subresources.items()):
        sub_params = [name_param] + scope_params + [_PATH_PARAMS["pretty"]]
        entry: dict[str, Any] = {"parameters": sub_params}
        title = sub.capitalize()
        if sub in ("status", "scale"):
            ref = "io.k8s.api.autoscaling.v1.Scale" if sub == "scale" else kind_ref_or_none
            sub_gvk = {"group": "autoscaling", "version": "v1", "kind": "Scale"} if sub == "scale" else gvk
            if ref not in components:
                ref = None
            entry["get"] = _operation(resource, "get", f"read {sub} of the specified",
                                      f"read{cv}{prefix}{word}{title}", ref, [], sub_gvk)
            entry["put"] = _operation(resource, "put", f"replace {sub} of the specified",
                                      f"replace{cv}{prefix}{word}{title}", ref,
                                      [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION], sub_gvk, ref)
            entry["patch"] = _operation(resource, "patch", f"partially update {sub} of the specified",
                                        f"patch{cv}{prefix}{word}{title}", ref,
                                        [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION, _FORCE], sub_gvk,
                                        _META + "Patch", patch=True)
        else:
            entry["get"] = _operation(resource, "connect" if sub != "log" else "get",
                                      f"connect GET requests to {sub} of", f"connect{cv}{prefix}{word}{title}",
                                      None, [], {**gvk, "kind": sub_kind} if sub_kind else gvk)
        paths[f"{scope}/{resource.plural}/{{name}}/{sub}"] = entry
    return paths


def _document(resources: list[Resource]) -> dict[str, Any]:
    components = _components(resources)
    paths: dict[str, Any] = {}
    for resource in sorted(resources, key=lambda r: r.plural):
        paths.update(_resource_paths(resource, components))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_GIT_VERSION},
        "paths": paths,
        "components": {"schemas": components},
    }


# ---- /openapi/v2 -----------------------------------------------------------------------------
#
# kubectl still asks for the Swagger 2.0 document in one case: ``apply -f``/``create -f`` of a
# ``kind: List``. Its field-validation probe answers "unsupported" for v1 List without looking
# at v3, so with ``--validate=strict`` (the default) kubectl validates the items client-side
# against ``GET /openapi/v2`` (Accept: the gnostic protobuf type below, nothing else), and
# a 404 there fails the whole apply. Items whose kind the document does not define are
# skipped, so a document without definitions lets every item through to the server, which
# validates each one itself (strict field validation) as it does for any single object.

OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def openapi_v2() -> dict[str, Any]:
    """The Swagger 2.0 document as JSON: version and info, no paths or definitions."""
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": KUBERNETES_GIT_VERSION}, "paths": {}}


def _pb_string(number: int, text: str) -> bytes:
    data = text.encode()
    return _pb_key(number) + _pb_varint(len(data)) + data


def _pb_key(number: int) -> bytes:
    return _pb_varint(number << 3 | 2)  # every field here is length-delimited


def _pb_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def openapi_v2_protobuf() -> bytes:
    """:func:`openapi_v2` as a gnostic ``openapi_v2.Document`` (swagger = 1, info = 2 with
    title = 1 and version = 2, paths = 8)."""
    document = openapi_v2()
    info = _pb_string(1, document["info"]["title"]) + _pb_string(2, document["info"]["version"])
    return (_pb_string(1, document["swagger"]) + _pb_key(2) + _pb_varint(len(info)) + info
            + _pb_key(8) + _pb_varint(0))
