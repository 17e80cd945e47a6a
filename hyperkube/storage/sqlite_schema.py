"""The SQLite layout, connection set-up and error mapping of the embedded store.

SQLAlchemy owns the engine, the schema and the dialect; the hot paths take the DBAPI
(``sqlite3``) connection out of the engine and run plain SQL, because SQLAlchemy Core costs
about 3x the stdlib per row.

Layout (keys are stored as UTF-8 BLOBs so SQLite orders them bytewise, as etcd does):

- ``kv``: the current value of every live key (what a range at the latest revision reads).
- ``log``: one row per key written by a revision, ``(revision, idx)`` unique; deletes are
  tombstone rows. Revisions are assigned inside the write transaction from ``meta.revision``,
  so they are contiguous and a reader tailing the log by revision can never miss one.
  ``prev_revision`` points at the row the write replaced (0 = the key did not exist), which
  makes ``prev_kv`` one index probe.
- ``leases``: granted leases with their wall-clock expiry (shared by every process).
- ``meta``: ``revision`` and ``compact_revision``.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from .interface import DatabaseError, NoSpaceError, StorageError

metadata = MetaData()

kv_table = Table(
    "kv", metadata,
    Column("key", LargeBinary, primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("create_revision", BigInteger, nullable=False),
    Column("mod_revision", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("lease", BigInteger, nullable=False, default=0),
)
Index("kv_lease", kv_table.c.lease, sqlite_where=kv_table.c.lease != 0)

log_table = Table(
    "log", metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("key", LargeBinary, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("create_revision", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("lease", BigInteger, nullable=False),
    Column("deleted", Integer, nullable=False),
    Column("prev_revision", BigInteger, nullable=False),
)
Index("log_revision", log_table.c.revision, log_table.c.idx, unique=True)
Index("log_key_revision", log_table.c.key, log_table.c.revision)

leases_table = Table(
    "leases", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("ttl", BigInteger, nullable=False),
    Column("expiry", Float, nullable=False),
)

meta_table = Table(
    "meta", metadata,
    Column("name", String, primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# SQLite result codes (primary code = extended code & 0xFF).
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL = 5, 6, 13


@dataclass
class SQLiteOptions:
    """Tunables, settable from the URL query: ``sqlite:///x.db?history_seconds=0``."""

    history_seconds: float = 300.0  # automatic compaction keeps this much history ...
    min_history_revisions: int = 1000  # ... and at least this many revisions
    maintenance_interval: float = 5.0  # seconds between compaction / vacuum passes
    checkpoint_interval: float = 0.1  # the checkpointer thread copies the WAL back this often;
    checkpoint_wal_bytes: int = 4 << 20  # past this the writer finishes the copy (the WAL restarts)
    compact_slice_revisions: int = 2000  # revisions physically deleted per write transaction
    vacuum_slice_pages: int = 512  # pages freed per incremental_vacuum step
    poll_interval: float = 0.015  # tailing other processes' commits (PRAGMA data_version)
    progress_interval: float = 5.0  # idle seconds before a progress notification
    lease_check_interval: float = 0.5
    lock_timeout: float = 30.0  # retry "database is locked" this long, then DatabaseError
    max_batch: int = 2048  # writes group-committed in one transaction
    max_txn_ops: int = 128  # as etcd's --max-txn-ops
    readers: int = 4
    max_page_count: int = 0  # 0 = unlimited; a test knob to simulate a full disk
    # FULL: a write is on disk (fsync of the WAL) before it is acknowledged, so it survives
    # kill -9 and power loss; NORMAL survives kill -9 only (the WAL is synced at checkpoints)
    synchronous: str = "FULL"

    @classmethod
    def from_query(cls, query: dict[str, str]) -> SQLiteOptions:
        options = cls()
        for name, raw in query.items():
            if not hasattr(options, name):
                raise ValueError(f"unknown sqlite store option {name!r}")
            current = getattr(options, name)
            if isinstance(current, str):
                value: object = raw.upper()
                if name == "synchronous" and value not in ("FULL", "NORMAL", "EXTRA"):
                    raise ValueError(f"sqlite store option synchronous must be FULL, EXTRA or NORMAL, not {raw!r}")
            else:
                value = type(current)(float(raw))
            setattr(options, name, value)
        return options


def translate_error(path: str, error: sqlite3.Error) -> StorageError:
    """Map a sqlite3 error to the store's error tree, naming the database file."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code == SQLITE_FULL:
        return NoSpaceError(f"{path}: database or disk is full")
    return DatabaseError(f"{path}: {error}")


def is_busy(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    return code in (SQLITE_BUSY, SQLITE_LOCKED) or "database is locked" in str(error)


def make_engine(path: str, options: SQLiteOptions) -> Engine:
    """An engine whose every DBAPI connection is set up for the store (WAL, FULL sync)."""
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=NullPool,
        connect_args={"isolation_level": None, "check_same_thread": False, "timeout": 1.0},
    )

    @event.listens_for(engine, "connect")
    def _setup(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout=1000")
        dbapi_connection.execute(f"PRAGMA synchronous={options.synchronous}")
        # half the writer's checkpoint threshold: see Writer._finish_checkpoint
        dbapi_connection.execute(f"PRAGMA journal_size_limit={int(options.checkpoint_wal_bytes) // 2}")
        dbapi_connection.execute("PRAGMA cache_size=-16000")
        if options.max_page_count:
            dbapi_connection.execute(f"PRAGMA max_page_count={int(options.max_page_count)}")

    return engine


def create_schema(engine: Engine, path: str) -> None:
    """Create the file and tables if needed; safe when several processes open a new file at once.

    ``auto_vacuum`` must be set before the first table exists and ``journal_mode`` outside a
    transaction; the tables are then created under ``BEGIN IMMEDIATE`` so two processes
    can't both decide to create them."""
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        wal = raw.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        if wal and {t.name for t in metadata.sorted_tables} <= tables:
            return  # an existing store: open it without taking the write lock
        if not tables:
            raw.execute("PRAGMA auto_vacuum=INCREMENTAL")
        mode = raw.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise DatabaseError(f"{path}: cannot switch to WAL journal mode (got {mode})")
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        metadata.create_all(connection)
        for name in ("revision", "compact_revision"):
            connection.execute(text("INSERT OR IGNORE INTO meta(name, value) VALUES (:n, 1)"), {"n": name})
        connection.commit()


def connect(engine: Engine) -> sqlite3.Connection:
    """A raw DBAPI connection from the engine, owned by the caller (one per thread)."""
    fairy = engine.raw_connection()
    raw = fairy.driver_connection
    fairy.detach()  # the caller closes it; the pool must not close it when the wrapper is collected
    assert isinstance(raw, sqlite3.Connection)
    return raw


def database_size(path: str) -> int:
    size = 0
    for suffix in ("", "-wal"):
        try:
            size += os.path.getsize(path + suffix)
        except OSError:
            pass
    return size
