"""Schemas of every served kind: one source for field validation, pruning, strategic merge
patch metadata and ``/openapi/v3``.

Built-in kinds come from the Kubernetes OpenAPI definitions that the ``kubernetes-validate``
package ships as JSON Schema (``_definitions.json``: every definition under ``$defs``, with
``x-kubernetes-group-version-kind``, patch merge keys and strategies, list types and
descriptions). Nothing here is hand-written per kind. Custom resources add their
``openAPIV3Schema`` with :func:`register_schema`.

The ~2 MB file is read lazily, once, under a lock: call :func:`warm_up` in a thread at server
start so the first request on the event loop does not pay for it. A kind's validator is
compiled on first use (``hyperkube.api._validator``) and cached.

Field validation in one walk (:func:`validate`): type errors become 422 causes, unknown fields
are collected and pruned, nulls in structs are dropped, quantities canonicalised. Duplicate
fields can only be seen while decoding, so :func:`decode_json` reports them and
:func:`validate` takes them in. What the server does with the result::

    obj, duplicates = decode_json(body)               # malformed -> ValueError -> 400
    result = validate(group, version, kind, obj, mode, duplicates)
    warnings = result.raise_for(mode, kind, name, version)   # 400 strict / 422 invalid
    # warnings: ['unknown field "spec.foo"'] -> Warning: 299 - "..." headers under Warn
"""

from __future__ import annotations

import importlib.resources
import json
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from hyperkube.api._validator import Check, Compiler, Report
from hyperkube.machinery.errors import BadRequest, Invalid, cause

__all__ = [
    "warm_up", "definitions", "definition_name", "schema_for", "register_schema", "unregister_schema",
    "custom_schemas", "validate", "ValidationResult", "decode_json", "normalize_field_validation",
    "PatchMeta", "patch_strategy", "schema_at", "resolve", "schemas_generation", "SCHEMA_VERSION",
    "FIELD_VALIDATIONS",
]

SCHEMA_VERSION = "v1.37.0"
FIELD_VALIDATIONS = ("Strict", "Warn", "Ignore")


class _Store:
    """Loaded definitions, the GVK index, custom schemas and compiled checks."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.defs: dict[str, dict[str, Any]] | None = None
        self.by_gvk: dict[tuple[str, str, str], str] = {}
        self.custom: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.checks: dict[tuple[str, str, str], Check | None] = {}
        self.compiler: Compiler | None = None
        self.generation = 0  # bumped when a custom schema changes (openapi caches watch it)

    def load(self) -> dict[str, dict[str, Any]]:
        defs = self.defs
        if defs is not None:
            return defs
        with self.lock:
            if self.defs is None:
                raw = orjson.loads(_definitions_path().read_bytes())["$defs"]
                index: dict[tuple[str, str, str], str] = {}
                for name, schema in raw.items():
                    for gvk in schema.get("x-kubernetes-group-version-kind") or ():
                        key = (gvk.get("group", ""), gvk["version"], gvk["kind"])
                        # several definitions may claim a GVK (DeleteOptions ...): prefer the one
                        # whose name is <group package>.<version>.<kind>
                        if key not in index or name.endswith(f".{key[1]}.{key[2]}"):
                            index[key] = name
                self.by_gvk = index
                self.compiler = Compiler(raw.get)
                self.defs = raw
            return self.defs


_store = _Store()


def _definitions_path() -> Any:
    base = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    preferred = base / f"{SCHEMA_VERSION}-local-strict" / "_definitions.json"
    if preferred.is_file():
        return preferred
    candidates = sorted((d for d in base.iterdir() if d.name.endswith("-local-strict")),
                        key=lambda d: tuple(int(p) for p in d.name[1:].split("-")[0].split(".")))
    return candidates[-1] / "_definitions.json"


def warm_up() -> None:
    """Load the definitions (blocking, ~0.1 s): run it in a thread before serving."""
    _store.load()


def definitions() -> dict[str, dict[str, Any]]:
    """Every built-in definition by its OpenAPI name (``io.k8s.api.core.v1.Pod``). Read-only."""
    return _store.load()


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The built-in definition of a GVK, e.g. ``("", "v1", "Pod")`` -> ``io.k8s.api.core.v1.Pod``."""
    _store.load()
    return _store.by_gvk.get((group, version, kind))


def schema_for(group: str, version: str, kind: str) -> dict[str, Any] | None:
    """The raw schema of a kind: a registered custom schema, else the built-in definition."""
    custom = _store.custom.get((group, version, kind))
    if custom is not None:
        return custom
    name = definition_name(group, version, kind)
    return None if name is None else _store.load()[name]


