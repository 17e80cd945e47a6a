"""The informer's local cache: objects by ``namespace/name`` plus named secondary indexes.

An index function maps an object to the values it is filed under (``namespace`` files a pod
under its namespace; a controller may file pods under their node or owner UID). Lookups by
index value are then a dict access instead of a scan, which is how controllers answer
"which pods belong to this ReplicaSet" from memory.

The cache is written only by its informer; readers must treat returned objects as read-only
(copy before changing), exactly as with client-go listers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hyperkube.client._resources import object_key

Object = dict[str, Any]
IndexFunc = Callable[[Object], Iterable[str]]

NAMESPACE_INDEX = "namespace"


def namespace_index(obj: Object) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace", "")]


class Indexer:
    """A thread-unsafe (single event loop) keyed store with secondary indexes."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Object] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        if indexers:
            self.add_indexers(indexers)

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Add indexes (existing objects are filed at once). Re-adding the same function is a no-op."""
        for name, func in indexers.items():
            if self._indexers.get(name) is func:
                continue
            if name in self._indexers:
                raise ValueError(f"indexer {name!r} already exists")
            self._indexers[name] = func
            index: dict[str, set[str]] = {}
            for key, obj in self._items.items():
                for value in func(obj):
                    index.setdefault(value, set()).add(key)
            self._indices[name] = index

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: str) -> Object | None:
        return self._items.get(key)

    def get_object(self, name: str, namespace: str | None = None) -> Object | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def keys(self) -> list[str]:
        return list(self._items)

    def list(self, namespace: str | None = None) -> list[Object]:
        if namespace is None:
            return list(self._items.values())
        return self.by_index(NAMESPACE_INDEX, namespace)

    def index_keys(self, index: str, value: str) -> list[str]:
        if index not in self._indices:
            raise KeyError(f"index {index!r} does not exist")
        return sorted(self._indices[index].get(value, ()))

    def by_index(self, index: str, value: str) -> list[Object]:
        return [self._items[key] for key in self.index_keys(index, value)]

    def index_values(self, index: str) -> list[str]:
        return sorted(self._indices[index])

    # -- writes: the informer's -------------------------------------------------------------------

    def put(self, obj: Object) -> Object | None:
        """Store the object; returns the one it replaced."""
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    def delete(self, key: str) -> Object | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, objects: Iterable[Object]) -> dict[str, Object]:
        """Swap the whole content (a relist); returns the previous content by key."""
        previous = self._items
        self._items = {}
        self._indices = {name: {} for name in self._indexers}
        for obj in objects:
            self.put(obj)
        return previous

    def _index(self, key: str, obj: Object) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                index.setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Object) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
