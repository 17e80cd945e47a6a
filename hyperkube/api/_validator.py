"""A compact schema validator compiled to closures.

Each schema node becomes one Python function ``check(value, path, report) -> value`` that
type-checks ``value``, prunes it in place (unknown fields, nulls in structs) and returns the
value to store (the same object unless a scalar had to be normalised, e.g. ``1.0`` -> ``1`` or a
quantity canonicalised). ``$ref`` is resolved once, lazily, through a one-slot cell, so
recursive definitions (JSONSchemaProps) compile fine and a definition is compiled at most
once per process however many kinds use it.

Paths are built only when something is wrong: the walk passes ``(parent, key)`` tuples and
:func:`path_text` turns one into ``spec.containers[0].ports[0].containerPort``.

The same compiler handles the two dialects we meet:

- built-in definitions from kubernetes-validate (``type: ["string", "null"]``, IntOrString and
  Quantity as named ``oneOf`` definitions, ``additionalProperties: false`` on structs);
- CRD ``openAPIV3Schema`` (``nullable``, ``x-kubernetes-int-or-string``,
  ``x-kubernetes-preserve-unknown-fields``, ``x-kubernetes-embedded-resource``), where an
  object without properties prunes everything unless it preserves unknown fields.
"""

from __future__ import annotations

import binascii
import copy
import re
from collections.abc import Callable
from typing import Any

from hyperkube.api import _constraints
from hyperkube.machinery.errors import cause
from hyperkube.machinery.quantity import QuantityError, parse_quantity

Path = tuple | None
Check = Callable[[Any, Path, "Report"], Any]

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def path_text(path: Path) -> str:
    parts: list[str] = []
    while path is not None:
        path, key = path
        parts.append(f"[{key}]" if key.__class__ is int else "." + key)
    return "".join(reversed(parts)).lstrip(".")


def _json_type(value: Any) -> str:
    cls = value.__class__
    if cls is str:
        return "string"
    if cls is bool:
        return "boolean"
    if cls is int:
        return "integer"
    if cls is float:
        return "number"
    if cls is dict:
        return "object"
    if cls is list:
        return "array"
    return "null" if value is None else cls.__name__


def _shown(value: Any) -> str:
    cls = value.__class__
    if cls is str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if cls is bool:
        return "true" if value else "false"
    if cls in (int, float):
        return repr(value)
    if value is None:
        return "null"
    return '"' + _json_type(value) + '"'


class Report:
    """What one walk found; ``collect_unknown`` is off under fieldValidation=Ignore."""

    __slots__ = ("causes", "unknown", "collect_unknown")

    def __init__(self, collect_unknown: bool = True) -> None:
        self.causes: list[dict[str, str]] = []
        self.unknown: list[str] = []
        self.collect_unknown = collect_unknown

    def type_error(self, path: Path, value: Any, expected: str) -> None:
        field = path_text(path)
        self.causes.append(cause(
            field, f"Invalid value: {_shown(value)}: {field} in body must be of type {expected}: "
                   f'"{_json_type(value)}"', "FieldValueTypeInvalid"))

    def invalid(self, path: Path, value: Any, detail: str, reason: str = "FieldValueInvalid") -> None:
        self.causes.append(cause(path_text(path), f"Invalid value: {_shown(value)}: {detail}", reason))

    def required(self, path: Path) -> None:
        self.causes.append(cause(path_text(path), "Required value", "FieldValueRequired"))

    def unknown_field(self, path: Path) -> None:
        if self.collect_unknown:
            self.unknown.append(path_text(path))


def _any(value: Any, path: Path, report: Report) -> Any:
    return value


def _types_of(schema: dict[str, Any]) -> tuple[set[str], bool]:
    declared = schema.get("type")
    types = set(declared) if isinstance(declared, list) else ({declared} if declared else set())
    nullable = "null" in types or bool(schema.get("nullable"))
    types.discard("null")
    return types, nullable


def _zero(schema_type: str) -> Any:
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "object": {}, "array": []}.get(schema_type)


