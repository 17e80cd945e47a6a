"""Read queries of the SQLite store, as plain functions over one DBAPI connection.

Every function here runs on a reader, writer or poller thread, never on the event loop.
Reads at the latest revision use the ``kv`` table; reads at a past revision pick, per key,
the newest ``log`` row at or below it (SQLite's bare-column ``MAX()`` returns that row's
other columns too) and drop tombstones.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from .interface import (
    CompactedError,
    Event,
    FutureRevisionError,
    KeyValue,
    RangeRequest,
    RangeResult,
)

KV_COLUMNS = "key, value, create_revision, mod_revision, version, lease"


def encode_key(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


def decode_key(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def key_bounds(key: str, range_end: str | None) -> tuple[bytes, bytes | None, bool]:
    """``(low, high, single)``: ``high`` None means no upper bound (``range_end == "\\0"``)."""
    if range_end is None or range_end == "":
        return encode_key(key), None, True
    low = b"" if key == "\0" and range_end == "\0" else encode_key(key)
    return low, (None if range_end == "\0" else encode_key(range_end)), False


def where_clause(column: str, low: bytes, high: bytes | None, single: bool) -> tuple[str, list[object]]:
    if single:
        return f"{column} = ?", [low]
    if high is None:
        return f"{column} >= ?", [low]
    return f"{column} >= ? AND {column} < ?", [low, high]


class KeyMatcher:
    """Tests whether a key belongs to a watched key or range, in etcd's byte order."""

    __slots__ = ("key", "low", "high", "single", "plain")

    def __init__(self, key: str, range_end: str | None) -> None:
        self.low, self.high, self.single = key_bounds(key, range_end)
        self.key = key
        # str comparison equals UTF-8 byte comparison unless surrogates are involved
        self.plain = self.low.isascii() and (self.high is None or self.high.isascii())

    def __call__(self, key: str) -> bool:
        if self.single:
            return key == self.key
        if self.plain:
            if key < self.low.decode():
                return False
            return self.high is None or key < self.high.decode()
        raw = encode_key(key)
        return raw >= self.low and (self.high is None or raw < self.high)


def read_meta(connection: sqlite3.Connection) -> tuple[int, int]:
    """``(revision, compact_revision)`` as seen by the connection's current transaction."""
    values = dict(connection.execute("SELECT name, value FROM meta").fetchall())
    return values.get("revision", 1), values.get("compact_revision", 1)


def check_revision(requested: int, revision: int, compact_revision: int) -> None:
    if requested > revision:
        raise FutureRevisionError(requested, revision)
    if 0 < requested < compact_revision:
        raise CompactedError(requested, compact_revision)


def _kv(row: tuple) -> KeyValue:
    return KeyValue(decode_key(row[0]), row[1], row[2], row[3], row[4], row[5])


def range_in_transaction(connection: sqlite3.Connection, request: RangeRequest,
                         revision: int, compact_revision: int) -> RangeResult:
    """The range, read through ``connection`` inside a transaction it already holds."""
    check_revision(request.revision, revision, compact_revision)
    low, high, single = key_bounds(request.key, request.range_end)
    if high is not None and high <= low and not single:
        return RangeResult([], 0, False, revision)
    at = request.revision or revision
    if at == revision:
        return _range_latest(connection, request, low, high, single, revision)
    return _range_past(connection, request, low, high, single, at, revision)


def _range_latest(connection: sqlite3.Connection, request: RangeRequest, low: bytes, high: bytes | None,
                  single: bool, revision: int) -> RangeResult:
    where, params = where_clause("key", low, high, single)
    if request.count_only:
        count = connection.execute(f"SELECT count(*) FROM kv WHERE {where}", params).fetchone()[0]
        return RangeResult([], count, False, revision)
    columns = "key, x'', create_revision, mod_revision, version, lease" if request.keys_only else KV_COLUMNS
    sql = f"SELECT {columns} FROM kv WHERE {where} ORDER BY key"
    if request.limit:
        rows = connection.execute(sql + " LIMIT ?", [*params, request.limit]).fetchall()
        if len(rows) < request.limit:
            count = len(rows)
        else:
            count = connection.execute(f"SELECT count(*) FROM kv WHERE {where}", params).fetchone()[0]
    else:
        rows = connection.execute(sql, params).fetchall()
        count = len(rows)
    kvs = [KeyValue(decode_key(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]
    return RangeResult(kvs, count, count > len(kvs), revision)


def _range_past(connection: sqlite3.Connection, request: RangeRequest, low: bytes, high: bytes | None,
                single: bool, at: int, revision: int) -> RangeResult:
    where, params = where_clause("key", low, high, single)
    rows = connection.execute(
        "SELECT key, value, create_revision, MAX(revision), version, lease, deleted FROM log"
        f" WHERE {where} AND revision <= ? GROUP BY key ORDER BY key", [*params, at]).fetchall()
    live = [r for r in rows if not r[6]]
    count = len(live)
    if request.count_only:
        return RangeResult([], count, False, revision)
    if request.limit:
        live = live[: request.limit]
    kvs = [KeyValue(decode_key(r[0]), b"" if request.keys_only else r[1], r[2], r[3], r[4], r[5])
           for r in live]
    return RangeResult(kvs, count, count > len(kvs), revision)


LOG_SELECT = (
    "SELECT l.revision, l.key, l.value, l.create_revision, l.version, l.lease, l.deleted,"
    " p.value, p.create_revision, p.revision, p.version, p.lease"
    " FROM log l LEFT JOIN log p ON p.key = l.key AND p.revision = l.prev_revision"
)


def events_from_rows(rows: Iterable[tuple]) -> list[tuple[int, list[Event]]]:
    """Group log rows (``LOG_SELECT`` order) into ``(revision, events)`` batches."""
    batches: list[tuple[int, list[Event]]] = []
    current = -1
    events: list[Event] = []
    for r in rows:
        if r[0] != current:
            events = []
            batches.append((r[0], events))
            current = r[0]
        key = decode_key(r[1])
        prev = KeyValue(key, r[7], r[8], r[9], r[10], r[11]) if r[9] is not None else None
        if r[6]:
            events.append(Event("DELETE", KeyValue(key, b"", 0, r[0], 0, 0), prev))
        else:
            events.append(Event("PUT", KeyValue(key, r[2], r[3], r[0], r[4], r[5]), prev))
    return batches


def read_log(connection: sqlite3.Connection, after: int, upto: int,
             matcher: KeyMatcher | None = None) -> list[tuple[int, list[Event]]]:
    """Events of revisions ``(after, upto]``, optionally only those of one key range."""
    sql = LOG_SELECT + " WHERE l.revision > ? AND l.revision <= ?"
    params: list[object] = [after, upto]
    if matcher is not None:
        where, extra = where_clause("l.key", matcher.low, matcher.high, matcher.single)
        sql += " AND " + where
        params += extra
    return events_from_rows(connection.execute(sql + " ORDER BY l.revision, l.idx", params))
