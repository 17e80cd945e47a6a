"""RFC 7386 JSON Merge Patch: applying one, and computing one between two documents.

Applying (``application/merge-patch+json``): objects merge key by key, ``null`` deletes a key,
anything else (lists included) replaces. ``kubectl label``, ``kubectl scale`` and kopf's
annotation and status patches all use this.

Computing: :func:`create_merge_patch` gives the patch that turns ``original`` into
``modified``; :func:`create_three_way_merge_patch` is what ``kubectl apply`` sends for a
custom resource (no strategic metadata): deletions come from last-applied -> new file (so only
fields the file used to set are removed), additions and changes from live -> new file (so
fields set by others are kept unless the file sets them).

All functions are pure: inputs are never modified.
"""

from __future__ import annotations

import copy
from typing import Any

from hyperkube.machinery.jsonpatch import json_equal

__all__ = ["apply_merge_patch", "create_merge_patch", "create_three_way_merge_patch"]


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """The RFC 7386 ``MergePatch(target, patch)`` on a copy of ``target``."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    _merge_into(result, patch)
    return result


def _merge_into(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            if not isinstance(current, dict):
                current = target[key] = {}
            _merge_into(current, value)
        else:
            target[key] = copy.deepcopy(value)


def create_merge_patch(original: Any, modified: Any) -> Any:
    """The smallest merge patch taking ``original`` to ``modified`` (``{}`` when equal).

    A value that is ``null`` in ``modified`` cannot be expressed (null means delete), exactly
    as with RFC 7386 itself; such keys are deleted by the patch."""
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return copy.deepcopy(modified)
    return _diff(original, modified, additions=True, deletions=True)


def _diff(original: dict[str, Any], modified: dict[str, Any], *, additions: bool,
          deletions: bool) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key, value in modified.items():
        if key not in original:
            if additions:
                patch[key] = copy.deepcopy(value)
            continue
        before = original[key]
        if isinstance(before, dict) and isinstance(value, dict):
            nested = _diff(before, value, additions=additions, deletions=deletions)
            if nested:
                patch[key] = nested
        elif additions and not json_equal(before, value):
            patch[key] = copy.deepcopy(value)
    if deletions:
        for key in original:
            if key not in modified:
                patch[key] = None
    return patch


def create_three_way_merge_patch(original: dict[str, Any] | None, modified: dict[str, Any],
                                 current: dict[str, Any]) -> dict[str, Any]:
    """kubectl's client-side apply patch for kinds without strategic metadata.

    ``original`` is the last-applied configuration (``None`` when there is none), ``modified``
    the new configuration, ``current`` the live object."""
    deletions = _diff(original or {}, modified, additions=False, deletions=True)
    changes = _diff(current, modified, additions=True, deletions=False)
    return _combine(deletions, changes)


def _combine(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two patches over disjoint leaves joined into one (maps merged, the second wins)."""
    out = copy.deepcopy(first)
    for key, value in second.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _combine(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
