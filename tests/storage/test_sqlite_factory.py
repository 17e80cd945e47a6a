"""open_store: choosing the backend from --etcd-servers / --data-dir, and the routing store
that --etcd-servers-overrides builds."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from hyperkube.storage import (
    DeleteRequest,
    PutRequest,
    RangeRequest,
    RoutingStore,
    StorageError,
    open_store,
    prefix_end,
)
from hyperkube.storage.sqlite import SQLiteStore

from .test_conformance_watch import collect


async def test_default_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = open_store("", data_dir=str(data_dir))
    assert isinstance(store, SQLiteStore)
    await store.start()
    try:
        await store.put(PutRequest("/registry/x", b"1"))
        status = await store.status()
        assert status.endpoint == f"sqlite://{data_dir}/state.db" and status.version.startswith("sqlite 3.")
    finally:
        await store.close()
    assert (data_dir / "state.db").exists()
    assert isinstance(open_store("sqlite://", data_dir=str(data_dir)), SQLiteStore)


def test_sqlite_url_with_options(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/x.db?history_seconds=60&min_history_revisions=10")
    assert isinstance(store, SQLiteStore)
    assert store.path == f"{tmp_path}/x.db"
    assert store.options.history_seconds == 60 and store.options.min_history_revisions == 10


@pytest.mark.parametrize("servers", ["sqlite://relative.db", "ftp://host:1", "sqlite:///a.db,sqlite:///b.db",
                                     "sqlite:///a.db?no_such_option=1", "sqlite:///a.db?synchronous=off", ""])
def test_bad_servers(servers: str) -> None:
    with pytest.raises(ValueError):
        open_store(servers)  # "" is bad too: no --data-dir


def test_bad_override() -> None:
    with pytest.raises(ValueError):
        open_store("sqlite:///tmp/a.db", overrides=["/events"])


async def test_overrides_keep_a_resource_in_another_store(tmp_path: Path) -> None:
    main, events_db = tmp_path / "main.db", tmp_path / "events.db"
    store = open_store(f"sqlite://{main}", overrides=[f"/events#sqlite://{events_db}"])
    assert isinstance(store, RoutingStore)
    await store.start()
    try:
        lease = await store.lease_grant(60)
        await store.put(PutRequest("/registry/pods/default/web", b"pod"))
        watch = store.watch("/registry/events/", prefix_end("/registry/events/"), start_revision=2)
        async with contextlib.aclosing(watch):
            await store.put(PutRequest("/registry/events/default/e1", b"event", lease=lease.id))
            await store.txn([], [PutRequest("/registry/events/default/e2", b"event")])
            events = await collect(watch, 2)
        assert [e.kv.key for e in events] == ["/registry/events/default/e1", "/registry/events/default/e2"]
        listed = await store.range(RangeRequest("/registry/events/", prefix_end("/registry/events/")))
        assert len(listed.kvs) == 2
        with pytest.raises(StorageError):
            await store.range(RangeRequest("/registry/", prefix_end("/registry/")))
        with pytest.raises(StorageError):
            await store.txn([], [PutRequest("/registry/pods/default/a", b"1"),
                                 PutRequest("/registry/events/default/a", b"1")])
        assert sorted((await store.lease_time_to_live(lease.id, keys=True)).keys) == [
            "/registry/events/default/e1"]
        await store.lease_revoke(lease.id)
        assert await store.get("/registry/events/default/e1") is None
        await store.delete_range(DeleteRequest("/registry/events/default/e2"))
    finally:
        await store.close()
    for path, key in ((main, "/registry/pods/default/web"), (events_db, "/registry/events/default/e1")):
        single = open_store(f"sqlite://{path}")
        await single.start()
        try:
            everything = await single.range(RangeRequest("\0", "\0"))
            history = await single.range(RangeRequest("\0", "\0", revision=2))
            assert [kv.key for kv in history.kvs] == [key]
            assert path == events_db or [kv.key for kv in everything.kvs] == [key]
        finally:
            await single.close()


def test_sqlite_path_with_unusual_characters(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/a [b] #c.db?readers=2")
    assert isinstance(store, SQLiteStore) and store.path == f"{tmp_path}/a [b] #c.db" and store.options.readers == 2


def test_http_urls_select_etcd() -> None:
    from hyperkube.storage.etcd import EtcdStore

    store = open_store("http://127.0.0.1:2379, http://127.0.0.1:22379")
    assert isinstance(store, EtcdStore) and store.endpoint == "http://127.0.0.1:2379"
    mixed = "sqlite:///tmp/x.db,http://127.0.0.1:2379"
    with pytest.raises(ValueError):
        open_store(mixed)
