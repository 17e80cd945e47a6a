"""Strategic merge patch (``application/strategic-merge-patch+json``), driven by the schemas.

A JSON merge patch replaces lists; a strategic merge patch merges them where the field's
schema says ``x-kubernetes-patch-strategy: merge``: lists of objects by their
``x-kubernetes-patch-merge-key`` (containers, env and volumes by ``name``, volumeMounts by
``mountPath``, container ports by ``containerPort``, conditions by ``type`` ...), lists of
scalars (``metadata.finalizers``) as a union. Other lists are replaced, maps merge, ``null``
deletes. The metadata comes from :func:`hyperkube.api.schemas.patch_strategy`; nothing is
written per kind. Kinds without built-in metadata (custom resources) get RFC 7386 merge-patch
semantics, as the brief for this server asks.

Directives, with the semantics of Kubernetes' apimachinery ``strategicpatch`` package:

* ``$patch: replace`` in a map: the map is replaced by the rest of the patch map; as a list
  item: the list is replaced by the patch's other items.
* ``$patch: delete`` in a map: the map becomes empty; as a list item: every item with that
  merge key is removed. ``$patch: merge`` is the default and is accepted as a no-op.
* ``$setElementOrder/<list>``: the order of the merged list (items the patch does not name keep
  their place relative to the live order).
* ``$retainKeys``: keys of the map not listed are cleared (used by ``retainKeys`` fields such
  as a Deployment's ``spec.strategy`` and each volume's source).
* ``$deleteFromPrimitiveList/<list>``: these values are removed from a merged scalar list.

Order of merged lists follows apimachinery: items named by the patch come in the patch's (or
``$setElementOrder``'s) order, live-only items keep their relative live position, and an item
new to the list goes before the live-only items that follow it.

The creation side is what ``kubectl apply`` (client side) computes:
:func:`create_three_way_patch` (last-applied, new file, live) and :func:`create_two_way_patch`.
Errors are API errors: malformed directives are 400 BadRequest, lists of lists 422.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hyperkube.api import schemas
from hyperkube.api.schemas import PatchMeta
from hyperkube.machinery.errors import BadRequest, Invalid
from hyperkube.machinery.jsonpatch import json_equal
from hyperkube.machinery.mergepatch import apply_merge_patch, create_merge_patch, create_three_way_merge_patch

__all__ = [
    "Lookup", "lookup_for", "apply_strategic_patch", "strategic_merge", "create_two_way_patch",
    "create_three_way_patch", "StrategicPatchError",
]

Lookup = Callable[[tuple[str, ...]], PatchMeta]

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder/"
DELETE_FROM = "$deleteFromPrimitiveList/"
_MISSING = object()


class StrategicPatchError(BadRequest):
    """A patch the strategic merge cannot apply (400, apimachinery's wording)."""


def _lists_of_lists() -> Invalid:
    """422 with Kubernetes' generic wording (its ErrNoListOfLists gets no details either)."""
    return Invalid("the server rejected our request due to an error in our request")


def lookup_for(group: str, version: str, kind: str) -> Lookup | None:
    """The patch-metadata lookup of a built-in kind; ``None`` for custom resources and
    unknown kinds, which take merge-patch semantics."""
    if (group, version, kind) in schemas.custom_schemas() or schemas.definition_name(group, version, kind) is None:
        return None

    def lookup(path: tuple[str, ...]) -> PatchMeta:
        return schemas.patch_strategy(group, version, kind, path)
    return lookup


def apply_strategic_patch(original: dict[str, Any], patch: Any, group: str, version: str,
                          kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch to a copy of ``original`` for the kind (group, version, kind)."""
    if not isinstance(patch, dict):
        raise StrategicPatchError("invalid JSON document" if not isinstance(patch, list) else
                                  "strategic merge patch format is not supported")
    lookup = lookup_for(group, version, kind)
    if lookup is None:
        return apply_merge_patch(original, patch)
    return strategic_merge(original, patch, lookup)


def strategic_merge(original: dict[str, Any], patch: dict[str, Any], lookup: Lookup) -> dict[str, Any]:
    """The pure engine: ``lookup(("spec", "containers"))`` gives a field's patch metadata."""
    return _merge_map(copy.deepcopy(original) if isinstance(original, dict) else {}, copy.deepcopy(patch), (),
                      lookup)


# ---- applying ----------------------------------------------------------------------------------

def _strategies(meta: PatchMeta) -> set[str]:
    return set((meta.strategy or "").split(","))


def _list_key(name: str, prefix: str) -> str:
    field = name[len(prefix):]
    if not field:
        raise StrategicPatchError("invalid patch format of setElementOrder list" if prefix == SET_ORDER else
                                  "invalid patch format of primitive list")
    return field


def _merge_map(original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...],
               lookup: Lookup) -> dict[str, Any]:
    """Merge ``patch`` into ``original`` (both private copies, both consumed)."""
    if PATCH in patch:
        directive = patch.pop(PATCH)
        if directive == "replace":
            return _merge_map({}, patch, path, lookup)
        if directive == "delete":
            return {}
        if directive != "merge":
            raise StrategicPatchError(f"unknown patch type: {directive} in map: {patch}")
    if RETAIN_KEYS in patch:
        _retain_keys(original, patch, patch.pop(RETAIN_KEYS))
    for key in [k for k in patch if k.startswith(SET_ORDER)]:
        _apply_element_order(original, patch, key, path, lookup)
    for key, value in patch.items():
        if key.startswith(DELETE_FROM):
            field = _list_key(key, DELETE_FROM)
            if not isinstance(value, list):
                raise StrategicPatchError("invalid patch format of primitive list")
            current = original.get(field)
            if isinstance(current, list):
                original[field] = [item for item in current if not any(json_equal(item, v) for v in value)]
            continue
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key, _MISSING)
        child = path + (key,)
        if isinstance(value, dict):
            replace = "replace" in _strategies(lookup(child))
            base = current if isinstance(current, dict) and not replace else {}
            original[key] = _merge_map(base, value, child, lookup)
        elif isinstance(value, list):
            base = current if isinstance(current, list) else []
            original[key] = _merge_list(base, value, child, lookup)
        else:
            original[key] = value
    return original


