"""The informer cache: keys, the namespace index, custom indexes kept in step with writes."""

from __future__ import annotations

import pytest

from hyperkube.client import NAMESPACE_INDEX, Indexer, object_key, split_key


def obj(name: str, namespace: str = "", **labels: str) -> dict:
    metadata: dict = {"name": name, "labels": labels}
    if namespace:
        metadata["namespace"] = namespace
    return {"metadata": metadata}


def by_app(o: dict) -> list[str]:
    app = o["metadata"]["labels"].get("app")
    return [app] if app else []


def test_keys():
    assert object_key(obj("web", "default")) == "default/web"
    assert object_key(obj("node-1")) == "node-1"
    assert split_key("default/web") == ("default", "web") and split_key("node-1") == ("", "node-1")


def test_indexes_follow_puts_deletes_and_replace():
    cache = Indexer({"app": by_app})
    cache.put(obj("a", "ns1", app="web"))
    cache.put(obj("b", "ns2", app="web"))
    cache.put(obj("c", "ns1", app="db"))
    assert cache.index_keys("app", "web") == ["ns1/a", "ns2/b"]
    assert [o["metadata"]["name"] for o in cache.list("ns1")] == ["a", "c"]
    assert cache.index_values(NAMESPACE_INDEX) == ["ns1", "ns2"]

    old = cache.put(obj("a", "ns1", app="db"))  # relabelled: moves between index values
    assert old is not None and old["metadata"]["labels"] == {"app": "web"}
    assert cache.index_keys("app", "web") == ["ns2/b"]
    assert cache.index_keys("app", "db") == ["ns1/a", "ns1/c"]
    cache.delete("ns2/b")
    assert cache.index_values("app") == ["db"] and "ns2/b" not in cache

    previous = cache.replace([obj("z", "ns3", app="web")])
    assert sorted(previous) == ["ns1/a", "ns1/c"]
    assert cache.keys() == ["ns3/z"] and cache.index_keys("app", "web") == ["ns3/z"]
    assert cache.get_object("z", "ns3") is cache.get("ns3/z")


def test_indexers_added_later_file_existing_objects():
    cache = Indexer()
    cache.put(obj("a", "ns", app="web"))
    cache.add_indexers({"app": by_app})
    cache.add_indexers({"app": by_app})  # the same function again is fine
    assert cache.index_keys("app", "web") == ["ns/a"]
    with pytest.raises(ValueError):
        cache.add_indexers({"app": lambda o: []})
    with pytest.raises(KeyError):
        cache.by_index("missing", "x")
