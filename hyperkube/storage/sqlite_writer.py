"""The single writer thread and the ordered hand-off of committed revisions to the loop.

Writes are queued from the event loop (:meth:`Writer.submit` returns an asyncio future).
The writer thread takes everything queued (up to ``max_batch``), runs it in one
``BEGIN IMMEDIATE`` transaction (:class:`~.sqlite_batch.WriteBatch`) and commits once, so
one fsync (``synchronous=FULL``) makes the whole group durable before any future resolves.

``database is locked`` (another process holds the write lock) is retried for
``lock_timeout`` seconds; a full disk fails the batch, which is then retried one operation
at a time so that only the operations that don't fit fail with ``NoSpaceError``.

:class:`Delivery` is the one path events take to the loop. The writer posts the revisions it
committed, the poller thread posts revisions other processes committed (found by tailing the
log); both go through one lock that remembers the last revision posted, so the loop receives
every revision exactly once and in order. When the writer finds that another process
committed revisions just before its own, it reads them from the log first. The writer holds
the lock from its COMMIT until its post, so the poller never mistakes our own fresh commit
for another process's (which would make it re-read the log while the writer waits).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from .interface import DatabaseError, Event, NoSpaceError, StorageError
from .sqlite_batch import WriteBatch
from .sqlite_reads import read_log, read_meta
from .sqlite_schema import SQLiteOptions, is_busy, translate_error

log = logging.getLogger(__name__)

Batches = list[tuple[int, list[Event]]]


class Delivery:
    """Posts committed revisions to the loop in order, exactly once (see module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, revision: int,
                 on_commit: Callable[[Batches, Any], None]) -> None:
        self.loop = loop
        self.lock = threading.Lock()
        self.posted = revision
        self.on_commit = on_commit

    def post(self, connection: sqlite3.Connection, batches: Batches, extra: Any = None) -> None:
        with self.lock:
            self.post_locked(connection, batches, extra)

    def post_locked(self, connection: sqlite3.Connection, batches: Batches, extra: Any) -> None:
        """``post`` for a caller that holds ``lock`` (the writer, from its COMMIT on).

        Never raises: the write is committed, its futures must resolve. If the revisions
        another process committed just before ours can't be read now, ours are not posted
        either; the poller then reads them all from the log, in order."""
        if batches and batches[0][0] > self.posted + 1:
            try:
                batches = read_log(connection, self.posted, batches[0][0] - 1) + batches
            except sqlite3.Error as error:
                log.warning("sqlite store: reading the log failed, the poller will deliver: %s", error)
                batches = []
        batches = [b for b in batches if b[0] > self.posted]
        if batches:
            self.posted = batches[-1][0]
        if batches or extra is not None:
            try:
                self.loop.call_soon_threadsafe(self.on_commit, batches, extra)
            except RuntimeError:  # the loop is closed: nobody waits for these any more
                pass

    def catch_up(self, connection: sqlite3.Connection) -> None:
        """Post whatever other processes committed beyond what was posted (poller thread)."""
        revision = connection.execute("SELECT value FROM meta WHERE name = 'revision'").fetchone()[0]
        if revision <= self.posted:
            return
        with self.lock:
            connection.execute("BEGIN")
            try:
                revision, _ = read_meta(connection)
                batches = read_log(connection, self.posted, revision) if revision > self.posted else []
            finally:
                connection.execute("COMMIT")
            if batches:
                self.post_locked(connection, batches, None)


class WriteOp:
    __slots__ = ("kind", "args", "future")

    def __init__(self, kind: str, args: tuple, future: asyncio.Future | None) -> None:
        self.kind = kind
        self.args = args
        self.future = future