def _retain_keys(original: dict[str, Any], patch: dict[str, Any], retain: Any) -> None:
    if not isinstance(retain, list):
        raise StrategicPatchError("invalid patch format of retainKeys")
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM, SET_ORDER)) or key == PATCH:
            continue
        if key not in retain:
            raise StrategicPatchError("invalid patch format of retainKeys")
    for key in list(original):
        if key not in retain:
            del original[key]


def _apply_element_order(original: dict[str, Any], patch: dict[str, Any], directive: str,
                         path: tuple[str, ...], lookup: Lookup) -> None:
    order = patch.pop(directive)
    field = _list_key(directive, SET_ORDER)
    if not isinstance(order, list):
        raise StrategicPatchError("invalid patch format of setElementOrder list")
    live = original.get(field, _MISSING)
    change = patch.pop(field, _MISSING)
    if live is not _MISSING and not isinstance(live, list) or change is not _MISSING and not isinstance(change, list):
        raise StrategicPatchError("invalid patch format of setElementOrder list")
    meta = lookup(path + (field,))
    merge_key = meta.merge_key if "merge" in _strategies(meta) else None
    if change is not _MISSING:
        _check_order(change, order, merge_key)
    if live is _MISSING and change is _MISSING:
        return
    before = [] if live is _MISSING else list(live)
    merged = before if change is _MISSING else _merge_list(list(before), change, path + (field,), lookup)
    key = merge_key if _is_map_list(merged) else None
    in_order, server_only = _partition(merged, order, key)
    original[field] = _merge_sorted(_sort_by(server_only, before, key), _sort_by(in_order, order, key), before, key)


def _check_order(change: list[Any], order: list[Any], merge_key: str | None) -> None:
    """Items of the patch list must appear in ``$setElementOrder`` in the same relative order."""
    items = [i for i in change if not (isinstance(i, dict) and PATCH in i)]
    if not items or not order:
        return
    position = 0
    for wanted in order:
        if position < len(items) and _same(items[position], wanted, merge_key if isinstance(wanted, dict) else None):
            position += 1
    if position < len(items):
        raise StrategicPatchError(f"The order in patch list:\n{change}\n doesn't match $setElementOrder list:\n{order}\n")


def _is_map_list(items: list[Any]) -> bool:
    return any(isinstance(item, dict) for item in items)


def _same(left: Any, right: Any, merge_key: str | None) -> bool:
    if merge_key is None:
        return json_equal(left, right)
    return (isinstance(left, dict) and isinstance(right, dict) and merge_key in left and merge_key in right
            and json_equal(left[merge_key], right[merge_key]))


