"""Request bodies sent as ``application/vnd.kubernetes.protobuf``.

The envelope (``k8s\\0`` + runtime.Unknown) is opened with :mod:`hyperkube.machinery.protobuf`
and the object decoded with the field maps of :mod:`hyperkube.api.protobuf_kinds`; the
result is the dict a JSON body would have given, so everything after decoding (validation,
defaults, managedFields) is the JSON path. Anything that can't be decoded (another kind, a
field the maps lack, a compressed or broken body) is 415 Unsupported Media Type naming the
problem: silently dropping part of an object would be worse.
"""

from __future__ import annotations

from typing import Any

from hyperkube.api.protobuf_kinds import KINDS
from hyperkube.machinery import errors
from hyperkube.machinery.protobuf import ProtobufError, decode, unwrap

PROTOBUF = "application/vnd.kubernetes.protobuf"


def decode_object(data: bytes, expected_api_version: str = "", expected_kind: str = "") -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object, apiVersion and kind from its envelope."""
    try:
        envelope = unwrap(data)
    except ProtobufError as error:
        raise unsupported(f"the protobuf envelope could not be decoded: {error}") from None
    api_version = envelope.api_version or expected_api_version
    kind = envelope.kind or expected_kind
    if envelope.content_encoding:
        raise unsupported(f"protobuf content encoding {envelope.content_encoding!r} is not supported")
    message = KINDS.get((api_version, kind))
    if message is None:
        raise unsupported(f"protobuf bodies of {kind or 'unknown kind'} ({api_version or 'unknown version'}) are "
                          f"not supported; send application/json")
    try:
        obj = decode(message, envelope.raw)
    except (ProtobufError, RecursionError) as error:
        raise unsupported(f"the protobuf body of {kind} could not be decoded: {error}; send application/json") \
            from None
    return {"apiVersion": api_version, "kind": kind, **obj}


def unsupported(message: str) -> errors.UnsupportedMediaType:
    return errors.UnsupportedMediaType(message)
