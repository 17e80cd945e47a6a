"""One group-commit transaction of the writer: many operations, one SQLite transaction.

The writer thread opens ``BEGIN IMMEDIATE``, reads ``meta.revision`` and hands every queued
operation to a :class:`WriteBatch` in order. Single keys are served from an in-memory view
(prefetched with one ``IN (...)`` query per batch) and written back with ``executemany``
when the batch ends, or earlier when a range query needs the table to be current.

An operation either applies completely or not at all: everything that can refuse it (op
count, duplicate keys, unknown lease, a range at a bad revision) is checked before the first
change, so a refused operation leaves the view untouched and the rest of the batch goes on.
Each operation that changes at least one key takes the next revision; its log rows get
``idx`` 0, 1, ... in the order of its ops.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Sequence

from .interface import (
    CompactedError,
    Compare,
    DeleteRequest,
    DeleteResult,
    DuplicateKeyError,
    Event,
    FutureRevisionError,
    KeyValue,
    Lease,
    LeaseNotFoundError,
    PutRequest,
    PutResult,
    RangeRequest,
    Request,
    StorageError,
    TooManyOpsError,
    TxnResult,
)
from .sqlite_reads import (
    KV_COLUMNS,
    KeyMatcher,
    check_revision,
    decode_key,
    encode_key,
    key_bounds,
    range_in_transaction,
    where_clause,
)

Row = tuple[bytes, int, int, int, int]  # value, create_revision, mod_revision, version, lease
_MISSING = object()
_TARGET_INDEX = {"create": 1, "mod": 2, "version": 3, "lease": 4}


def _kv(key: str, row: Row) -> KeyValue:
    return KeyValue(key, row[0], row[1], row[2], row[3], row[4])


def _holds(actual: int | bytes, result: str, expected: int | bytes) -> bool:
    if result == "=":
        return actual == expected
    if result == "!=":
        return actual != expected
    if result == "<":
        return actual < expected  # type: ignore[operator]
    if result == ">":
        return actual > expected  # type: ignore[operator]
    raise StorageError(f"unknown compare result {result!r}")


class WriteBatch:
    """The state of one write transaction; see the module docstring."""

    def __init__(self, connection: sqlite3.Connection, revision: int, compact_revision: int,
                 max_txn_ops: int) -> None:
        self.connection = connection
        self.start_revision = revision
        self.revision = revision
        self.compact_revision = compact_revision
        self.max_txn_ops = max_txn_ops
        self.view: dict[str, Row | None] = {}
        self.dirty: dict[str, Row | None] = {}
        self.log_rows: list[tuple] = []
        self.events: list[tuple[int, list[Event]]] = []
        self.leases: dict[int, bool] = {}

    # ------------------------------------------------------------------ the view

    def prefetch(self, keys: set[str]) -> None:
        wanted = [k for k in keys if k not in self.view]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for k in chunk:
                self.view[k] = None
            marks = ",".join("?" * len(chunk))
            for r in self.connection.execute(f"SELECT {KV_COLUMNS} FROM kv WHERE key IN ({marks})",
                                             [encode_key(k) for k in chunk]):
                self.view[decode_key(r[0])] = (r[1], r[2], r[3], r[4], r[5])

    def lookup(self, key: str) -> Row | None:
        row = self.view.get(key, _MISSING)
        if row is _MISSING:
            r = self.connection.execute("SELECT value, create_revision, mod_revision, version, lease"
                                        " FROM kv WHERE key = ?", (encode_key(key),)).fetchone()
            row = self.view[key] = tuple(r) if r else None  # type: ignore[assignment]
        return row  # type: ignore[return-value]

    def flush(self) -> None:
        """Write the view's changes and pending log rows, so SQL queries see them."""
        if self.dirty:
            upserts = [(encode_key(k), *row) for k, row in self.dirty.items() if row is not None]
            deletes = [(encode_key(k),) for k, row in self.dirty.items() if row is None]
            if deletes:
                self.connection.executemany("DELETE FROM kv WHERE key = ?", deletes)
            if upserts:
                self.connection.executemany(
                    "INSERT INTO kv(key, value, create_revision, mod_revision, version, lease)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
                    " create_revision = excluded.create_revision, mod_revision = excluded.mod_revision,"
                    " version = excluded.version, lease = excluded.lease", upserts)
            self.dirty.clear()
        if self.log_rows:
            self.connection.executemany(
                "INSERT INTO log(revision, idx, key, value, create_revision, version, lease, deleted,"
                " prev_revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self.log_rows)
            self.log_rows.clear()

    def finish(self) -> None:
        self.flush()
        if self.revision != self.start_revision:
            self.connection.execute("UPDATE meta SET value = ? WHERE name = 'revision'", (self.revision,))

    def range_rows(self, key: str, range_end: str | None) -> list[tuple[str, Row]]:
        low, high, single = key_bounds(key, range_end)
        if single:
            row = self.lookup(key)
            return [(key, row)] if row is not None else []
        self.flush()
        where, params = where_clause("key", low, high, False)
        rows = []
        for r in self.connection.execute(f"SELECT {KV_COLUMNS} FROM kv WHERE {where} ORDER BY key", params):
            k = decode_key(r[0])
            row = (r[1], r[2], r[3], r[4], r[5])
            self.view[k] = row
            rows.append((k, row))
        return rows

    def lease_exists(self, lease_id: int) -> bool:
        known = self.leases.get(lease_id)
        if known is None:
            known = self.leases[lease_id] = self.connection.execute(
                "SELECT 1 FROM leases WHERE id = ?", (lease_id,)).fetchone() is not None
        return known

    # ------------------------------------------------------------------ KV operations

    def compare(self, c: Compare) -> bool:
        rows = self.range_rows(c.key, c.range_end)
        if not rows:
            if c.target == "value":
                return False  # etcd: a value compare on a missing key always fails
            return _holds(0, c.result, c.value)
        for _key, row in rows:
            actual = row[0] if c.target == "value" else row[_TARGET_INDEX[c.target]]
            if not _holds(actual, c.result, c.value):
                return False
        return True

    def _validate(self, compares: Sequence[Compare], ops: Sequence[Request], limit: bool) -> None:
        if limit and (len(ops) > self.max_txn_ops or len(compares) > self.max_txn_ops):
            raise TooManyOpsError(f"too many operations in txn request (limit {self.max_txn_ops})")
        puts: set[str] = set()
        for op in ops:
            if isinstance(op, PutRequest):
                if not isinstance(op.value, bytes) or not isinstance(op.key, str):
                    raise TypeError(f"PutRequest needs a str key and a bytes value, got {op!r:.200}")
                if op.key in puts:
                    raise DuplicateKeyError(f"duplicate key given in txn request: {op.key!r}")
                puts.add(op.key)
                if op.lease and not self.lease_exists(op.lease):
                    raise LeaseNotFoundError(op.lease)
            elif isinstance(op, RangeRequest):
                check_revision(op.revision, self.revision, self.compact_revision)
        for op in ops:
            if isinstance(op, DeleteRequest) and puts:
                matcher = KeyMatcher(op.key, op.range_end)
                if any(matcher(k) for k in puts):
                    raise DuplicateKeyError(f"duplicate key given in txn request: {op.key!r}")

    def txn(self, compares: Sequence[Compare], success: Sequence[Request],
            failure: Sequence[Request], limit: bool = True) -> TxnResult:
        succeeded = all(self.compare(c) for c in compares)
        ops = success if succeeded else failure
        self._validate(compares, ops, limit)
        new_revision = self.revision + 1
        events: list[Event] = []
        pending: list[tuple] = []
        for op in ops:
            if isinstance(op, PutRequest):
                prev = self.lookup(op.key)
                if prev is None:
                    row = (op.value, new_revision, new_revision, 1, op.lease)
                else:
                    row = (op.value, prev[1], new_revision, prev[3] + 1, op.lease)
                self._change(op.key, row, prev, new_revision, events)
                pending.append((op, prev))
            elif isinstance(op, DeleteRequest):
                found = self.range_rows(op.key, op.range_end)
                for key, prev in found:
                    self._change(key, None, prev, new_revision, events)
                pending.append((op, found))
            else:
                pending.append((op, range_in_transaction(self._flushed(), op, self.revision,
                                                         self.compact_revision)))
        if events:
            self.revision = new_revision
            self.events.append((new_revision, events))
        responses: list = []
        for op, outcome in pending:
            if isinstance(op, PutRequest):
                prev_kv = _kv(op.key, outcome) if op.prev_kv and outcome is not None else None
                responses.append(PutResult(self.revision, prev_kv))
            elif isinstance(op, DeleteRequest):
                prev_kvs = [_kv(k, row) for k, row in outcome] if op.prev_kv else []
                responses.append(DeleteResult(self.revision, len(outcome), prev_kvs))
            else:
                responses.append(outcome)
        return TxnResult(succeeded, self.revision, responses)

    def _flushed(self) -> sqlite3.Connection:
        self.flush()
        return self.connection

    def _change(self, key: str, row: Row | None, prev: Row | None, revision: int,
                events: list[Event]) -> None:
        self.view[key] = self.dirty[key] = row
        prev_kv = _kv(key, prev) if prev is not None else None
        prev_revision = prev[2] if prev is not None else 0
        raw = encode_key(key)
        index = len(events)
        if row is None:
            self.log_rows.append((revision, index, raw, b"", 0, 0, 0, 1, prev_revision))
            events.append(Event("DELETE", KeyValue(key, b"", 0, revision, 0, 0), prev_kv))
        else:
            self.log_rows.append((revision, index, raw, row[0], row[1], row[3], row[4], 0, prev_revision))
            events.append(Event("PUT", KeyValue(key, row[0], row[1], revision, row[3], row[4]), prev_kv))

    # ------------------------------------------------------------------ leases

    def lease_grant(self, ttl: int, lease_id: int) -> Lease:
        if lease_id == 0:
            lease_id = random.randint(1, (1 << 62))
            while self.lease_exists(lease_id):
                lease_id = random.randint(1, (1 << 62))
        elif self.lease_exists(lease_id):
            raise StorageError(f"lease {lease_id} already exists")
        self.connection.execute("INSERT INTO leases(id, ttl, expiry) VALUES (?, ?, ?)",
                                (lease_id, ttl, time.time() + ttl))
        self.leases[lease_id] = True
        return Lease(lease_id, ttl, ttl)

    def lease_keepalive(self, lease_id: int) -> Lease:
        r = self.connection.execute("SELECT ttl FROM leases WHERE id = ?", (lease_id,)).fetchone()
        if r is None:
            raise LeaseNotFoundError(lease_id)
        self.connection.execute("UPDATE leases SET expiry = ? WHERE id = ?", (time.time() + r[0], lease_id))
        return Lease(lease_id, r[0], r[0])

    def lease_revoke(self, lease_id: int, only_if_expired: bool = False) -> None:
        r = self.connection.execute("SELECT expiry FROM leases WHERE id = ?", (lease_id,)).fetchone()
        if r is None:
            if only_if_expired:
                return
            raise LeaseNotFoundError(lease_id)
        if only_if_expired and r[0] > time.time():
            return
        self.flush()
        keys = [decode_key(k) for (k,) in self.connection.execute(
            "SELECT key FROM kv WHERE lease = ? ORDER BY key", (lease_id,))]
        if keys:
            self.txn((), [DeleteRequest(k) for k in keys], (), limit=False)  # one revision
        self.connection.execute("DELETE FROM leases WHERE id = ?", (lease_id,))
        self.leases[lease_id] = False

    # ------------------------------------------------------------------ compaction

    def compact(self, revision: int) -> None:
        if revision <= self.compact_revision:
            raise CompactedError(revision, self.compact_revision)
        if revision > self.revision:
            raise FutureRevisionError(revision, self.revision)
        self.connection.execute("UPDATE meta SET value = ? WHERE name = 'compact_revision'", (revision,))
        self.compact_revision = revision

    def purge_slice(self, slice_revisions: int) -> bool:
        """Physically delete one slice of the history the compaction made unreachable.

        Reads at or after the compact revision need, per key, only the newest row at or
        below it. So each row at or below the compact revision makes its predecessor
        (``prev_revision``) garbage, and a tombstone below it is garbage itself.
        ``meta.purged_revision`` = P says the rows of revisions up to P have been handled
        (their predecessors deleted, their tombstones deleted if below the compact
        revision then); each slice handles (P, P + slice]. Returns True when done."""
        purged = self.connection.execute("SELECT value FROM meta WHERE name = 'purged_revision'").fetchone()
        start = purged[0] if purged else 1
        if start >= self.compact_revision:
            return True
        end = min(start + slice_revisions, self.compact_revision)
        self.flush()
        self.connection.execute(
            "DELETE FROM log WHERE id IN (SELECT p.id FROM log AS s JOIN log AS p"
            " ON p.key = s.key AND p.revision = s.prev_revision"
            " WHERE s.revision > ? AND s.revision <= ? AND s.prev_revision > 0)", (start, end))
        self.connection.execute("DELETE FROM log WHERE revision >= ? AND revision < ? AND deleted = 1",
                                (start, end))
        self.connection.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('purged_revision', ?)",
                                (end,))
        return end >= self.compact_revision

    def vacuum(self, pages: int) -> int:
        """Return up to ``pages`` free pages to the file system; returns the free pages left.

        Runs only when free pages are a large share of the file: under a steady load the
        freed pages are reused, and returning them would only make the file grow again."""
        free = self.connection.execute("PRAGMA freelist_count").fetchone()[0]
        total = self.connection.execute("PRAGMA page_count").fetchone()[0]
        if free < 64 or free * 4 < total:
            return 0
        self.flush()
        self.connection.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()
        return self.connection.execute("PRAGMA freelist_count").fetchone()[0]
