"""Field paths: how server-side apply names, collects and finds the fields of an object.

A path is a tuple of elements ``("f", name)`` (a field), ``("k", '{"name":"c"}')`` (an
associative-list item by its keys, as compact JSON with sorted keys), ``("v", '"x"')`` (a
member of a set, as JSON) or ``("i", 3)`` (a list index). A field set is a ``set`` of paths.
``fieldsV1`` is the same set as the tree Kubernetes stores in ``metadata.managedFields``
(``{"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{}}}}}``, where ``.``
marks a member that also has members below it), and :func:`path_string` prints a path as
Kubernetes does in conflict messages (``.spec.containers[name="c"].image``).

Which list is associative (and by which keys), a set, or atomic comes from the schema
(``x-kubernetes-list-type``, ``x-kubernetes-list-map-keys``, ``x-kubernetes-map-type``, and
the strategic-merge metadata of older fields); lists the schema says nothing about are atomic
and maps granular, as in structured-merge-diff. :func:`field_set` collects the leaves (and the
associative-list items) of an object; fields nobody may own (``apiVersion``, ``kind``,
``metadata.name``, ``metadata.uid`` ...) are left out, as Kubernetes strips them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, NamedTuple

from hyperkube.api import schemas
from hyperkube.machinery.jsonpatch import json_equal

__all__ = [
    "Element", "Path", "Shape", "ShapeLookup", "shape_for", "field_set", "field_values", "to_fields_v1", "from_fields_v1",
    "path_string", "value_at", "remove_at", "find_item", "key_of", "list_shape", "dump", "MISSING", "ATOMIC",
    "KEY_DEFAULTS",
]

Element = tuple[str, Any]
Path = tuple[Element, ...]
# Fields nobody owns (Kubernetes strips them from every field set).
_UNOWNED: frozenset[Path] = frozenset({(("f", "apiVersion"),), (("f", "kind"),)} | {
    (("f", "metadata"), ("f", name)) for name in (
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "selfLink",
        "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "clusterName")})
# Map keys the server always defaults, so an applied item without them still finds its live twin.
KEY_DEFAULTS = {"protocol": "TCP"}
MISSING = object()


class Shape(NamedTuple):
    """How a field merges: ``granular`` (maps: per key), ``atomic`` (replaced whole),
    ``map`` (associative list keyed by ``keys``), ``set`` (list of unique scalars)."""

    kind: str
    keys: tuple[str, ...] = ()


ShapeLookup = Callable[[tuple[str, ...]], Shape]
_GRANULAR, ATOMIC, _SET = Shape("granular"), Shape("atomic"), Shape("set")


def shape_for(group: str, version: str, kind: str) -> ShapeLookup:
    """The shape of every field of a kind, from its schema (built-in or CRD); cached per kind
    until a custom schema changes."""
    return _shape_for(group, version, kind, schemas.schemas_generation())


@lru_cache(maxsize=256)
def _shape_for(group: str, version: str, kind: str, generation: int) -> ShapeLookup:
    @lru_cache(maxsize=4096)
    def lookup(path: tuple[str, ...]) -> Shape:
        schema = schemas.schema_at(group, version, kind, path) if path else None
        if schema is not None and schema.get("x-kubernetes-map-type") == "atomic":
            return ATOMIC
        meta = schemas.patch_strategy(group, version, kind, path)
        if meta.list_type == "map" and (meta.map_keys or meta.merge_key):
            return Shape("map", meta.map_keys or (meta.merge_key or "",))
        if meta.list_type == "set":
            return _SET
        if meta.list_type is None and "merge" in (meta.strategy or ""):
            return Shape("map", (meta.merge_key,)) if meta.merge_key else _SET
        if meta.list_type == "atomic" or meta.list_type is not None:
            return ATOMIC
        return _GRANULAR  # maps; lists without metadata are caught as atomic by the walkers
    return lookup


# ---- field sets ---------------------------------------------------------------------------------

def key_of(item: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    key = {k: item[k] if k in item else KEY_DEFAULTS.get(k, MISSING) for k in keys}
    key = {k: v for k, v in key.items() if v is not MISSING}
    return key or None


def dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def list_shape(items: list[Any], shape: Shape) -> Shape:
    """The shape a concrete list can take: keyed lists whose items lack keys become atomic."""
    if shape.kind == "map" and all(key_of(i, shape.keys) for i in items):
        return shape
    if shape.kind == "set" and not any(isinstance(i, (dict, list)) for i in items):
        return shape
    return ATOMIC


def field_set(obj: dict[str, Any], shape: ShapeLookup) -> set[Path]:
    """The paths of every leaf (and every associative-list item) of ``obj``."""
    return set(field_values(obj, shape))


def field_values(obj: dict[str, Any], shape: ShapeLookup) -> dict[Path, Any]:
    """:func:`field_set` with each path's value (an item's value is the item), in one walk."""
    out: dict[Path, Any] = {}
    _walk(obj, (), (), shape, out)
    for path in _UNOWNED:
        out.pop(path, None)
    return out


def _walk(value: Any, names: tuple[str, ...], path: Path, shape: ShapeLookup, out: dict[Path, Any]) -> None:
    if isinstance(value, dict):
        if path and (not value or shape(names).kind == "atomic"):
            out[path] = value
            return
        for key, item in value.items():
            if path == (("f", "metadata"),) and key == "managedFields":
                continue
            _walk(item, names + (key,), path + (("f", key),), shape, out)
    elif isinstance(value, list):
        form = list_shape(value, shape(names)) if value else ATOMIC
        if form.kind == "map":
            for item in value:
                item_path = path + (("k", dump(key_of(item, form.keys))),)
                out[item_path] = item
                for key, child in item.items():
                    _walk(child, names + (key,), item_path + (("f", key),), shape, out)
        elif form.kind == "set":
            for item in value:
                out[path + (("v", dump(item)),)] = item
        else:
            out[path] = value
    elif path:
        out[path] = value


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """A set of paths as the ``fieldsV1`` tree (``.`` marks a path that has children too)."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for kind, value in path:
            node = node.setdefault(f"{kind}:{value}", {})
        node["."] = {}
    return _tidy(tree)


