"""Server-side Tables (``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``).

kubectl prints the cells verbatim, so ages are rendered here (the kind's
``Strategy.row``). Each row carries ``object``: PartialObjectMetadata by default (kubectl
takes NAMESPACE and ``--show-labels`` from it), the full object with
``includeObject=Object`` (``--sort-by``), nothing with ``includeObject=None``.
"""

from __future__ import annotations

import time
from typing import Any

from hyperkube.api.registry import Resource
from hyperkube.machinery import errors

TABLE_API_VERSION = "meta.k8s.io/v1"


def include_mode(value: str | None) -> str:
    mode = value or "Metadata"
    if mode not in ("None", "Metadata", "Object"):
        raise errors.BadRequest(f'invalid includeObject "{mode}": must be None, Metadata or Object')
    return mode


def column_definitions(resource: Resource) -> list[dict[str, Any]]:
    return [column.definition() for column in resource.strategy.columns()]


def row(resource: Resource, obj: dict[str, Any], now: float, include: str) -> dict[str, Any]:
    try:
        cells = resource.strategy.row(obj, now)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        # a stored object the printer can't read still lists, with its name
        width = len(resource.strategy.columns())
        metadata = obj.get("metadata") or {}
        cells = [metadata.get("name", "")] + ["<unknown>"] * (width - 1)
    entry: dict[str, Any] = {"cells": cells}
    if include == "Metadata":
        entry["object"] = {"kind": "PartialObjectMetadata", "apiVersion": TABLE_API_VERSION,
                           "metadata": obj.get("metadata") or {}}
    elif include == "Object":
        entry["object"] = obj
    return entry


def table(resource: Resource, objects: list[dict[str, Any]], metadata: dict[str, Any],
          include: str, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "kind": "Table",
        "apiVersion": TABLE_API_VERSION,
        "metadata": metadata,
        "columnDefinitions": column_definitions(resource),
        "rows": [row(resource, obj, now, include) for obj in objects],
    }
