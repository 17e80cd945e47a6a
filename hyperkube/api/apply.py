"""Server-side apply and field ownership (``metadata.managedFields``).

Every write records who owns which fields. An *applier* (``kubectl apply --server-side``,
``application/apply-patch+yaml``) sends the fields it cares about; the server

1. works out the field set of that configuration (:func:`field_set`),
2. refuses, with 409 Conflict, to change a field another manager owns to a different value,
   unless ``force`` is given, which moves ownership to the applier,
3. merges the configuration into the live object (associative lists by their keys, sets as a
   union, atomic fields replaced), creating the object when there is none,
4. removes the fields this manager applied last time and no longer applies, unless another
   manager still owns them,
5. stores the new set as the manager's ``Apply`` entry.

Ordinary writes (create, update, non-apply patches) call :func:`record_update`: the writer
(``operation: Update``) takes the fields whose value it changed, away from everyone else, so a
later apply conflicts with them.

Field sets are sets of paths; a path is a tuple of elements ``("f", name)`` (a field),
``("k", '{"name":"c"}')`` (an associative-list item by its keys), ``("v", '"x"')`` (a set
member) or ``("i", 3)`` (a list index), stored in ``fieldsV1`` as Kubernetes writes it:
``{"f:spec":{"f:containers":{"k:{\\"name\\":\\"c\\"}":{".":{},"f:image":{}}}}}``. Which list is
associative, a set or atomic comes from the schema (``x-kubernetes-list-type``, map keys, and
the strategic merge metadata for older fields); lists the schema says nothing about are
atomic and maps granular, as in structured-merge-diff.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, NamedTuple

from hyperkube.api import schemas
from hyperkube.machinery.errors import Conflict
from hyperkube.machinery.jsonpatch import json_equal

__all__ = [
    "Shape", "ShapeLookup", "shape_for", "field_set", "to_fields_v1", "from_fields_v1", "path_string",
    "apply", "record_update", "managed_sets", "APPLY", "UPDATE",
]

APPLY, UPDATE = "Apply", "Update"
Element = tuple[str, Any]
Path = tuple[Element, ...]
# Fields nobody owns (Kubernetes strips them from every field set).
_UNOWNED: frozenset[Path] = frozenset({(("f", "apiVersion"),), (("f", "kind"),)} | {
    (("f", "metadata"), ("f", name)) for name in (
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "selfLink",
        "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "clusterName")})
# Map keys the server always defaults, so an applied item without them still finds its live twin.
_KEY_DEFAULTS = {"protocol": "TCP"}
_MISSING = object()


class Shape(NamedTuple):
    """How a field merges: ``granular`` (maps: per key), ``atomic`` (replaced whole),
    ``map`` (associative list keyed by ``keys``), ``set`` (list of unique scalars)."""

    kind: str
    keys: tuple[str, ...] = ()


ShapeLookup = Callable[[tuple[str, ...]], Shape]
_GRANULAR, _ATOMIC, _SET = Shape("granular"), Shape("atomic"), Shape("set")


def shape_for(group: str, version: str, kind: str) -> ShapeLookup:
    """The shape of every field of a kind, from its schema (built-in or CRD)."""
    @lru_cache(maxsize=2048)
    def lookup(path: tuple[str, ...]) -> Shape:
        schema = schemas.schema_at(group, version, kind, path) if path else None
        if schema is not None and schema.get("x-kubernetes-map-type") == "atomic":
            return _ATOMIC
        meta = schemas.patch_strategy(group, version, kind, path)
        if meta.list_type == "map" and (meta.map_keys or meta.merge_key):
            return Shape("map", meta.map_keys or (meta.merge_key or "",))
        if meta.list_type == "set":
            return _SET
        if meta.list_type is None and "merge" in (meta.strategy or ""):
            return Shape("map", (meta.merge_key,)) if meta.merge_key else _SET
        if meta.list_type == "atomic" or meta.list_type is not None:
            return _ATOMIC
        return _GRANULAR  # maps; lists without metadata are caught as atomic by the walkers
    return lookup


# ---- field sets ---------------------------------------------------------------------------------

def _key_of(item: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    key = {k: item[k] if k in item else _KEY_DEFAULTS.get(k, _MISSING) for k in keys}
    key = {k: v for k, v in key.items() if v is not _MISSING}
    return key or None


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _list_shape(items: list[Any], shape: Shape) -> Shape:
    """The shape a concrete list can take: keyed lists whose items lack keys become atomic."""
    if shape.kind == "map" and all(_key_of(i, shape.keys) for i in items):
        return shape
    if shape.kind == "set" and not any(isinstance(i, (dict, list)) for i in items):
        return shape
    return _ATOMIC


def field_set(obj: dict[str, Any], shape: ShapeLookup) -> set[Path]:
    """The paths of every leaf (and every associative-list item) of ``obj``."""
    out: set[Path] = set()
    _walk(obj, (), (), shape, out)
    return out - _UNOWNED


def _walk(value: Any, names: tuple[str, ...], path: Path, shape: ShapeLookup, out: set[Path]) -> None:
    if isinstance(value, dict):
        if path and (not value or shape(names).kind == "atomic"):
            out.add(path)
            return
        for key, item in value.items():
            if path == (("f", "metadata"),) and key == "managedFields":
                continue
            _walk(item, names + (key,), path + (("f", key),), shape, out)
    elif isinstance(value, list):
        form = _list_shape(value, shape(names)) if value else _ATOMIC
        if form.kind == "map":
            for item in value:
                item_path = path + (("k", _dump(_key_of(item, form.keys))),)
                out.add(item_path)
                for key, child in item.items():
                    _walk(child, names + (key,), item_path + (("f", key),), shape, out)
        elif form.kind == "set":
            out.update(path + (("v", _dump(item)),) for item in value)
        else:
            out.add(path)
    elif path:
        out.add(path)


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
            parts.append("[" + ",".join(f"{k}={_dump(v)}" for k, v in json.loads(value).items()) + "]")
        elif kind == "v":
            parts.append(f"[={value}]")
        else:
            parts.append(f"[{value}]")
    return "".join(parts)


# ---- reading and editing values by path ---------------------------------------------------------

def _find(items: list[Any], key: dict[str, Any]) -> int:
    for index, item in enumerate(items):
        if isinstance(item, dict) and all(
                json_equal(item.get(k, _KEY_DEFAULTS.get(k)), v) for k, v in key.items()):
            return index
    return -1


def _step(node: Any, element: Element) -> Any:
    kind, value = element
    if kind == "f":
        return node.get(value, _MISSING) if isinstance(node, dict) else _MISSING
    if not isinstance(node, list):
        return _MISSING
    if kind == "k":
        found = _find(node, json.loads(value))
        return node[found] if found >= 0 else _MISSING
    if kind == "v":
        wanted = json.loads(value)
        return wanted if any(json_equal(wanted, item) for item in node) else _MISSING
    return node[value] if 0 <= value < len(node) else _MISSING


def _value_at(obj: Any, path: Path) -> Any:
    node = obj
    for element in path:
        node = _step(node, element)
        if node is _MISSING:
            break
    return node


def _remove_at(obj: dict[str, Any], path: Path) -> None:
    parent = _value_at(obj, path[:-1])
    kind, value = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(value, None)
    elif isinstance(parent, list):
        if kind == "k":
            found = _find(parent, json.loads(value))
        elif kind == "v":
            found = next((i for i, item in enumerate(parent) if json_equal(item, json.loads(value))), -1)
        else:
            found = value if 0 <= value < len(parent) else -1
        if found >= 0:
            parent.pop(found)


# ---- managedFields ------------------------------------------------------------------------------

def managed_sets(obj: dict[str, Any] | None) -> list[tuple[dict[str, Any], set[Path]]]:
    """Each ``managedFields`` entry of ``obj`` with its parsed field set."""
    entries = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    return [(entry, from_fields_v1(entry.get("fieldsV1") or {})) for entry in entries if isinstance(entry, dict)]


def _identity(entry: dict[str, Any]) -> tuple[Any, ...]:
    operation = entry.get("operation")
    version = entry.get("apiVersion") if operation == UPDATE else None
    return entry.get("manager"), operation, version, entry.get("subresource", "")


def _entry(manager: str, operation: str, api_version: str, now: str, paths: set[Path],
           subresource: str) -> dict[str, Any]:
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now,
             "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}
    if subresource:
        entry["subresource"] = subresource
    return entry


def _store(obj: dict[str, Any], owners: list[tuple[dict[str, Any], set[Path]]]) -> None:
    entries = [{**entry, "fieldsV1": to_fields_v1(paths)} if entry.get("fieldsType") == "FieldsV1" else entry
               for entry, paths in owners if paths]
    metadata = obj.setdefault("metadata", {})
    if entries:
        metadata["managedFields"] = entries
    else:
        metadata.pop("managedFields", None)


def _manager_name(entry: dict[str, Any]) -> str:
    name = json.dumps(entry.get("manager", ""))
    return f"{name} using {entry.get('apiVersion', '')}" if entry.get("operation") == UPDATE else name


def _conflict_error(conflicts: list[tuple[dict[str, Any], Path]]) -> Conflict:
    count = len(conflicts)
    if count == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_manager_name(entry)}: {path_string(path)}"
    else:
        lines = []
        by_manager: dict[str, list[Path]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(_manager_name(entry), []).append(path)
        for name in sorted(by_manager):
            lines.append(f"conflicts with {name}:")
            lines += [f"- {path_string(p)}" for p in sorted(by_manager[name], key=path_string)]
        message = f"Apply failed with {count} conflicts: " + "\n".join(lines)
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {_manager_name(entry)}",
               "field": path_string(path)} for entry, path in conflicts]
    return Conflict(message, details={"causes": causes})


def _without(obj: dict[str, Any], ignored: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of ``obj`` without ``managedFields`` and without the ``ignored`` fields."""
    out = copy.deepcopy(obj)
    if isinstance(out.get("metadata"), dict):
        out["metadata"].pop("managedFields", None)
    for names in ignored:
        node: Any = out
        for name in names[:-1]:
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(names[-1], None)
    return out


