"""Translation between the Store interface's values and etcd's JSON gateway.

The gateway speaks the protobuf messages of etcd's ``etcdserverpb`` as JSON (jsonpb):
``bytes`` fields are base64, ``int64`` fields arrive as strings, enums by name, and a field
at its zero value is simply left out. Every function here is pure, so the store module only
moves bytes over HTTP and the mapping can be read (and tested) in one place.

Keys are ``str`` in the interface; they travel as UTF-8 with ``surrogateescape`` so a
``range_end`` made by :func:`prefix_end` (which may end in a lone byte) survives the trip.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from hyperkube.storage.interface import (
    Compare,
    DeleteRequest,
    DeleteResult,
    DuplicateKeyError,
    Event,
    KeyValue,
    LeaseNotFoundError,
    NoSpaceError,
    PutRequest,
    PutResult,
    RangeRequest,
    RangeResult,
    Request,
    Response,
    StorageError,
    TooManyOpsError,
    UnavailableError,
)

Json = dict[str, Any]

_TARGETS = {"version": "VERSION", "create": "CREATE", "mod": "MOD", "value": "VALUE", "lease": "LEASE"}
_TARGET_FIELDS = {"version": "version", "create": "create_revision", "mod": "mod_revision", "lease": "lease"}
_RESULTS = {"=": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", ">": "GREATER"}


# --------------------------------------------------------------------------- scalars


def encode_key(key: str) -> str:
    return base64.b64encode(key.encode("utf-8", "surrogateescape")).decode("ascii")


def decode_key(data: str | None) -> str:
    return base64.b64decode(data or "").decode("utf-8", "surrogateescape")


def encode_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def decode_bytes(data: str | None) -> bytes:
    return base64.b64decode(data) if data else b""


def as_int(value: Any) -> int:
    """An int64 field: a string, a number, or absent (zero)."""
    return int(value) if value else 0


def header_revision(message: Json) -> int:
    return as_int((message.get("header") or {}).get("revision"))


# --------------------------------------------------------------------------- requests


def _with_range_end(body: Json, range_end: str | None) -> Json:
    if range_end is not None:
        body["range_end"] = encode_key(range_end)
    return body


def range_body(request: RangeRequest) -> Json:
    body: Json = {"key": encode_key(request.key)}
    if request.revision:
        body["revision"] = request.revision
    if request.limit:
        body["limit"] = request.limit
    if request.count_only:
        body["count_only"] = True
    if request.keys_only:
        body["keys_only"] = True
    return _with_range_end(body, request.range_end)


def put_body(request: PutRequest) -> Json:
    body: Json = {"key": encode_key(request.key), "value": encode_bytes(request.value)}
    if request.lease:
        body["lease"] = request.lease
    if request.prev_kv:
        body["prev_kv"] = True
    return body


def delete_body(request: DeleteRequest) -> Json:
    body: Json = {"key": encode_key(request.key)}
    if request.prev_kv:
        body["prev_kv"] = True
    return _with_range_end(body, request.range_end)


def request_op(request: Request) -> Json:
    """One ``RequestOp`` of a txn."""
    if isinstance(request, RangeRequest):
        return {"request_range": range_body(request)}
    if isinstance(request, PutRequest):
        return {"request_put": put_body(request)}
    if isinstance(request, DeleteRequest):
        return {"request_delete_range": delete_body(request)}
    raise TypeError(f"not a storage request: {request!r}")


def compare_body(compare: Compare) -> Json:
    if compare.target not in _TARGETS or compare.result not in _RESULTS:
        raise ValueError(f"unsupported compare {compare.target} {compare.result}")
    body: Json = {"key": encode_key(compare.key), "target": _TARGETS[compare.target],
                  "result": _RESULTS[compare.result]}
    if compare.target == "value":
        value = compare.value if isinstance(compare.value, bytes) else str(compare.value).encode()
        body["value"] = encode_bytes(value)
    else:
        body[_TARGET_FIELDS[compare.target]] = int(compare.value)
    return _with_range_end(body, compare.range_end)


def txn_body(compares: Sequence[Compare], success: Sequence[Request], failure: Sequence[Request]) -> Json:
    return {"compare": [compare_body(c) for c in compares], "success": [request_op(r) for r in success],
            "failure": [request_op(r) for r in failure]}


# --------------------------------------------------------------------------- responses


def key_value(data: Json) -> KeyValue:
    return KeyValue(key=decode_key(data.get("key")), value=decode_bytes(data.get("value")),
                    create_revision=as_int(data.get("create_revision")),
                    mod_revision=as_int(data.get("mod_revision")), version=as_int(data.get("version")),
                    lease=as_int(data.get("lease")))


def range_result(data: Json, revision: int | None = None) -> RangeResult:
    return RangeResult(kvs=[key_value(kv) for kv in data.get("kvs") or ()], count=as_int(data.get("count")),
                       more=bool(data.get("more")),
                       revision=header_revision(data) if revision is None else revision)


def put_result(data: Json, revision: int | None = None) -> PutResult:
    prev = data.get("prev_kv")
    return PutResult(revision=header_revision(data) if revision is None else revision,
                     prev_kv=key_value(prev) if prev else None)


def delete_result(data: Json, revision: int | None = None) -> DeleteResult:
    return DeleteResult(revision=header_revision(data) if revision is None else revision,
                        deleted=as_int(data.get("deleted")),
                        prev_kvs=[key_value(kv) for kv in data.get("prev_kvs") or ()])


def response_op(op: Json, revision: int) -> Response:
    """One ``ResponseOp`` of a txn; inner headers carry only the revision, the txn's."""
    if "response_range" in op:
        return range_result(op["response_range"], revision)
    if "response_put" in op:
        return put_result(op["response_put"], revision)
    if "response_delete_range" in op:
        return delete_result(op["response_delete_range"], revision)
    raise StorageError(f"etcd sent an unknown txn response: {sorted(op)}")


