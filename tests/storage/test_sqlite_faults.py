"""SQLite faults: corrupt, unwritable and locked databases, and a full disk."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from hyperkube.storage import (
    Compare,
    DatabaseError,
    NoSpaceError,
    PutRequest,
    RangeRequest,
    open_store,
    prefix_end,
)


async def test_corrupt_database_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database, " * 1000)
    store = open_store(f"sqlite://{path}")
    with pytest.raises(DatabaseError, match=str(path)):
        await store.start()


async def test_unwritable_location_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("x")
    path = tmp_path / "plain-file" / "state.db"  # its directory is a file: can't be created
    store = open_store(f"sqlite://{path}")
    with pytest.raises(DatabaseError, match=str(path)):
        await store.start()


async def test_directory_instead_of_database_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.mkdir()
    store = open_store(f"sqlite://{path}")
    with pytest.raises(DatabaseError, match=str(path)):
        await store.start()


async def test_a_briefly_locked_database_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(f"sqlite://{path}")
    await store.start()
    try:
        await store.put(PutRequest("/a", b"1"))
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN EXCLUSIVE")  # another writer holds the lock for a while
        asyncio.get_running_loop().call_later(0.5, other.execute, "ROLLBACK")
        result = await store.put(PutRequest("/b", b"2"))  # no "database is locked": it waits
        assert result.revision == 3
        other.close()
    finally:
        await store.close()


async def test_a_database_locked_too_long_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(f"sqlite://{path}?lock_timeout=0.5")
    await store.start()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(DatabaseError, match=f"{path}.*locked"):
            await store.put(PutRequest("/a", b"1"))
        other.execute("ROLLBACK")
        assert (await store.put(PutRequest("/a", b"1"))).revision == 2  # works again once released
    finally:
        other.close()
        await store.close()


async def test_full_disk_fails_only_the_write_that_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(f"sqlite://{path}?max_page_count=300")  # about 1.2 MB
    await store.start()
    acknowledged: list[str] = []
    try:
        outcomes = await asyncio.gather(
            store.put(PutRequest("/huge", b"x" * 3_000_000)),
            *(store.put(PutRequest(f"/small/{i}", b"s")) for i in range(5)),
            return_exceptions=True)
        assert isinstance(outcomes[0], NoSpaceError) and str(path) in str(outcomes[0])
        assert all(not isinstance(o, BaseException) for o in outcomes[1:])
        acknowledged += [f"/small/{i}" for i in range(5)]
        with pytest.raises(NoSpaceError):
            for i in range(10_000):
                await store.put(PutRequest(f"/fill/{i:05d}", b"y" * 4000))
                acknowledged.append(f"/fill/{i:05d}")
        assert len(acknowledged) > 50
        refused = f"/fill/{len(acknowledged) - 5:05d}"
        assert await store.get(refused) is None
        assert (await store.status()).revision == len(acknowledged) + 1
    finally:
        await store.close()
    reopened = open_store(f"sqlite://{path}")  # no page limit: every acknowledged write is there
    await reopened.start()
    try:
        everything = await reopened.range(RangeRequest("/", prefix_end("/")))
        assert sorted(kv.key for kv in everything.kvs) == sorted(acknowledged)
        assert (await reopened.put(PutRequest("/after", b"ok"))).revision == len(acknowledged) + 2
    finally:
        await reopened.close()


async def test_a_malformed_request_fails_alone(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/state.db")
    await store.start()
    try:
        outcomes = await asyncio.gather(
            store.put(PutRequest("/ok/1", b"1")),
            store.put(PutRequest("/bad", "not bytes")),  # type: ignore[arg-type]
            store.txn([Compare("/ok/1", "mod", "<", b"not an int")], [PutRequest("/bad2", b"x")]),  # type: ignore[arg-type]
            store.put(PutRequest("/ok/2", b"2")),
            return_exceptions=True)
        assert isinstance(outcomes[1], TypeError) and isinstance(outcomes[2], TypeError)
        assert not isinstance(outcomes[0], BaseException) and not isinstance(outcomes[3], BaseException)
        keys = [kv.key for kv in (await store.range(RangeRequest("/", prefix_end("/")))).kvs]
        assert keys == ["/ok/1", "/ok/2"] and await store.current_revision() == 3
    finally:
        await store.close()