class Compiler:
    """Turns schemas into checks. ``resolve(name)`` returns a raw definition for a ``$ref``."""

    def __init__(self, resolve: Callable[[str], dict[str, Any] | None], crd: bool = False,
                 refs: Compiler | None = None, required: bool = True) -> None:
        self.resolve = resolve
        self.crd = crd
        self.required = required
        self.by_name: dict[str, Check] = {}
        self.refs = refs or self  # a CRD's $refs (ObjectMeta) use the built-in compiler
        self._lenient: Compiler | None = None

    @property
    def lenient(self) -> Compiler:
        """The same compiler without ``required`` checks: for a built-in kind's ``status``, whose
        OpenAPI "required" marks Go fields without omitempty (``containerStatuses[].imageID``),
        which Kubernetes itself never enforces."""
        if self._lenient is None:
            self._lenient = Compiler(self.resolve, self.crd, required=False)
        return self._lenient

    # -- references --------------------------------------------------------------------------
    def definition(self, name: str) -> Check:
        check = self.by_name.get(name)
        if check is None:
            if name == INT_OR_STRING:
                check = _int_or_string
            elif name == QUANTITY:
                check = _quantity
            else:
                schema = self.resolve(name)
                check = _any if schema is None else self.compile(schema)
            self.by_name[name] = check
        return check

    def ref(self, name: str) -> Check:
        cell: list[Check] = []

        def check(value: Any, path: Path, report: Report) -> Any:
            if not cell:
                cell.append(self.refs.definition(name))
            return cell[0](value, path, report)

        return check

    # -- nodes -------------------------------------------------------------------------------
    def compile(self, schema: dict[str, Any], top: bool = False) -> Check:
        check = self.node(schema, top)
        if any(key in schema for key in _constraints.KEYS):
            check = _constraints.constrained(check, schema, path_text, _shown)
        return check

    def node(self, schema: dict[str, Any], top: bool = False) -> Check:
        ref = schema.get("$ref")
        if ref:
            return self.ref(ref.rpartition("/")[2])
        if schema.get("x-kubernetes-int-or-string"):
            return _int_or_string
        if "oneOf" in schema and not schema.get("type"):
            kinds = {t for s in schema["oneOf"] for t in _types_of(s)[0]}
            if kinds == {"string", "integer"}:
                return _int_or_string
            if kinds == {"string", "number"}:
                return _quantity
        types, nullable = _types_of(schema)
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        if not types:
            if "properties" in schema or "additionalProperties" in schema:
                types = {"object"}
            else:
                return _any
        if len(types) > 1:
            return _any
        (kind,) = types
        if kind == "object":
            return self.object(schema, nullable, preserve, top)
        if kind == "array":
            return self.array(schema, nullable)
        return _scalar(kind, nullable, schema.get("format"))

    def array(self, schema: dict[str, Any], nullable: bool) -> Check:
        items_schema = schema.get("items")
        item = self.compile(items_schema) if isinstance(items_schema, dict) else _any
        zero = _zero(_types_of(items_schema)[0].pop()) if isinstance(items_schema, dict) and \
            len(_types_of(items_schema)[0]) == 1 else None

        def check(value: Any, path: Path, report: Report) -> Any:
            if value.__class__ is not list:
                if value is None and nullable:
                    return None
                report.type_error(path, value, "array")
                return value
            if item is _any:
                return value
            for index, element in enumerate(value):
                if element is None and zero is not None:
                    value[index] = element = _zero_copy(zero)
                new = item(element, (path, index), report)
                if new is not element:
                    value[index] = new
            return value

        return check

    def object(self, schema: dict[str, Any], nullable: bool, preserve: bool, top: bool) -> Check:
        raw_properties = dict(schema.get("properties") or {})
        if self.crd and (top or schema.get("x-kubernetes-embedded-resource")):
            raw_properties.setdefault("apiVersion", {"type": "string"})
            raw_properties.setdefault("kind", {"type": "string"})
            if top:  # a CRD may only narrow name/generateName: metadata is always ObjectMeta
                raw_properties["metadata"] = {"$ref": "#/$defs/" + OBJECT_META}
            else:
                raw_properties.setdefault("metadata", {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
        properties: dict[str, Check] = {}
        # built-in structs drop nulls (Go decodes them to zero values and omits them); a CRD
        # keeps null where the field says ``nullable: true``
        keep_null = frozenset(k for k, sub in raw_properties.items() if self.crd and sub.get("nullable"))
        for key, sub in raw_properties.items():
            if not self.crd and key in ("apiVersion", "kind") and "enum" in sub:
                sub = {k: v for k, v in sub.items() if k != "enum"}  # the server checks the GVK
            if top and not self.crd and key == "status":
                properties[key] = self.lenient.compile(sub)
            else:
                properties[key] = self.compile(sub)
        required = tuple(schema.get("required") or ()) if self.required else ()
        # CRD defaulting: a missing (or pruned null) field with a ``default`` gets a copy of it
        defaults = tuple((k, sub["default"]) for k, sub in raw_properties.items()
                         if self.crd and "default" in sub)
        additional_schema = schema.get("additionalProperties")
        additional: Check | None = None
        additional_zero: Any = None
        if isinstance(additional_schema, dict):
            additional = self.compile(additional_schema)
            types = _types_of(additional_schema)[0]
            additional_zero = "" if types == {"string"} else None
        elif additional_schema is True or (not raw_properties and additional_schema is None and not self.crd):
            preserve = True

        def check(value: Any, path: Path, report: Report) -> Any:
            if value.__class__ is not dict:
                if value is None and nullable:
                    return None
                report.type_error(path, value, "object")
                return value
            drop: list[str] | None = None
            for key, element in value.items():
                child = properties.get(key)
                if child is None:
                    if additional is not None:
                        if element is None:
                            if additional_zero is None:
                                (drop := drop or []).append(key)
                                continue
                            value[key] = element = additional_zero
                        new = additional(element, (path, key), report)
                        if new is not element:
                            value[key] = new
                    elif not preserve:
                        report.unknown_field((path, key))
                        (drop := drop or []).append(key)
                    continue
                if element is None:
                    if key not in keep_null:
                        (drop := drop or []).append(key)
                    continue
                new = child(element, (path, key), report)
                if new is not element:
                    value[key] = new
            if drop:
                for key in drop:
                    del value[key]
            for key, default in defaults:
                if key not in value:
                    value[key] = properties[key](copy.deepcopy(default), (path, key), report)
            for key in required:
                if key not in value:
                    report.required((path, key))
            return value

        return check


def _zero_copy(zero: Any) -> Any:
    if zero.__class__ is dict:
        return {}
    return [] if zero.__class__ is list else zero


_LIMITS = {"int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1)}


def _scalar(kind: str, nullable: bool, fmt: str | None) -> Check:
    if kind == "string":
        def check(value: Any, path: Path, report: Report) -> Any:
            if value.__class__ is not str:
                if value is None and nullable:
                    return None
                report.type_error(path, value, "string")
                return value
            if fmt == "byte":
                try:  # Go's decoder skips line breaks; anything else must be padded base64
                    binascii.a2b_base64(value.replace("\n", "").replace("\r", "").encode("ascii"),
                                        strict_mode=True)
                except (ValueError, binascii.Error):
                    report.invalid(path, value, f"{path_text(path)} in body must be of type byte: {_shown(value)}")
            elif fmt == "date-time" and not _DATE_TIME.match(value):
                report.invalid(path, value, f"{path_text(path)} in body must be of type date-time: {_shown(value)}")
            return value
    elif kind == "integer":
        low, high = _LIMITS.get(fmt or "", (None, None))

        def check(value: Any, path: Path, report: Report) -> Any:
            cls = value.__class__
            if cls is not int:
                if cls is float and value.is_integer():
                    value = int(value)
                elif value is None and nullable:
                    return None
                else:
                    report.type_error(path, value, "integer")
                    return value
            if low is not None and not low <= value <= high:
                report.invalid(path, value, f"{path_text(path)} in body must be of type {fmt}: \"integer\"")
            return value
    elif kind == "number":
        def check(value: Any, path: Path, report: Report) -> Any:
            if value.__class__ not in (int, float):
                if value is None and nullable:
                    return None
                report.type_error(path, value, "number")
            return value
    elif kind == "boolean":
        def check(value: Any, path: Path, report: Report) -> Any:
            if value.__class__ is not bool:
                if value is None and nullable:
                    return None
                report.type_error(path, value, "boolean")
                return value
            return value
    else:
        return _any
    return check


def _int_or_string(value: Any, path: Path, report: Report) -> Any:
    cls = value.__class__
    if cls is str or cls is int or value is None:
        return value
    if cls is float and value.is_integer():
        return int(value)
    report.type_error(path, value, "integer or string")  # Kubernetes: x-kubernetes-int-or-string
    return value


_CANONICAL: dict[Any, str] = {}


def _quantity(value: Any, path: Path, report: Report) -> Any:
    """Quantities are stored canonical, as Kubernetes re-serialises them (``1000m`` -> ``1``)."""
    cls = value.__class__
    if cls is str or cls is int or cls is float:
        canonical = _CANONICAL.get(value) if cls is str else None
        if canonical is not None:
            return canonical
        try:
            canonical = str(parse_quantity(value))
        except QuantityError as error:
            report.invalid(path, value, str(error))
            return value
        if cls is str and len(_CANONICAL) < 4096:
            _CANONICAL[value] = canonical
        return canonical
    if value is None:
        return value
    report.type_error(path, value, "string or number")
    return value
