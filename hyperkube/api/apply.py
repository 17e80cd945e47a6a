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

Field paths, field sets and ``fieldsV1`` live in :mod:`hyperkube.api.fieldpaths`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from typing import Any

from hyperkube.api.fieldpaths import (
    MISSING,
    Path,
    Shape,
    ShapeLookup,
    dump,
    field_set,
    field_values,
    from_fields_v1,
    key_of,
    list_shape,
    path_string,
    remove_at,
    shape_for,
    to_fields_v1,
    value_at,
)
from hyperkube.machinery.errors import Conflict
from hyperkube.machinery.jsonpatch import json_equal

__all__ = ["apply", "record_update", "managed_sets", "APPLY", "UPDATE",
           "Shape", "ShapeLookup", "shape_for", "field_set", "to_fields_v1", "from_fields_v1", "path_string"]

APPLY, UPDATE = "Apply", "Update"


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


def _store(obj: dict[str, Any], owners: list[tuple[dict[str, Any], set[Path]]],
           current: frozenset[int] = frozenset()) -> None:
    """Write ``owners`` as ``managedFields``; entries whose ``id`` is in ``current`` already carry
    the fieldsV1 of their paths (rebuilding it is most of the cost of recording a write)."""
    entries = [{**entry, "fieldsV1": to_fields_v1(paths)}
               if entry.get("fieldsType") == "FieldsV1" and id(entry) not in current else entry
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


def _unmanaged(obj: dict[str, Any]) -> dict[str, Any]:
    """A shallow view of ``obj`` without ``metadata.managedFields`` (for comparisons)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


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


def _is_item_key(path: Path) -> bool:
    """A key field of an associative-list item: it goes with the item, never alone."""
    return len(path) > 1 and path[-2][0] == "k" and path[-1][0] == "f" and path[-1][1] in json.loads(path[-2][1])


def _prune_empty(obj: dict[str, Any], path: Path, keep: set[Path]) -> None:
    """After a removal, drop the fields (maps, lists) it left empty, unless someone owns them."""
    while len(path) > 1:
        path = path[:-1]
        value = value_at(obj, path)
        if not isinstance(value, (dict, list)) or value or path in keep or path[-1][0] != "f":
            return
        remove_at(obj, path)


# ---- apply ---------------------------------------------------------------------------------------

def _merge(live: Any, config: Any, names: tuple[str, ...], shape: ShapeLookup) -> Any:
    if isinstance(live, dict) and isinstance(config, dict) and shape(names).kind != "atomic":
        out = dict(live)
        for key, value in config.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(live.get(key, MISSING), value, names + (key,), shape)
        return out
    if isinstance(live, list) and isinstance(config, list):
        form = list_shape(live + config, shape(names))
        if form.kind == "map":
            return _merge_items(live, config, lambda item: dump(key_of(item, form.keys)),
                                lambda old, new: _merge(old, new, names, shape))
        if form.kind == "set":
            return _merge_items(live, config, dump, lambda old, new: new)
    return copy.deepcopy(config)


def _merge_items(live: list[Any], config: list[Any], key: Callable[[Any], str],
                 merge: Callable[[Any, Any], Any]) -> list[Any]:
    """Associative lists and sets, ordered as structured-merge-diff orders them: live-only
    items keep their place, items the configuration names follow its order."""
    live_keys, config_keys = [key(item) for item in live], [key(item) for item in config]
    by_key = dict(zip(live_keys, live, strict=True))
    named = set(config_keys)
    out: list[Any] = []
    seen: set[str] = set()
    i = j = 0
    while i < len(live) or j < len(config):
        if i < len(live) and live_keys[i] in seen:
            i += 1
        elif i < len(live) and j < len(config) and live_keys[i] == config_keys[j]:
            out.append(merge(live[i], config[j]))
            seen.add(live_keys[i])
            i += 1
            j += 1
        elif i < len(live) and live_keys[i] not in named:
            out.append(live[i])
            seen.add(live_keys[i])
            i += 1
        elif j < len(config):
            if config_keys[j] not in seen:
                found = by_key.get(config_keys[j], MISSING)
                out.append(copy.deepcopy(config[j]) if found is MISSING else merge(found, config[j]))
                seen.add(config_keys[j])
            j += 1
        else:
            i += 1
    return out


def apply(live: dict[str, Any] | None, config: dict[str, Any], manager: str, *, api_version: str,
          shape: ShapeLookup, now: str, force: bool = False, subresource: str = "",
          ignored: Iterable[tuple[str, ...]] = ()) -> dict[str, Any]:
    """The object after ``manager`` applies ``config`` to ``live`` (None: create it).

    ``ignored`` lists field-name prefixes the request may not set (``("status",)`` on the
    main resource): they are dropped from the configuration. Raises 409 Conflict."""
    ignored = tuple(ignored)
    config = _without(config, ignored)
    applied = field_set(config, shape)
    base = _without(live, ()) if live is not None else {}  # our copy: removals below edit it
    owners = managed_sets(live)
    me = (manager, APPLY, None, subresource)
    previous = next((paths for entry, paths in owners if _identity(entry) == me), set())
    others = [(entry, paths) for entry, paths in owners if _identity(entry) != me]

    conflicts = []
    contested = applied & set().union(*(paths for _, paths in others))
    if contested:
        wanted_values = field_values(config, shape)
        live_values = field_values(base, shape)
        for path in sorted(contested, key=path_string):
            if path[-1][0] in ("k", "v"):
                continue
            current = live_values.get(path, MISSING)
            if current is not MISSING and json_equal(wanted_values[path], current):
                continue
            conflicts += [(entry, path) for entry, paths in others if path in paths]
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for entry, path in conflicts:
        next(paths for e, paths in others if e is entry).discard(path)

    result = _merge(base, config, (), shape)
    owned_elsewhere = set().union(*(paths for _, paths in others)) if others else set()
    for path in sorted(previous - applied, key=len):  # an item before its fields
        if _ignored_path(path, ignored) or _is_item_key(path) or any(
                p[:len(path)] == path for p in owned_elsewhere):
            continue
        remove_at(result, path)
        _prune_empty(result, path, applied | owned_elsewhere)

    if live is not None and json_equal(result, _unmanaged(live)) and previous == applied and not conflicts:
        return copy.deepcopy(live)  # a no-op apply keeps the object, timestamps included
    entry = _entry(manager, APPLY, api_version, now, applied, subresource)
    updated = [(e, p) for e, p in owners if _identity(e) != me]
    position = next((i for i, (e, _) in enumerate(owners) if _identity(e) == me), len(updated))
    updated.insert(position, (entry, applied))
    _store(result, updated, frozenset({id(entry)}))
    return result


def record_update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, *, api_version: str,
                  shape: ShapeLookup, now: str, subresource: str = "") -> dict[str, Any]:
    """``new`` with its ``managedFields`` after ``manager`` wrote it with an ordinary write.

    The incoming ``managedFields`` are ignored unless they differ from the stored ones (a
    client resetting them); ``[{}]`` clears them, as in Kubernetes. The result shares all but
    its ``metadata`` with ``new``."""
    result = {**new, "metadata": dict(new.get("metadata") or {})}
    sent = (new.get("metadata") or {}).get("managedFields")
    stored = ((old or {}).get("metadata") or {}).get("managedFields")
    source = old
    if sent == [{}]:
        source = None
    elif sent and sent != stored:
        source = new
    owners = managed_sets(source)
    before = field_values(old, shape) if old is not None else {}  # the walk skips managedFields
    after = field_values(new, shape)
    changed = {p for p, value in after.items() if p not in before or p[-1][0] not in ("k", "v") and not json_equal(
        value, before[p])}
    removed = before.keys() - after.keys()
    me = (manager, UPDATE, api_version, subresource)
    mine: set[Path] = set()
    kept = []
    # stored entries are already in normal form: only those that lose fields are rebuilt
    current = {id(entry) for entry, _ in owners} if source is old else set()
    for entry, paths in owners:
        if _identity(entry) == me:
            mine = paths
        else:
            trimmed = paths - changed - removed
            if len(trimmed) != len(paths):
                current.discard(id(entry))
            kept.append((entry, trimmed))
    mine = (mine | changed) - removed
    if not changed and not removed and _identity_in(owners, me):
        _store(result, [(e, p) for e, p in owners], frozenset(current))
        return result
    position = next((i for i, (e, _) in enumerate(owners) if _identity(e) == me), len(kept))
    entry = _entry(manager, UPDATE, api_version, now, mine, subresource)
    kept.insert(position, (entry, mine))
    _store(result, kept, frozenset(current | {id(entry)}))
    return result


def _identity_in(owners: list[tuple[dict[str, Any], set[Path]]], me: tuple[Any, ...]) -> bool:
    return any(_identity(entry) == me for entry, _ in owners)