def register_schema(group: str, version: str, kind: str, schema: dict[str, Any]) -> None:
    """Serve ``schema`` (a CRD version's ``openAPIV3Schema``) for a GVK; replaces an earlier one.

    CRD rules apply: ``apiVersion``, ``kind`` and ``metadata`` (always ObjectMeta) are implied
    at the top; objects without properties prune their fields unless they set
    ``x-kubernetes-preserve-unknown-fields``; ``nullable`` keeps null; ``default`` fills missing
    fields; enum, minimum/maximum, min/maxLength, pattern, min/maxItems, uniqueItems and
    min/maxProperties are checked (``hyperkube.api._constraints``). Not yet: CEL
    ``x-kubernetes-validations``, ``oneOf``/``anyOf``/``allOf``/``not``, list-map key uniqueness."""
    with _store.lock:
        _store.custom[(group, version, kind)] = schema
        _store.checks.pop((group, version, kind), None)
        _store.generation += 1


def unregister_schema(group: str, version: str, kind: str) -> None:
    with _store.lock:
        if _store.custom.pop((group, version, kind), None) is not None:
            _store.checks.pop((group, version, kind), None)
            _store.generation += 1


def custom_schemas() -> dict[tuple[str, str, str], dict[str, Any]]:
    return dict(_store.custom)


def schemas_generation() -> int:
    return _store.generation


# ---- validation --------------------------------------------------------------------------------

def _check_for(group: str, version: str, kind: str) -> Check | None:
    key = (group, version, kind)
    try:
        return _store.checks[key]
    except KeyError:
        pass
    defs = _store.load()
    assert _store.compiler is not None
    with _store.lock:
        custom = _store.custom.get(key)
        if custom is not None:
            check: Check | None = Compiler(defs.get, crd=True, refs=_store.compiler).compile(custom, top=True)
        else:
            name = _store.by_gvk.get(key)
            check = None if name is None else _store.compiler.compile(defs[name], top=True)
        _store.checks[key] = check
        return check


@dataclass
class ValidationResult:
    """``obj`` is the validated object, pruned in place; ``known`` is False for a GVK without a
    schema (nothing was checked)."""

    obj: Any
    causes: list[dict[str, str]] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)
    duplicate_fields: list[str] = field(default_factory=list)
    known: bool = True

    @property
    def strict_errors(self) -> list[str]:
        """``duplicate field "x"`` and ``unknown field "spec.foo"``, Kubernetes' wording."""
        return ([f'duplicate field "{p}"' for p in self.duplicate_fields]
                + [f'unknown field "{p}"' for p in self.unknown_fields])

    def raise_for(self, field_validation: str, kind: str, name: str = "", version: str = "v1",
                  group: str = "") -> list[str]:
        """Raise what the API answers, or return the warnings to send as ``Warning`` headers.

        Strict with unknown/duplicate fields: 400 ``Pod in version "v1" cannot be handled as a
        Pod: strict decoding error: unknown field "spec.foo"``. Type errors: 422 Invalid, one cause
        per field. Warn: the strict errors come back as warnings. Ignore: nothing."""
        strict = self.strict_errors
        if strict and field_validation == "Strict":
            raise BadRequest(f'{kind} in version "{version}" cannot be handled as a {kind}: '
                             f"strict decoding error: {', '.join(strict)}")
        if self.causes:
            raise Invalid.for_object(kind, name, self.causes, group)
        return strict if field_validation == "Warn" else []


def normalize_field_validation(value: str | None) -> str:
    """The ``fieldValidation`` query parameter; unset means Warn, as in Kubernetes >= 1.27."""
    if not value:
        return "Warn"
    for known in FIELD_VALIDATIONS:
        if value.lower() == known.lower():
            return known
    raise BadRequest(f'fieldValidation parameter unsupported: "{value}", must be one of Strict, Warn, Ignore')


def validate(group: str, version: str, kind: str, obj: Any, field_validation: str = "Strict",
             duplicates: Iterable[str] = ()) -> ValidationResult:
    """Type-check ``obj`` against its kind's schema and prune it (in place) in one walk."""
    check = _check_for(group, version, kind)
    result = ValidationResult(obj, duplicate_fields=list(duplicates) if field_validation != "Ignore" else [])
    if check is None:
        result.known = False
        return result
    report = Report(collect_unknown=field_validation != "Ignore")
    if obj.__class__ is not dict:
        result.causes.append(cause("", f"Invalid value: \"{type(obj).__name__}\": body must be of type object",
                                   "FieldValueTypeInvalid"))
        return result
    try:
        check(obj, None, report)
    except RecursionError:  # only a pathologically nested preserve-unknown/JSONSchemaProps body
        report.causes.append(cause("", 'Invalid value: "object": the object is nested too deeply'))
    result.causes = report.causes
    result.unknown_fields = report.unknown
    return result


