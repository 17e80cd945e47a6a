"""The embedded store: etcd v3 semantics on one SQLite file.

Threads and tasks of one :class:`SQLiteStore`:

- the **writer** thread (:mod:`.sqlite_writer`): every write, group-committed;
- **reader** threads (a small pool, one connection each): ranges, watch catch-up, lease
  time-to-live, status; WAL lets them read while the writer writes;
- the **poller** thread: every ``poll_interval`` it checks ``PRAGMA data_version`` and, when
  another process committed, tails the log so that process's revisions reach our watchers;
- the **checkpointer** thread and the **maintenance** and **lease expiry** loop tasks
  (:mod:`.sqlite_maintenance`).

The event loop never touches the file: it queues writes, awaits reader futures and fans
watch events out (:mod:`.sqlite_watch`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy.exc

from .interface import (
    CompactedError,
    Compare,
    DatabaseError,
    DeleteRequest,
    DeleteResult,
    Lease,
    PutRequest,
    PutResult,
    RangeRequest,
    RangeResult,
    Request,
    Store,
    StoreStatus,
    TxnResult,
    UnavailableError,
)
from .sqlite_maintenance import Checkpointer, lease_expiry_loop, maintenance_loop
from .sqlite_reads import KeyMatcher, decode_key, range_in_transaction, read_log, read_meta
from .sqlite_schema import (
    SQLiteOptions,
    connect,
    create_schema,
    database_size,
    is_busy,
    make_engine,
    translate_error,
)
from .sqlite_watch import SQLiteWatch, WatchHub
from .sqlite_writer import Delivery, Writer, _complete

log = logging.getLogger(__name__)
T = TypeVar("T")


class SQLiteStore(Store):
    def __init__(self, path: str, options: SQLiteOptions | None = None, endpoint: str = "") -> None:
        self.path = path
        self.options = options or SQLiteOptions()
        self.endpoint = endpoint or f"sqlite://{path}"
        self._started = False
        self._closed = False
        self._tasks: list[asyncio.Task] = []
        self._threads_stop = threading.Event()
        self._local = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        if self._started:
            return
        loop = asyncio.get_running_loop()
        self._engine = make_engine(self.path, self.options)
        revision, writer_connection = await asyncio.to_thread(self._open)
        self.hub = WatchHub(revision)
        self.delivery = Delivery(loop, revision, self._on_commit)
        self.writer = Writer(self.path, self._connect, self.options, loop, self.delivery)
        self.writer.connection = writer_connection
        self.writer.thread.start()
        self._readers = ThreadPoolExecutor(self.options.readers, thread_name_prefix="sqlite-reader")
        self._poller = threading.Thread(target=self._poll, name=f"sqlite-poller {self.path}", daemon=True)
        self._poller.start()
        self._checkpointer = Checkpointer(self.path, self._connect, self.options)
        self._checkpointer.start()
        self._maintenance_wakeup = asyncio.Event()
        self._tasks = [
            asyncio.create_task(maintenance_loop(self._submit, self._revisions, self.options,
                                                 self._maintenance_wakeup, self.path)),
            asyncio.create_task(lease_expiry_loop(self._submit, self._expired_leases, self.options, self.path)),
        ]
        self._started = True

    def _connect(self) -> sqlite3.Connection:
        return connect(self._engine)

    def _open(self) -> tuple[int, sqlite3.Connection]:
        deadline = time.monotonic() + self.options.lock_timeout
        while True:
            try:
                create_schema(self._engine, self.path)
                connection = self._connect()
                connection.execute("PRAGMA wal_autocheckpoint=0")  # the writer checkpoints itself
                revision, _ = read_meta(connection)
                return revision, connection
            except (sqlite3.Error, sqlalchemy.exc.DBAPIError) as error:
                original = getattr(error, "orig", error)
                if not isinstance(original, sqlite3.Error):
                    raise DatabaseError(f"{self.path}: {error}") from error
                if is_busy(original) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                if is_busy(original):
                    raise DatabaseError(f"{self.path}: database is locked by another process") from error
                raise translate_error(self.path, original) from error

    async def close(self) -> None:
        if not self._started or self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.hub.close()
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self.writer.stop()
        self._threads_stop.set()
        self._poller.join()
        self._checkpointer.stop()
        self._readers.shutdown(wait=True)
        with self._lock:
            for connection in self._reader_connections:
                connection.close()
        self._engine.dispose()

    # ------------------------------------------------------------------ plumbing

    def _submit(self, kind: str, *args: Any) -> asyncio.Future:
        if self._closed or not self._started:
            raise UnavailableError(f"{self.endpoint}: store is not running")
        return self.writer.submit(kind, *args)

    def _on_commit(self, batches: list, extra: Any) -> None:
        if batches:
            self.hub.deliver(batches)
        if extra is not None:
            _complete(*extra)

    async def _read(self, function: Callable[..., T], *args: Any) -> T:
        if self._closed or not self._started:
            raise UnavailableError(f"{self.endpoint}: store is not running")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._in_reader, function, args)

    def _in_reader(self, function: Callable[..., T], args: tuple) -> T:
        connection = getattr(self._local, "connection", None)
        deadline = time.monotonic() + self.options.lock_timeout
        while True:
            try:
                if connection is None:
                    connection = self._local.connection = self._connect()
                    with self._lock:
                        self._reader_connections.append(connection)
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                connection.execute("BEGIN")
                try:
                    return function(connection, *args)
                finally:
                    connection.execute("COMMIT")
            except sqlite3.Error as error:
                if is_busy(error) and time.monotonic() < deadline:
                    time.sleep(0.005)
                    continue
                raise translate_error(self.path, error) from error

    def _poll(self) -> None:
        """The poller thread: tail the log when another process committed."""
        connection = self._connect()
        last = None
        try:
            while not self._threads_stop.wait(self.options.poll_interval):
                try:
                    version = connection.execute("PRAGMA data_version").fetchone()[0]
                    if version != last:
                        last = version
                        self.delivery.catch_up(connection)
                except sqlite3.Error as error:
                    log.warning("sqlite store %s: tailing the log failed, will retry: %s", self.path, error)
        finally:
            connection.close()

    # ------------------------------------------------------------------ KV

    async def range(self, request: RangeRequest) -> RangeResult:
        return await self._read(_range, request)

    async def put(self, request: PutRequest) -> PutResult:
        result = await self._submit("txn", (), (request,), ())
        return result.responses[0]

    async def delete_range(self, request: DeleteRequest) -> DeleteResult:
        result = await self._submit("txn", (), (request,), ())
        return result.responses[0]

    async def txn(self, compares: Sequence[Compare], success: Sequence[Request] = (),
                  failure: Sequence[Request] = ()) -> TxnResult:
        return await self._submit("txn", tuple(compares), tuple(success), tuple(failure))

    async def current_revision(self) -> int:
        return (await self._revisions())[0]

    # ------------------------------------------------------------------ watch, compaction

    def watch(self, key: str, range_end: str | None = None, *, start_revision: int = 0,
              prev_kv: bool = False, progress_notify: bool = False) -> SQLiteWatch:
        if self._closed or not self._started:
            raise UnavailableError(f"{self.endpoint}: store is not running")
        interval = self.options.progress_interval if progress_notify else None
        return SQLiteWatch(self.hub, self._history, key, range_end, start_revision, prev_kv, interval)

    async def _history(self, after: int, upto: int, matcher: KeyMatcher) -> list:
        return await self._read(_history, after, upto, matcher)

    async def compact(self, revision: int) -> None:
        await self._submit("compact", revision)
        self._maintenance_wakeup.set()  # delete the unreachable rows now, in slices

    async def _revisions(self) -> tuple[int, int]:
        return await self._read(read_meta)

    # ------------------------------------------------------------------ leases

    async def lease_grant(self, ttl: int, lease_id: int = 0) -> Lease:
        return await self._submit("lease_grant", max(int(ttl), 1), lease_id)

    async def lease_keepalive(self, lease_id: int) -> Lease:
        return await self._submit("lease_keepalive", lease_id)

    async def lease_revoke(self, lease_id: int) -> None:
        await self._submit("lease_revoke", lease_id)

    async def lease_time_to_live(self, lease_id: int, keys: bool = False) -> Lease:
        return await self._read(_time_to_live, lease_id, keys, time.time())

    async def _expired_leases(self, now: float) -> list[int]:
        return await self._read(_expired, now)

    # ------------------------------------------------------------------ maintenance

    async def status(self) -> StoreStatus:
        (revision, compact_revision), size = await self._read(_status, self.path)
        return StoreStatus(revision, compact_revision, size, self.endpoint, f"sqlite {sqlite3.sqlite_version}")


# ---------------------------------------------------------------------- reader functions


def _range(connection: sqlite3.Connection, request: RangeRequest) -> RangeResult:
    revision, compact_revision = read_meta(connection)
    return range_in_transaction(connection, request, revision, compact_revision)


def _history(connection: sqlite3.Connection, after: int, upto: int, matcher: KeyMatcher) -> list:
    _revision, compact_revision = read_meta(connection)
    if after + 1 < compact_revision:
        raise CompactedError(after + 1, compact_revision)
    return read_log(connection, after, upto, matcher)


def _time_to_live(connection: sqlite3.Connection, lease_id: int, keys: bool, now: float) -> Lease:
    row = connection.execute("SELECT ttl, expiry FROM leases WHERE id = ?", (lease_id,)).fetchone()
    if row is None:
        return Lease(lease_id, 0, -1)  # as etcd: an unknown or expired lease has TTL -1
    remaining = math.ceil(row[1] - now)
    names = []
    if keys:
        names = [decode_key(k) for (k,) in connection.execute(
            "SELECT key FROM kv WHERE lease = ? ORDER BY key", (lease_id,))]
    return Lease(lease_id, row[0], remaining if remaining > 0 else -1, names)


def _expired(connection: sqlite3.Connection, now: float) -> list[int]:
    return [r[0] for r in connection.execute("SELECT id FROM leases WHERE expiry <= ?", (now,))]


def _status(connection: sqlite3.Connection, path: str) -> tuple[tuple[int, int], int]:
    return read_meta(connection), database_size(path)
