"""Request bodies in, response bodies out.

Decoding accepts what real clients send (CLIENTS.md): JSON with or without a Content-Type
(the Python client sends none) and YAML. Protobuf bodies (kubectl's typed commands) are decoded
by :mod:`protobuf_bodies` before they reach this module; one that arrives here labelled as JSON
is refused with 415. Anything over :data:`MAX_BODY` is 413 before parsing.

Encoding is orjson everywhere. Objects are stored without ``metadata.resourceVersion`` (it is
the store's mod revision, unknown before the write), and :func:`with_resource_version`
splices it into the stored bytes without a decode/encode round trip when the value has the
layout the server itself writes (``{"apiVersion":..,"kind":..,"metadata":{`` first). That
keeps gets, lists and watch events at memcpy cost on the hot path.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from hyperkube.machinery import errors

MAX_BODY = 3 * 1024 * 1024

JSON = "application/json"
TABLE_GROUP = "meta.k8s.io"


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def loads(data: bytes) -> Any:
    return orjson.loads(data)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return raw_response(orjson.dumps(obj), status, headers)


def raw_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    response = web.Response(body=body, status=status, content_type=JSON, headers=headers)
    return response


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


async def read_body(request: web.Request) -> bytes:
    """The raw body, refusing anything over 3 MiB with 413 (Kubernetes' limit)."""
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise errors.RequestEntityTooLarge("the request body is too large (limit 3145728 bytes)")
    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > MAX_BODY:
            raise errors.RequestEntityTooLarge("the request body is too large (limit 3145728 bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(data: bytes, content_type: str | None) -> Any:
    """Parse a body as its Content-Type says; a missing Content-Type is JSON."""
    kind = media_type(content_type)
    if kind in ("", JSON, "*/*", "text/plain", "application/x-www-form-urlencoded"):
        return _json(data)
    if kind in ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"):
        return _yaml(data)
    if kind in ("application/strategic-merge-patch+json", "application/merge-patch+json",
                "application/json-patch+json", "application/apply-patch+yaml"):
        return _json(data) if not kind.endswith("yaml") else _yaml(data)
    raise errors.UnsupportedMediaType(
        f'the body of the request was in an unknown format - accepted media types include: '
        f'application/json, application/yaml (got "{kind}")')


def _json(data: bytes) -> Any:
    if data.startswith(b"k8s\x00"):
        raise errors.UnsupportedMediaType("protobuf request bodies are not supported; send application/json")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # a YAML body sent as JSON is common with hand-written requests; kubectl never does it
        raise errors.BadRequest(f"the object provided is unrecognized: couldn't decode JSON: {exc}") from None


def _yaml(data: bytes) -> Any:
    try:
        text = data.decode()
        return yaml.load(text, Loader=_SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError, ValueError) as exc:
        message = str(exc).replace("\n", " ")[:300]
        raise errors.BadRequest(f"the object provided is unrecognized: couldn't decode YAML: {message}") from None


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader whose timestamps stay strings, as Kubernetes' YAML-to-JSON conversion keeps them."""


for _first, _resolvers in list(_SafeLoader.yaml_implicit_resolvers.items()):
    _SafeLoader.yaml_implicit_resolvers[_first] = [
        (tag, regexp) for tag, regexp in _resolvers if tag != "tag:yaml.org,2002:timestamp"]


def decode_object(data: bytes, content_type: str | None) -> dict[str, Any]:
    """A body that must be one object (create, update, DeleteOptions)."""
    if not data.strip():
        raise errors.BadRequest("the body of the request was empty")
    obj = decode(data, content_type)
    if not isinstance(obj, dict):
        raise errors.BadRequest("the object provided is unrecognized: the body must be a JSON object")
    try:
        orjson.dumps(obj)  # YAML can produce what JSON can't (non-string keys, sets, ...)
    except TypeError as exc:
        raise errors.BadRequest(f"the object provided is unrecognized: {exc}") from None
    return obj


# ---- resourceVersion in stored bytes --------------------------------------------------------------


def stored_prefix(api_version: str, kind: str) -> bytes:
    """How every value the server writes for this kind begins."""
    return b'{"apiVersion":' + orjson.dumps(api_version) + b',"kind":' + orjson.dumps(kind) + b',"metadata":{'


def encode_for_storage(obj: dict[str, Any]) -> bytes:
    """The stored form: apiVersion, kind, metadata first, resourceVersion left out."""
    metadata = obj.get("metadata") or {}
    if "resourceVersion" in metadata:
        metadata = {k: v for k, v in metadata.items() if k != "resourceVersion"}
    ordered = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": metadata}
    for key, value in obj.items():
        if key not in ordered:
            ordered[key] = value
    return orjson.dumps(ordered)


def with_resource_version(value: bytes, revision: int, prefix: bytes) -> bytes:
    """The stored bytes with ``metadata.resourceVersion`` set; no decode when the layout is ours."""
    n = len(prefix)
    # the splice needs our layout, a non-empty metadata, and no stored resourceVersion anywhere
    # (one written by another tool would be a duplicate key that wins)
    if value.startswith(prefix) and len(value) > n and value[n] != 0x7D and b'"resourceVersion"' not in value:
        return b"".join((prefix, b'"resourceVersion":"', str(revision).encode(), b'",', value[n:]))
    obj = orjson.loads(value)
    set_resource_version(obj, revision)
    return orjson.dumps(obj)


def set_resource_version(obj: dict[str, Any], revision: int) -> dict[str, Any]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = obj["metadata"] = {}
    metadata["resourceVersion"] = str(revision)
    return obj


def decode_stored(value: bytes, revision: int) -> dict[str, Any]:
    obj = orjson.loads(value)
    if not isinstance(obj, dict):
        obj = {"value": obj}
    return set_resource_version(obj, revision)


# ---- content negotiation ----------------------------------------------------------------------------


def wants_table(accept: str | None) -> bool:
    """``application/json;as=Table;v=v1;g=meta.k8s.io`` (or v1beta1) anywhere in Accept."""
    if not accept or "as=Table" not in accept:
        return False
    for part in accept.split(","):
        params = {}
        for item in part.split(";")[1:]:
            key, _, value = item.strip().partition("=")
            params[key.strip()] = value.strip()
        if params.get("as") == "Table" and params.get("g", TABLE_GROUP) == TABLE_GROUP \
                and params.get("v", "v1") in ("v1", "v1beta1"):
            return True
    return False


def check_acceptable(accept: str | None) -> None:
    """406 when the client accepts only what we can't produce (protobuf alone, say)."""
    if not accept:
        return
    for part in accept.split(","):
        kind = media_type(part)
        if kind in ("", JSON, "*/*", "application/*", "application/yaml") or kind.endswith("+json"):
            return
    raise errors.NotAcceptable("only the following media types are accepted: application/json, application/yaml")