def _index(items: list[Any], item: Any, merge_key: str | None) -> int:
    for position, candidate in enumerate(items):
        if _same(candidate, item, merge_key):
            return position
    return -1


def _partition(items: list[Any], by: list[Any], merge_key: str | None) -> tuple[list[Any], list[Any]]:
    named = [item for item in items if _index(by, item, merge_key) >= 0]
    return named, [item for item in items if _index(by, item, merge_key) < 0]


def _sort_by(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    def position(item: Any) -> int:
        found = _index(order, item, merge_key)
        return found if found >= 0 else len(order)
    return sorted(items, key=position)


def _merge_sorted(server_only: list[Any], named: list[Any], server_order: list[Any],
                  merge_key: str | None) -> list[Any]:
    """Interleave: a live-only item goes first only when both are live and it came first."""
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(named):
        if j >= len(named):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(named[j])
            j += 1
        else:
            left, right = _index(server_order, server_only[i], merge_key), _index(server_order, named[j], merge_key)
            if left >= 0 and right >= 0 and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(named[j])
                j += 1
    return out


def _merge_list(original: list[Any], patch: list[Any], path: tuple[str, ...], lookup: Lookup) -> list[Any]:
    meta = lookup(path)
    if any(isinstance(item, list) for item in original + patch):
        raise _lists_of_lists()
    if "merge" not in _strategies(meta):  # replaced; directive-only items mean nothing here
        return [_merge_map({}, item, path, lookup) if isinstance(item, dict) else item for item in patch
                if not (isinstance(item, dict) and PATCH in item)]
    if not original and not patch:
        return original
    if not _is_map_list(original + patch):
        merged = list(original)
        for value in patch:
            if _index(merged, value, None) < 0:
                merged.append(value)
        named, server_only = _partition(merged, patch, None)
        return _merge_sorted(_sort_by(server_only, original, None), _sort_by(named, patch, None), original, None)
    merge_key = meta.merge_key
    if not merge_key or not all(isinstance(item, dict) for item in original + patch):
        raise StrategicPatchError(f"cannot merge lists without merge key for {'.'.join(path)}")
    items: list[dict[str, Any]] = []
    replace = False
    for item in patch:
        directive = item.get(PATCH, _MISSING)
        if directive is _MISSING or directive == "merge":
            item.pop(PATCH, None)
            items.append(item)
        elif directive == "delete":
            if merge_key not in item:
                raise StrategicPatchError(f"map: {item} does not contain declared merge key: {merge_key}")
            original = [o for o in original if not _same(o, item, merge_key)]
        elif directive == "replace":
            replace = True
        else:
            raise StrategicPatchError(f"unknown patch type: {directive} in map: {item}")
    if replace:  # the list is the patch's other items
        original, items = [_merge_map({}, item, path, lookup) for item in items], []
    merged = list(original)
    for item in items:
        if merge_key not in item:
            raise StrategicPatchError(f"map: {item} does not contain declared merge key: {merge_key}")
        found = _index(merged, item, merge_key)
        if found >= 0:
            merged[found] = _merge_map(merged[found], item, path, lookup)
        else:
            merged.append(_merge_map({}, item, path, lookup))
    named, server_only = _partition(merged, items, merge_key)
    return _merge_sorted(_sort_by(server_only, original, merge_key), _sort_by(named, items, merge_key), original,
                         merge_key)


# ---- creating (kubectl apply) ------------------------------------------------------------------

def create_two_way_patch(original: dict[str, Any], modified: dict[str, Any], lookup: Lookup | None) -> dict[str, Any]:
    """The patch taking ``original`` to ``modified`` (merge patch when ``lookup`` is None)."""
    if lookup is None:
        return create_merge_patch(original, modified)
    return _diff_map(original, modified, (), lookup, additions=True, deletions=True, retain=False)


def create_three_way_patch(original: dict[str, Any] | None, modified: dict[str, Any], current: dict[str, Any],
                           lookup: Lookup | None) -> dict[str, Any]:
    """What ``kubectl apply`` sends for an existing object: ``original`` is the last-applied
    configuration, ``modified`` the new file (carrying its new last-applied annotation),
    ``current`` the live object. Deletions come from original -> modified, additions and
    changes from current -> modified, so fields others set survive. ``{}`` means unchanged."""
    if lookup is None:
        return create_three_way_merge_patch(original, modified, current)
    deletions = _diff_map(original or {}, modified, (), lookup, additions=False, deletions=True, retain=False)
    changes = _diff_map(current, modified, (), lookup, additions=True, deletions=False, retain=False)
    return _combine(deletions, changes, (), lookup)


def _diff_map(original: dict[str, Any], modified: dict[str, Any], path: tuple[str, ...], lookup: Lookup, *,
              additions: bool, deletions: bool, retain: bool) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key, value in modified.items():
        before = original.get(key, _MISSING)
        child = path + (key,)
        if before is _MISSING or type(before) is not type(value) and not (
                _number(before) and _number(value)):
            if additions:
                patch[key] = copy.deepcopy(value)
            continue
        strategies = _strategies(lookup(child))
        if isinstance(value, dict):
            if "replace" in strategies:
                if additions and not json_equal(before, value):
                    patch[key] = copy.deepcopy(value)
                continue
            nested = _diff_map(before, value, child, lookup, additions=additions, deletions=deletions,
                               retain="retainKeys" in strategies)
            if nested:
                patch[key] = nested
        elif isinstance(value, list) and "merge" in strategies:
            _diff_list(patch, key, before, value, child, lookup, additions=additions, deletions=deletions,
                       retain="retainKeys" in strategies)
        elif additions and not json_equal(before, value):
            patch[key] = copy.deepcopy(value)
    if deletions:
        for key in original:
            if key not in modified:
                patch[key] = None
    if retain and modified and (patch or any(key not in modified for key in original)):
        patch[RETAIN_KEYS] = sorted(modified)
    return patch


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _diff_list(patch: dict[str, Any], key: str, original: list[Any], modified: list[Any], path: tuple[str, ...],
               lookup: Lookup, *, additions: bool, deletions: bool, retain: bool) -> None:
    if any(isinstance(item, list) for item in original + modified):
        raise _lists_of_lists()
    merge_key = lookup(path).merge_key
    if not _is_map_list(original + modified):
        added = [v for v in modified if _index(original, v, None) < 0]
        removed = [v for v in original if _index(modified, v, None) < 0]
        if additions and added:
            patch[key] = copy.deepcopy(added)
        if deletions and removed:
            patch[DELETE_FROM + key] = copy.deepcopy(removed)
        if modified and ((deletions and removed) or (additions and not json_equal(original, modified))):
            patch[SET_ORDER + key] = copy.deepcopy(modified)
        return
    if not merge_key:
        if additions and not json_equal(original, modified):
            patch[key] = copy.deepcopy(modified)
        return
    changes: list[Any] = []
    for item in modified:
        found = _index(original, item, merge_key)
        if found < 0:
            if additions:
                changes.append(copy.deepcopy(item))
            continue
        nested = _diff_map(original[found], item, path, lookup, additions=additions, deletions=deletions,
                           retain=retain)
        if nested:
            changes.append({merge_key: item[merge_key], **nested})
    if deletions:
        changes += [{merge_key: item[merge_key], PATCH: "delete"} for item in original
                    if merge_key in item and _index(modified, item, merge_key) < 0]
    same_order = len(original) == len(modified) and all(
        _same(a, b, merge_key) for a, b in zip(original, modified, strict=True))
    if changes:
        patch[key] = changes
    if modified and ((additions and (changes or not same_order)) or (deletions and changes)):
        patch[SET_ORDER + key] = [{merge_key: item.get(merge_key)} for item in modified]


def _combine(first: dict[str, Any], second: dict[str, Any], path: tuple[str, ...], lookup: Lookup) -> dict[str, Any]:
    """Join the deletions patch and the changes patch (they touch different items)."""
    out = dict(first)
    for key, value in second.items():
        before = out.get(key, _MISSING)
        if isinstance(value, dict) and isinstance(before, dict):
            out[key] = _combine(before, value, path + (key,), lookup)
        elif isinstance(value, list) and isinstance(before, list) and not key.startswith("$"):
            merge_key = lookup(path + (key,)).merge_key
            merged = list(before)
            for item in value:
                found = _index(merged, item, merge_key) if merge_key and isinstance(item, dict) else -1
                if found >= 0:
                    merged[found] = _combine(merged[found], item, path + (key,), lookup)
                elif merge_key or _index(merged, item, None) < 0:
                    merged.append(item)
            out[key] = merged
        else:
            out[key] = value
    return out