class Writer:
    """The one thread that writes the database file (see module docstring)."""

    def __init__(self, path: str, connect: Callable[[], sqlite3.Connection], options: SQLiteOptions,
                 loop: asyncio.AbstractEventLoop, delivery: Delivery) -> None:
        self.path = path
        self.connect = connect
        self.options = options
        self.loop = loop
        self.delivery = delivery
        self.queue: queue.SimpleQueue[WriteOp | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=f"sqlite-writer {path}", daemon=True)
        self.connection: sqlite3.Connection | None = None
        self.wal_path = path + "-wal"

    def start(self) -> None:
        self.connection = self.connect()
        self.thread.start()

    def submit(self, kind: str, *args: Any) -> asyncio.Future:
        future = self.loop.create_future()
        self.queue.put(WriteOp(kind, args, future))
        return future

    def stop(self) -> None:
        """Blocking: let the queued writes finish, then stop the thread (call from a thread)."""
        self.queue.put(None)
        self.thread.join()
        if self.connection is not None:
            self.connection.close()

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            op = self.queue.get()
            if op is None:
                return
            ops = [op]
            stop = False
            while len(ops) < self.options.max_batch:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                ops.append(nxt)
            try:
                self._process(ops)
            except Exception:  # never let the writer die silently
                log.exception("sqlite writer: unexpected failure")
                self.delivery.loop.call_soon_threadsafe(
                    _complete, ops, [DatabaseError(f"{self.path}: writer failure")] * len(ops))
            if stop:
                return

    def _process(self, ops: list[WriteOp]) -> None:
        try:
            self._execute(ops)
        except NoSpaceError as error:
            if len(ops) == 1:
                self.delivery.post(self.connection, [], (ops, [error]))
                return
            for op in ops:  # only the writes that don't fit may fail
                self._process([op])
            return
        except StorageError as error:
            self.delivery.post(self.connection, [], (ops, [error] * len(ops)))
            return
        except Exception as error:  # a malformed request (or a bug): only its caller sees it
            if len(ops) == 1:
                self.delivery.post(self.connection, [], (ops, [error]))
                return
            for op in ops:
                self._process([op])
            return
        self._finish_checkpoint()

    def _finish_checkpoint(self) -> None:
        """Copy the last WAL frames back here, between two transactions, once the WAL is big.

        The checkpointer thread copies the bulk concurrently, but while we keep appending it
        can never finish, and SQLite restarts the WAL only when every frame was copied back.
        Done here, with no write in flight, only the frames since its last pass remain, so
        the pause is short, and the next transaction starts the WAL over and truncates the
        file to ``journal_size_limit`` (half the threshold): so the file is only ever larger
        than ``checkpoint_wal_bytes`` when that much was written since the last restart."""
        try:
            size = os.path.getsize(self.wal_path)
        except OSError:
            return
        if size <= self.options.checkpoint_wal_bytes:
            return
        try:
            self.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as error:
            log.warning("sqlite store %s: WAL checkpoint failed, will retry: %s", self.path, error)

    def _execute(self, ops: list[WriteOp]) -> None:
        """Run ``ops`` in one transaction, commit, and post the outcome.

        The delivery lock is taken before COMMIT and released after the post, so the poller
        never sees our revisions in the file before we posted them (it would read them back
        from the log, and the writer would wait for it)."""
        connection = self.connection
        assert connection is not None
        deadline = time.monotonic() + self.options.lock_timeout
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    results, batches = self._apply(connection, ops)
                    self.delivery.lock.acquire()
                    try:
                        connection.execute("COMMIT")
                    except BaseException:
                        self.delivery.lock.release()
                        raise
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                if is_busy(error) and time.monotonic() < deadline:
                    time.sleep(0.005)
                    continue
                if is_busy(error):
                    raise DatabaseError(f"{self.path}: database is locked by another process "
                                        f"for more than {self.options.lock_timeout:g}s") from error
                raise translate_error(self.path, error) from error
            try:  # committed: from here on nothing may raise into a retry
                self.delivery.post_locked(connection, batches, (ops, results))
            finally:
                self.delivery.lock.release()
            return

    def _apply(self, connection: sqlite3.Connection, ops: list[WriteOp]) -> tuple[list[Any], Batches]:
        revision, compact_revision = read_meta(connection)
        batch = WriteBatch(connection, revision, compact_revision, self.options.max_txn_ops)
        keys: set[str] = set()
        for op in ops:
            if op.kind == "txn":
                compares, success, failure = op.args
                keys.update(c.key for c in compares if not c.range_end)
                keys.update(r.key for r in success if not getattr(r, "range_end", None))
                keys.update(r.key for r in failure if not getattr(r, "range_end", None))
        batch.prefetch(keys)
        results: list[Any] = []
        for op in ops:
            try:
                results.append(getattr(batch, op.kind)(*op.args))
            except StorageError as error:
                results.append(error)
        batch.finish()
        return results, batch.events


def _complete(ops: list[WriteOp], results: list[Any]) -> None:
    """On the loop: resolve the futures of one committed (or failed) batch."""
    for op, result in zip(ops, results, strict=True):
        future = op.future
        if future is None or future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
