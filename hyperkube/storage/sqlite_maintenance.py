"""Self-maintenance of the SQLite store: compaction, vacuum, WAL checkpoints, lease expiry.

The database must stay bounded under a steady update load with nobody calling compact:

- **Compaction** (a loop task): every ``maintenance_interval`` the store samples its revision;
  it compacts to the newest revision that is both older than ``history_seconds`` and at
  least ``min_history_revisions`` behind the head. Marking the compact revision is one small
  write; the rows it makes unreachable are then deleted through the writer queue in slices of
  ``compact_slice_revisions`` revisions, so ordinary writes interleave with the clean-up.
  The progress is kept in ``meta.purged_revision``, so a restart resumes it. A failing pass
  is logged and retried at the next interval.
- **Incremental vacuum** (``auto_vacuum=INCREMENTAL``): after a purge, free pages are given
  back to the file system ``vacuum_slice_pages`` at a time when they are a large share of it.
- **WAL checkpoints** (a thread with its own connection): a PASSIVE checkpoint every
  ``checkpoint_interval``. PASSIVE never waits for the writer, but it can't
  finish while the writer keeps appending; so once the WAL file passes ``checkpoint_wal_bytes``
  the writer copies the few remaining frames itself between two transactions, after which
  the WAL starts over (``journal_size_limit`` truncates it). The WAL stays about that size.
- **Lease expiry** (a loop task): expired leases are revoked through the writer; a revoke
  deletes the lease's keys in one revision, re-checking the expiry inside the transaction so
  a keepalive that won the race keeps the lease.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from .interface import CompactedError, StorageError, UnavailableError
from .sqlite_schema import SQLiteOptions

log = logging.getLogger(__name__)

Submit = Callable[..., Awaitable[Any]]


def compaction_target(samples: deque[tuple[float, int]], now: float, revision: int,
                      options: SQLiteOptions) -> int:
    """The revision to compact to (0 = none), from ``(time, revision)`` samples."""
    by_count = revision - options.min_history_revisions
    if options.history_seconds <= 0:
        return max(by_count, 0)
    by_time = 0
    horizon = now - options.history_seconds
    while len(samples) > 1 and samples[1][0] <= horizon:
        samples.popleft()
    if samples and samples[0][0] <= horizon:
        by_time = samples[0][1]
    return max(min(by_count, by_time), 0)


async def maintenance_loop(submit: Submit, current: Callable[[], Awaitable[tuple[int, int]]],
                           options: SQLiteOptions, wakeup: asyncio.Event, path: str) -> None:
    samples: deque[tuple[float, int]] = deque()
    while True:
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancel of
            # close() when the wakeup fires at the same moment, and close() then never returns.
            async with asyncio.timeout(options.maintenance_interval):
                await wakeup.wait()
        except TimeoutError:
            pass
        wakeup.clear()
        try:
            revision, compact_revision = await current()
            now = time.monotonic()
            samples.append((now, revision))
            target = compaction_target(samples, now, revision, options)
            if target > compact_revision:
                try:
                    await submit("compact", target)
                except CompactedError:
                    pass  # another process compacted further meanwhile
            while not await submit("purge_slice", options.compact_slice_revisions):
                pass
            while await submit("vacuum", options.vacuum_slice_pages) > 0:
                pass
        except asyncio.CancelledError:
            raise
        except UnavailableError:
            return  # the store is closing
        except StorageError as error:
            log.warning("sqlite store %s: maintenance failed, will retry: %s", path, error)
        except Exception:
            log.exception("sqlite store %s: maintenance failed, will retry", path)


async def lease_expiry_loop(submit: Submit, expired: Callable[[float], Awaitable[list[int]]],
                            options: SQLiteOptions, path: str) -> None:
    while True:
        await asyncio.sleep(options.lease_check_interval)
        try:
            for lease_id in await expired(time.time()):
                await submit("lease_revoke", lease_id, True)
        except asyncio.CancelledError:
            raise
        except UnavailableError:
            return  # the store is closing
        except Exception as error:
            log.warning("sqlite store %s: lease expiry failed, will retry: %s", path, error)


class Checkpointer:
    """A thread that runs PASSIVE WAL checkpoints on its own connection (see module docstring)."""

    def __init__(self, path: str, connect: Callable[[], sqlite3.Connection], options: SQLiteOptions) -> None:
        self.path = path
        self.connect = connect
        self.options = options
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"sqlite-checkpoint {path}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()

    def _run(self) -> None:
        connection = self.connect()
        try:
            while not self.stopping.wait(self.options.checkpoint_interval):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:
                    log.warning("sqlite store %s: WAL checkpoint failed, will retry: %s", self.path, error)
        finally:
            connection.close()