def event(data: Json) -> Event:
    prev = data.get("prev_kv")
    return Event(type="DELETE" if data.get("type") == "DELETE" else "PUT", kv=key_value(data.get("kv") or {}),
                 prev_kv=key_value(prev) if prev else None)


# --------------------------------------------------------------------------- errors

# gRPC status codes that mean "this member can't serve now; another might".
UNAVAILABLE_CODES = frozenset({4, 14})  # DEADLINE_EXCEEDED, UNAVAILABLE
COMPACTED = "required revision has been compacted"
FUTURE = "required revision is a future revision"
LEASE_NOT_FOUND = "requested lease not found"


def error_message(body: Json | None, fallback: str) -> tuple[str, int]:
    """The gateway's error text and gRPC code, from ``{"error", "code", "message"}`` or a stream's
    ``{"error": {"grpc_code", "message"}}``."""
    if not isinstance(body, dict):
        return fallback, 2
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or fallback), as_int(error.get("grpc_code") or error.get("code"))
    return str(body.get("message") or error or fallback), as_int(body.get("code"))


def never_applied(message: str) -> bool:
    """An unavailable answer that proves a write was not proposed, so resending it is safe."""
    return any(text in message for text in ("no leader", "not capable", "too many requests"))


def classify(message: str, code: int) -> type[StorageError] | None:
    """The typed error for an etcd error text; None for the revision errors (they need
    numbers the caller must look up) and anything unknown."""
    if COMPACTED in message or FUTURE in message:
        return None
    if LEASE_NOT_FOUND in message:
        return LeaseNotFoundError
    if "too many operations in txn request" in message:
        return TooManyOpsError
    if "duplicate key given in txn request" in message:
        return DuplicateKeyError
    if "database space exceeded" in message or "no space" in message:
        return NoSpaceError
    if code in UNAVAILABLE_CODES or "no leader" in message or "request timed out" in message \
            or "not capable" in message or "too many requests" in message:
        return UnavailableError
    return None

