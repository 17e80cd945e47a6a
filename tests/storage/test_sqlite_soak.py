"""Soak: 100,000 updates to 1,000 keys with nobody calling compact; automatic compaction,
incremental vacuum and WAL checkpoints must keep the file (database plus WAL) bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hyperkube.storage import PutRequest, RangeRequest, open_store, prefix_end

KEYS, UPDATES, CONCURRENCY = 1_000, 100_000, 64
VALUE = b"v" * 256
# Keep 1,000 revisions of history, and look after the file often so the test stays short.
OPTIONS = "history_seconds=0&min_history_revisions=1000&maintenance_interval=0.2"


async def test_file_stays_bounded_under_steady_updates(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/state.db?{OPTIONS}")
    await store.start()
    sizes: list[int] = []
    seen: list[int] = []

    async def follow() -> None:  # a live watcher must not notice the maintenance
        async for response in store.watch("/soak/", prefix_end("/soak/"), start_revision=2):
            seen.extend(e.kv.mod_revision for e in response.events)
            if len(seen) >= UPDATES:
                return

    try:
        watcher = asyncio.create_task(follow())
        async def writer(n: int, start: int, stop: int) -> None:
            for i in range(start + n, stop, CONCURRENCY):
                await store.put(PutRequest(f"/soak/{i % KEYS:04d}", VALUE))

        step = UPDATES // 10
        for start in range(0, UPDATES, step):
            await asyncio.gather(*(writer(n, start, start + step) for n in range(CONCURRENCY)))
            sizes.append((await store.status()).db_size)
        status = await store.status()
        assert status.revision == UPDATES + 1
        await asyncio.wait_for(watcher, 60)
        assert seen == list(range(2, UPDATES + 2))
        for _ in range(100):  # let the last maintenance pass catch up
            status = await store.status()
            if status.compact_revision >= status.revision - 2_000:
                break
            await asyncio.sleep(0.1)
        assert status.compact_revision >= status.revision - 2_000, status
        current = await store.range(RangeRequest("/soak/", prefix_end("/soak/"), count_only=True))
        assert current.count == KEYS
        for _ in range(200):  # the slices of the last compaction, then the vacuum
            settled = (await store.status()).db_size
            database_only = (tmp_path / "state.db").stat().st_size
            if settled < 8 * 2**20 and database_only < 4 * 2**20:
                break
            await asyncio.sleep(0.1)
    finally:
        await store.close()
    # Unbounded, 100k revisions of 256-byte values take about 45 MB. Bounded: the history the
    # maintenance has not reached yet (a few MB, more while the machine is busy) plus a WAL
    # of about 4 MB; once the maintenance catches up, only the last 1,000 revisions remain.
    assert max(sizes) < 24 * 2**20, sizes
    assert settled < 8 * 2**20, (settled, sizes)  # database and WAL
    assert database_only < 4 * 2**20, (database_only, sizes)