def decode_json(body: bytes | str) -> tuple[Any, list[str]]:
    """Decode a JSON body and return ``(obj, duplicate_field_paths)``. Malformed JSON raises
    ``ValueError``. Duplicates are the only thing orjson cannot see, so this uses the stdlib
    decoder with a pairs hook; the paths are worked out only when a duplicate exists."""
    found: dict[int, list[str]] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):
            seen: set[str] = set()
            found[id(out)] = [k for k, _ in items if k in seen or seen.add(k)]  # type: ignore[func-returns-value]
        return out

    try:
        obj = json.loads(body, object_pairs_hook=pairs, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("the JSON body is nested too deeply") from None
    if not found:
        return obj, []
    paths: list[str] = []

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict):
            for key in found.get(id(value), ()):
                paths.append(f"{prefix}.{key}" if prefix else key)
            for key, item in value.items():
                walk(item, f"{prefix}.{key}" if prefix else key)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{prefix}[{index}]")

    try:
        walk(obj, "")
    except RecursionError:
        raise ValueError("the JSON body is nested too deeply") from None
    return obj, paths


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"number out of range: {text}")  # 1e400 would come back as null
    return number


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON value {name}")  # NaN and Infinity are not JSON


# ---- navigation: strategic merge patch metadata, field schemas ---------------------------------

class PatchMeta(NamedTuple):
    """Strategic-merge-patch metadata of one field (None where the schema says nothing)."""

    merge_key: str | None
    strategy: str | None  # "merge", "replace", "retainKeys", "merge,retainKeys"
    list_type: str | None  # "atomic", "set", "map"
    map_keys: tuple[str, ...] = ()


def resolve(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """Follow ``$ref``s (to built-in definitions) until a schema with content is reached."""
    defs = _store.load()
    while schema is not None and "$ref" in schema:
        schema = defs.get(schema["$ref"].rpartition("/")[2])
    return schema


def _split(path: str | Sequence[str]) -> tuple[str, ...]:
    return tuple(p for p in path.split(".") if p) if isinstance(path, str) else tuple(path)


@lru_cache(maxsize=4096)
def _field(group: str, version: str, kind: str, path: tuple[str, ...], generation: int) -> dict[str, Any] | None:
    current: dict[str, Any] | None = schema_for(group, version, kind)
    for segment in path:
        body = resolve(current)
        while body is not None and _is_array(body):
            body = resolve(body.get("items"))
        if body is None:
            return None
        properties = body.get("properties") or {}
        if segment in properties:
            current = properties[segment]
        elif isinstance(body.get("additionalProperties"), dict):
            current = body["additionalProperties"]
        else:
            return None
    return current


def _is_array(schema: dict[str, Any]) -> bool:
    declared = schema.get("type")
    return declared == "array" or (isinstance(declared, list) and "array" in declared)


def schema_at(group: str, version: str, kind: str, path: str | Sequence[str]) -> dict[str, Any] | None:
    """The schema of the field at ``path`` (``"spec.containers.ports"``: arrays are stepped
    through, map values reached by any key), with its ``$ref`` resolved; the field's own
    description and ``x-kubernetes-*`` keys win over the referenced definition's."""
    raw = _field(group, version, kind, _split(path), _store.generation)
    if raw is None:
        return None
    target = resolve(raw) or {}
    return {**target, **{k: v for k, v in raw.items() if k != "$ref"}} if "$ref" in raw else raw


def patch_strategy(group: str, version: str, kind: str, path: str | Sequence[str]) -> PatchMeta:
    """``patch_strategy("", "v1", "Pod", "spec.containers")`` -> ``PatchMeta("name", "merge", "map",
    ("name",))``. Unknown paths give all None."""
    raw = _field(group, version, kind, _split(path), _store.generation)
    if raw is None:
        return PatchMeta(None, None, None)
    return PatchMeta(raw.get("x-kubernetes-patch-merge-key"), raw.get("x-kubernetes-patch-strategy"),
                     raw.get("x-kubernetes-list-type"), tuple(raw.get("x-kubernetes-list-map-keys") or ()))