def _ignored_path(path: Path, ignored: Iterable[tuple[str, ...]]) -> bool:
    return any(path[:len(prefix)] == tuple(("f", name) for name in prefix) for prefix in ignored)


def _prune_empty_maps(obj: dict[str, Any], path: Path, keep: set[Path]) -> None:
    """After a removal, drop the maps it left empty, unless someone owns them as they are."""
    while len(path) > 1:
        path = path[:-1]
        value = _value_at(obj, path)
        if not isinstance(value, dict) or value or path in keep or path[-1][0] != "f":
            return
        _remove_at(obj, path)


# ---- apply ---------------------------------------------------------------------------------------

def _merge(live: Any, config: Any, names: tuple[str, ...], shape: ShapeLookup) -> Any:
    if isinstance(live, dict) and isinstance(config, dict) and shape(names).kind != "atomic":
        out = dict(live)
        for key, value in config.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(live.get(key, _MISSING), value, names + (key,), shape)
        return out
    if isinstance(live, list) and isinstance(config, list):
        form = _list_shape(live + config, shape(names))
        if form.kind == "map":
            out = list(live)
            for item in config:
                found = _find(out, _key_of(item, form.keys) or {})
                if found >= 0:
                    out[found] = _merge(out[found], item, names, shape)
                else:
                    out.append(copy.deepcopy(item))
            return out
        if form.kind == "set":
            return list(live) + [v for v in config if not any(json_equal(v, x) for x in live)]
    return copy.deepcopy(config)