def _tidy(node: dict[str, Any]) -> dict[str, Any]:
    """Leaves are ``{}``; a node that is both a member and a parent keeps ``"."`` first."""
    children = {k: _tidy(v) for k, v in sorted(node.items()) if k != "."}
    if not children:
        return {}
    return {".": {}, **children} if "." in node else children


def from_fields_v1(tree: dict[str, Any]) -> set[Path]:
    out: set[Path] = set()

    def visit(node: dict[str, Any], path: Path) -> None:
        if path and (not node or "." in node):
            out.add(path)
        for name, child in node.items():
            if name == "." or not isinstance(child, dict):
                continue
            kind, _, value = name.partition(":")
            visit(child, path + ((kind, int(value) if kind == "i" else value),))
    if isinstance(tree, dict):
        visit(tree, ())
    return out


def path_string(path: Path) -> str:
    """``.spec.containers[name="c"].image``, the way Kubernetes prints a field path."""
    parts = []
    for kind, value in path:
        if kind == "f":
            parts.append(f".{value}")
        elif kind == "k":
            parts.append("[" + ",".join(f"{k}={dump(v)}" for k, v in json.loads(value).items()) + "]")
        elif kind == "v":
            parts.append(f"[={value}]")
        else:
            parts.append(f"[{value}]")
    return "".join(parts)


# ---- reading and editing values by path ---------------------------------------------------------

def find_item(items: list[Any], key: dict[str, Any]) -> int:
    for index, item in enumerate(items):
        if isinstance(item, dict) and all(
                json_equal(item.get(k, KEY_DEFAULTS.get(k)), v) for k, v in key.items()):
            return index
    return -1


def _step(node: Any, element: Element) -> Any:
    kind, value = element
    if kind == "f":
        return node.get(value, MISSING) if isinstance(node, dict) else MISSING
    if not isinstance(node, list):
        return MISSING
    if kind == "k":
        found = find_item(node, json.loads(value))
        return node[found] if found >= 0 else MISSING
    if kind == "v":
        wanted = json.loads(value)
        return wanted if any(json_equal(wanted, item) for item in node) else MISSING
    return node[value] if 0 <= value < len(node) else MISSING


def value_at(obj: Any, path: Path) -> Any:
    node = obj
    for element in path:
        node = _step(node, element)
        if node is MISSING:
            break
    return node


def remove_at(obj: dict[str, Any], path: Path) -> None:
    parent = value_at(obj, path[:-1])
    kind, value = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(value, None)
    elif isinstance(parent, list):
        if kind == "k":
            found = find_item(parent, json.loads(value))
        elif kind == "v":
            found = next((i for i, item in enumerate(parent) if json_equal(item, json.loads(value))), -1)
        else:
            found = value if 0 <= value < len(parent) else -1
        if found >= 0:
            parent.pop(found)
