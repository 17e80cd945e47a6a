"""A small protobuf wire-format decoder, driven by field maps, producing plain JSON dicts.

Kubernetes' typed clients (kubectl's imperative ``create`` commands, ``auth can-i``) send
``application/vnd.kubernetes.protobuf`` bodies: the 4-byte magic ``k8s\\0`` followed by a
``runtime.Unknown`` message whose ``typeMeta`` names the kind and whose ``raw`` holds the
object's own message. Only decoding is needed (answers stay JSON, which clients accept).

The wire format is tiny: each field is a varint key ``(number << 3) | wire_type`` and a
value; wire type 0 is a varint, 2 is length-delimited (strings, bytes, embedded messages,
map entries, packed repeated scalars), 1 and 5 are fixed 64/32-bit. A :class:`Message`
maps field numbers to :class:`Field` s; decoding walks the bytes once and builds the dict
the JSON form of the same object would give:

- Kubernetes' Go structs marshal every non-pointer scalar, so an empty string, a 0 or a
  false on the wire usually means "unset": such values are dropped unless the field is a
  pointer in Go (``Field.keep_zero``), where 0 (``replicas: 0``) means something.
- maps are repeated entry messages (key = 1, value = 2);
- an embedded Go struct (``IngressRule.ingressRuleValue``) is its own message on the wire but
  inline in JSON (``Field.inline``);
- a message may carry a ``convert`` function for the types whose JSON form is not an
  object (``Time`` -> RFC 3339 text, ``IntOrString``, ``Quantity``);
- an unknown field number is an error: silently dropping what a client sent would lose
  data, so the caller answers 415 and names the field.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"k8s\x00"

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5

STRING, INT, UINT, BOOL, BYTES = "string", "int", "uint", "bool", "bytes"


class ProtobufError(ValueError):
    """The bytes are not a message of the expected shape."""


@dataclass(frozen=True)
class MapOf:
    """``map<string, value>``: value is a scalar type name or a :class:`Message`."""

    value: str | Message


@dataclass(frozen=True)
class Field:
    name: str
    type: str | Message | MapOf
    repeated: bool = False
    keep_zero: bool = False  # a pointer in Go: a zero value on the wire was set on purpose
    inline: bool = False  # an embedded Go struct: its fields belong to the parent in JSON


@dataclass
class Message:
    name: str
    fields: dict[int, Field] = field(default_factory=dict)
    convert: Callable[[dict[str, Any]], Any] | None = None

    def __hash__(self) -> int:
        return id(self)


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint too long")


def iter_fields(data: bytes | memoryview) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value): an int for varint/fixed, bytes for length-delimited."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == VARINT:
            value, pos = read_varint(data, pos)
        elif wire == LENGTH:
            length, pos = read_varint(data, pos)
            if pos + length > end:
                raise ProtobufError("truncated length-delimited field")
            value = bytes(data[pos:pos + length])
            pos += length
        elif wire == FIXED64:
            if pos + 8 > end:
                raise ProtobufError("truncated fixed64")
            value = int.from_bytes(data[pos:pos + 8], "little")
            pos += 8
        elif wire == FIXED32:
            if pos + 4 > end:
                raise ProtobufError("truncated fixed32")
            value = int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield number, wire, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, wire: int, value: Any, where: str) -> Any:
    if kind in (STRING, BYTES):
        if wire != LENGTH:
            raise ProtobufError(f"{where}: expected a length-delimited value")
        if kind == BYTES:
            return value
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise ProtobufError(f"{where}: string is not valid UTF-8") from None
    if wire != VARINT:
        raise ProtobufError(f"{where}: expected a varint")
    if kind == BOOL:
        return bool(value)
    return _signed(value) if kind == INT else value


def _packed(kind: str, data: bytes, where: str) -> list[Any]:
    out, pos = [], 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        out.append(_scalar(kind, VARINT, value, where))
    return out


def _zero(value: Any) -> bool:
    return value in ("", 0, b"")  # False == 0


def _json_value(kind: Any, value: Any) -> Any:
    """Bytes have base64 text as their JSON form."""
    if kind == BYTES and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def decode(message: Message, data: bytes | memoryview) -> Any:
    """``data`` as the JSON value of ``message``."""
    out: dict[str, Any] = {}
    for number, wire, value in iter_fields(data):
        spec = message.fields.get(number)
        if spec is None:
            raise ProtobufError(f"field {number} of {message.name} is not supported")
        where = f"{message.name}.{spec.name}"
        kind = spec.type
        if isinstance(kind, MapOf):
            if wire != LENGTH:
                raise ProtobufError(f"{where}: expected a map entry")
            key, item = _map_entry(kind.value, value, where)
            out.setdefault(spec.name, {})[key] = item
            continue
        if isinstance(kind, Message):
            if wire != LENGTH:
                raise ProtobufError(f"{where}: expected an embedded message")
            item = decode(kind, value)
            if spec.inline:
                out.update(item)
            elif spec.repeated:
                out.setdefault(spec.name, []).append(item)
            elif item is not None:
                out[spec.name] = item
            else:
                out.pop(spec.name, None)
            continue
        if spec.repeated:
            items = _packed(kind, value, where) if wire == LENGTH and kind not in (STRING, BYTES) else [
                _scalar(kind, wire, value, where)]
            out.setdefault(spec.name, []).extend(_json_value(kind, item) for item in items)
            continue
        item = _scalar(kind, wire, value, where)
        if _zero(item) and not spec.keep_zero:
            out.pop(spec.name, None)
        else:
            out[spec.name] = _json_value(kind, item)
    return message.convert(out) if message.convert is not None else out


def _map_entry(value_type: str | Message, data: bytes, where: str) -> tuple[str, Any]:
    key: str = ""
    item: Any = None
    for number, wire, value in iter_fields(data):
        if number == 1:
            key = _scalar(STRING, wire, value, where + " key")
        elif number == 2:
            if isinstance(value_type, Message):
                if wire != LENGTH:
                    raise ProtobufError(f"{where}: expected an embedded message")
                item = decode(value_type, value)
            else:
                item = _json_value(value_type, _scalar(value_type, wire, value, where))
        else:
            raise ProtobufError(f"{where}: map entry field {number}")
    if item is None:  # an entry without a value is the value type's zero
        item = {} if isinstance(value_type, Message) else _json_value(value_type, {STRING: "", BYTES: b"",
                                                                                  BOOL: False}.get(value_type, 0))
    return key, item


# ---- the envelope ------------------------------------------------------------------------------

_TYPE_META = Message("TypeMeta", {1: Field("apiVersion", STRING), 2: Field("kind", STRING)})
_UNKNOWN = Message("Unknown", {1: Field("typeMeta", _TYPE_META), 2: Field("raw", BYTES),
                               3: Field("contentEncoding", STRING), 4: Field("contentType", STRING)})


@dataclass(frozen=True)
class Envelope:
    api_version: str
    kind: str
    raw: bytes
    content_encoding: str
    content_type: str


def unwrap(data: bytes) -> Envelope:
    """The ``k8s\\0`` + ``runtime.Unknown`` envelope Kubernetes puts around every protobuf object."""
    if not data.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic k8s\\x00")
    fields: dict[str, Any] = {}
    type_meta: dict[str, Any] = {}
    for number, wire, value in iter_fields(memoryview(data)[len(MAGIC):]):
        spec = _UNKNOWN.fields.get(number)
        if spec is None or wire != LENGTH:
            raise ProtobufError(f"field {number} of runtime.Unknown is not supported")
        if number == 1:
            type_meta = decode(_TYPE_META, value)
        else:
            fields[spec.name] = value if number == 2 else _scalar(STRING, wire, value, "Unknown")
    return Envelope(type_meta.get("apiVersion", ""), type_meta.get("kind", ""), fields.get("raw", b""),
                    fields.get("contentEncoding", ""), fields.get("contentType", ""))