def apply(live: dict[str, Any] | None, config: dict[str, Any], manager: str, *, api_version: str,
          shape: ShapeLookup, now: str, force: bool = False, subresource: str = "",
          ignored: Iterable[tuple[str, ...]] = ()) -> dict[str, Any]:
    """The object after ``manager`` applies ``config`` to ``live`` (None: create it).

    ``ignored`` lists field-name prefixes the request may not set (``("status",)`` on the
    main resource): they are dropped from the configuration. Raises 409 Conflict."""
    ignored = tuple(ignored)
    config = _without(config, ignored)
    applied = field_set(config, shape)
    base = copy.deepcopy(live) if live is not None else {}
    owners = managed_sets(live)
    me = (manager, APPLY, None, subresource)
    previous = next((paths for entry, paths in owners if _identity(entry) == me), set())
    others = [(entry, paths) for entry, paths in owners if _identity(entry) != me]

    conflicts = []
    for path in sorted(applied, key=path_string):
        if path[-1][0] in ("k", "v"):
            continue
        wanted, current = _value_at(config, path), _value_at(base, path)
        if current is not _MISSING and json_equal(wanted, current):
            continue
        conflicts += [(entry, path) for entry, paths in others if path in paths]
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for entry, path in conflicts:
        next(paths for e, paths in others if e is entry).discard(path)

    result = _merge(_without(base, ()), config, (), shape)
    owned_elsewhere = set().union(*(paths for _, paths in others)) if others else set()
    for path in sorted(previous - applied, key=len, reverse=True):
        if _ignored_path(path, ignored) or any(p[:len(path)] == path for p in owned_elsewhere):
            continue
        _remove_at(result, path)
        _prune_empty_maps(result, path, applied | owned_elsewhere)

    if live is not None and json_equal(result, _without(live, ())) and previous == applied and not conflicts:
        return copy.deepcopy(live)  # a no-op apply keeps the object, timestamps included
    entry = _entry(manager, APPLY, api_version, now, applied, subresource)
    updated = [(e, p) for e, p in owners if _identity(e) != me]
    position = next((i for i, (e, _) in enumerate(owners) if _identity(e) == me), len(updated))
    updated.insert(position, (entry, applied))
    _store(result, updated)
    return result


