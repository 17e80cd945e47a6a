"""SQLite self-maintenance: automatic compaction keeps the configured history, the purge of
compacted rows keeps every read at or after the compact revision exact, and a failing
compaction is logged and retried."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from pathlib import Path

import pytest

from hyperkube.storage import (
    CompactedError,
    DeleteRequest,
    PutRequest,
    RangeRequest,
    Store,
    open_store,
    prefix_end,
)

FAST = "maintenance_interval=0.05&compact_slice_revisions=7"


async def wait_for_compaction(store: Store, revision: int) -> None:
    for _ in range(400):
        if (await store.status()).compact_revision >= revision:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not compacted to {revision}: {await store.status()}")


async def test_automatic_compaction_keeps_the_configured_revisions(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/s.db?history_seconds=0&min_history_revisions=10&{FAST}")
    await store.start()
    try:
        for i in range(50):
            await store.put(PutRequest(f"/a/{i % 5}", str(i).encode()))  # revisions 2..51
        await wait_for_compaction(store, 41)
        assert (await store.status()).compact_revision == 41
        assert len((await store.range(RangeRequest("/a/", prefix_end("/a/"), revision=41))).kvs) == 5
        with pytest.raises(CompactedError):
            await store.range(RangeRequest("/a/", prefix_end("/a/"), revision=40))
    finally:
        await store.close()


async def test_history_younger_than_history_seconds_is_kept(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/s.db?history_seconds=3600&min_history_revisions=0&{FAST}")
    await store.start()
    try:
        for i in range(30):
            await store.put(PutRequest("/k", str(i).encode()))
        await asyncio.sleep(0.5)  # several maintenance passes
        assert (await store.status()).compact_revision == 1
        assert (await store.range(RangeRequest("/k", revision=2))).kvs[0].value == b"0"
    finally:
        await store.close()


async def test_reads_after_purge_match_a_model(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite://{path}?history_seconds=3600&{FAST}")
    await store.start()
    rng = random.Random(7)
    model: dict[int, dict[str, bytes]] = {1: {}}
    state: dict[str, bytes] = {}
    try:
        for i in range(300):
            key = f"/m/{rng.randrange(12)}"
            if rng.random() < 0.25:
                result = await store.delete_range(DeleteRequest(key))
                if not result.deleted:
                    continue
                del state[key]
            else:
                result = await store.put(PutRequest(key, str(i).encode()))
                state[key] = str(i).encode()
            model[result.revision] = dict(state)
        head = await store.current_revision()
        compact_at = head - 40
        await store.compact(compact_at)
        for _ in range(200):  # until the purge slices are all done
            with sqlite3.connect(path) as raw:
                purged = raw.execute("SELECT value FROM meta WHERE name = 'purged_revision'").fetchone()
            if purged and purged[0] >= compact_at:
                break
            await asyncio.sleep(0.05)
        assert purged and purged[0] >= compact_at
        revisions = sorted(model)
        for revision in range(compact_at, head + 1):
            expected = model[max(r for r in revisions if r <= revision)]
            got = await store.range(RangeRequest("/m/", prefix_end("/m/"), revision=revision))
            assert {kv.key: kv.value for kv in got.kvs} == expected, revision
        with sqlite3.connect(path) as raw:
            rows = raw.execute("SELECT count(*) FROM log WHERE revision < ?", (compact_at,)).fetchone()[0]
        assert rows <= 12  # at most the newest row of each key below the compact revision
    finally:
        await store.close()


async def test_failing_compaction_is_logged_and_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "s.db"
    url = f"sqlite://{path}?history_seconds=0&min_history_revisions=5&lock_timeout=0.2&{FAST}"
    first = open_store(f"sqlite://{path}?history_seconds=3600")
    await first.start()
    for i in range(20):
        await first.put(PutRequest("/k", str(i).encode()))  # revisions 2..21
    await first.close()
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock: compaction can't write
    store = open_store(url)
    try:
        with caplog.at_level(logging.WARNING, logger="hyperkube.storage"):
            await store.start()
            for _ in range(200):
                if any("maintenance failed, will retry" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.05)
            assert any("maintenance failed, will retry" in r.getMessage() and str(path) in r.getMessage()
                       for r in caplog.records)
            assert (await store.status()).compact_revision == 1
            blocker.execute("ROLLBACK")
            await wait_for_compaction(store, 16)
            assert (await store.get("/k")).value == b"19"  # type: ignore[union-attr]
    finally:
        blocker.close()
        await store.close()