def record_update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, *, api_version: str,
                  shape: ShapeLookup, now: str, subresource: str = "") -> dict[str, Any]:
    """``new`` with its ``managedFields`` after ``manager`` wrote it with an ordinary write.

    The incoming ``managedFields`` are ignored unless they differ from the stored ones (a
    client resetting them); ``[{}]`` clears them, as in Kubernetes."""
    result = copy.deepcopy(new)
    sent = (new.get("metadata") or {}).get("managedFields")
    stored = ((old or {}).get("metadata") or {}).get("managedFields")
    source = old
    if sent == [{}]:
        source = None
    elif sent and sent != stored:
        source = new
    owners = managed_sets(source)
    before = field_set(_without(old, ()), shape) if old is not None else set()
    after = field_set(_without(new, ()), shape)
    changed = {p for p in after if p not in before or p[-1][0] not in ("k", "v") and not json_equal(
        _value_at(new, p), _value_at(old, p))}
    removed = before - after
    me = (manager, UPDATE, api_version, subresource)
    mine: set[Path] = set()
    kept = []
    for entry, paths in owners:
        if _identity(entry) == me:
            mine = paths
        else:
            kept.append((entry, paths - changed - removed))
    mine = (mine | changed) - removed
    if not changed and not removed and _identity_in(owners, me):
        _store(result, [(e, p) for e, p in owners])
        return result
    position = next((i for i, (e, _) in enumerate(owners) if _identity(e) == me), len(kept))
    kept.insert(position, (_entry(manager, UPDATE, api_version, now, mine, subresource), mine))
    _store(result, kept)
    return result


def _identity_in(owners: list[tuple[dict[str, Any], set[Path]]], me: tuple[Any, ...]) -> bool:
    return any(_identity(entry) == me for entry, _ in owners)
