"""The storage contract: an etcd v3 key-value store, as one small interface.

Every backend (``sqlite``, ``etcd``) implements :class:`Store`; the API server is its only
user. The semantics are etcd v3's, so the same conformance suite (``tests/storage``) runs
against every backend:

- One global revision, +1 per write transaction (a txn that writes several keys is one
  revision). A read-only txn or a failed compare does not bump it. The first write gets 2,
  as in etcd (revision 1 is the empty store).
- Each key carries ``create_revision``, ``mod_revision``, ``version`` (1 on create, +1 per
  put, the key is gone after delete) and ``lease`` (0 = none).
- Keys are ``str`` (ordered as UTF-8 bytes, which is code point order); values are ``bytes``.
- A range is one key (``range_end=None``), ``[key, range_end)``, or every key when
  ``key == range_end == "\\0"``; :func:`prefix_end` turns a prefix into its ``range_end``.
- Watch yields :class:`WatchResponse` batches in revision order, never skipping or
  repeating a revision; a start revision below the compaction point raises
  :class:`CompactedError`; an empty batch with ``progress=True`` is a progress notification.

Errors form one tree::

    StorageError
    ├── CompactedError          revision below the compaction point (API: 410 Gone)
    ├── FutureRevisionError     revision above the current one
    ├── LeaseNotFoundError
    ├── TooManyOpsError         a txn with more ops than the backend allows
    ├── DuplicateKeyError       a txn that writes one key twice
    ├── NoSpaceError            disk or quota full; nothing of the write was applied
    ├── UnavailableError        the backend can't be reached (etcd down, ...)
    └── DatabaseError           corrupt, locked or unwritable database (names the file)
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

# --------------------------------------------------------------------------- errors


class StorageError(Exception):
    """Base of every storage error."""


class CompactedError(StorageError):
    def __init__(self, requested: int, compact_revision: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (compact revision {compact_revision})")
        self.requested = requested
        self.compact_revision = compact_revision


class FutureRevisionError(StorageError):
    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"required revision {requested} is a future revision (current {current})")
        self.requested = requested
        self.current = current


class LeaseNotFoundError(StorageError):
    def __init__(self, lease_id: int) -> None:
        super().__init__(f"requested lease {lease_id} not found")
        self.lease_id = lease_id


class TooManyOpsError(StorageError):
    pass


class DuplicateKeyError(StorageError):
    pass


class NoSpaceError(StorageError):
    pass


class UnavailableError(StorageError):
    pass


class DatabaseError(StorageError):
    pass


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0


@dataclass(frozen=True, slots=True)
class RangeResult:
    kvs: list[KeyValue]
    count: int  # how many keys the range holds, regardless of limit
    more: bool  # True when limit cut the result short
    revision: int  # the store revision the range was read at (the header revision)


@dataclass(frozen=True, slots=True)
class PutResult:
    revision: int
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    revision: int
    deleted: int
    prev_kvs: list[KeyValue] = field(default_factory=list)


# Requests, usable on their own or inside a txn.


@dataclass(frozen=True, slots=True)
class RangeRequest:
    key: str
    range_end: str | None = None
    revision: int = 0  # 0 = latest
    limit: int = 0  # 0 = no limit
    count_only: bool = False
    keys_only: bool = False


@dataclass(frozen=True, slots=True)
class PutRequest:
    key: str
    value: bytes
    lease: int = 0
    prev_kv: bool = False


@dataclass(frozen=True, slots=True)
class DeleteRequest:
    key: str
    range_end: str | None = None
    prev_kv: bool = False


Request = RangeRequest | PutRequest | DeleteRequest
Response = RangeResult | PutResult | DeleteResult

CompareTarget = Literal["version", "create", "mod", "value", "lease"]
CompareResult = Literal["=", "!=", "<", ">"]


@dataclass(frozen=True, slots=True)
class Compare:
    """``target(key) result value``; a missing key has version/create/mod/lease 0.

    A compare with ``range_end`` must hold for every key in the range (etcd semantics).
    """

    key: str
    target: CompareTarget
    result: CompareResult
    value: int | bytes
    range_end: str | None = None


@dataclass(frozen=True, slots=True)
class TxnResult:
    succeeded: bool
    revision: int  # the store revision after the txn (unchanged if it wrote nothing)
    responses: list[Response]


@dataclass(frozen=True, slots=True)
class Event:
    type: Literal["PUT", "DELETE"]
    kv: KeyValue  # for DELETE: key, empty value, mod_revision = the deleting revision
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class WatchResponse:
    revision: int  # header revision: the store revision when this batch was sent
    events: list[Event]
    progress: bool = False  # True for a progress notification (no events)


@dataclass(frozen=True, slots=True)
class Lease:
    id: int
    ttl: int  # seconds granted
    remaining: int = -1  # seconds left, from time_to_live (-1 = expired or unknown)
    keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoreStatus:
    revision: int
    compact_revision: int
    db_size: int  # bytes on disk (database file plus its WAL for sqlite)
    endpoint: str
    version: str  # backend name and version, e.g. "sqlite 3.45.1" or "etcd 3.4.23"


def prefix_end(prefix: str) -> str:
    """The ``range_end`` that makes ``[prefix, end)`` cover every key starting with prefix."""
    if not prefix:
        return "\0"
    encoded = bytearray(prefix.encode())
    for i in range(len(encoded) - 1, -1, -1):
        if encoded[i] < 0xFF:
            encoded[i] += 1
            return encoded[: i + 1].decode(errors="surrogateescape")
    return "\0"


# --------------------------------------------------------------------------- the store


class Store(abc.ABC):
    """One etcd v3 keyspace. Create with :func:`hyperkube.storage.open_store`, then
    ``await start()``; ``await close()`` stops background tasks and closes connections."""

    endpoint: str = ""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections and start background work (writer, maintenance, lease expiry)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    # --- KV
    @abc.abstractmethod
    async def range(self, request: RangeRequest) -> RangeResult: ...

    @abc.abstractmethod
    async def put(self, request: PutRequest) -> PutResult: ...

    @abc.abstractmethod
    async def delete_range(self, request: DeleteRequest) -> DeleteResult: ...

    @abc.abstractmethod
    async def txn(self, compares: Sequence[Compare], success: Sequence[Request] = (),
                  failure: Sequence[Request] = ()) -> TxnResult: ...

    # --- convenience wrappers the API server uses on its hot path
    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        result = await self.range(RangeRequest(key, revision=revision))
        return result.kvs[0] if result.kvs else None

    async def current_revision(self) -> int:
        return (await self.range(RangeRequest(key="\0", range_end="\0", count_only=True, limit=1))).revision

    # --- watch and history
    @abc.abstractmethod
    def watch(self, key: str, range_end: str | None = None, *, start_revision: int = 0,
              prev_kv: bool = False, progress_notify: bool = False) -> AsyncIterator[WatchResponse]:
        """Events for the key or range from ``start_revision`` (0 = from now on).

        An async generator; close it (``aclose()`` or ``contextlib.aclosing``) to cancel.
        With ``progress_notify`` an empty ``progress=True`` response arrives when the
        watch has been idle for a while (etcd: 10 minutes by default; backends may be faster).
        """

    @abc.abstractmethod
    async def compact(self, revision: int) -> None:
        """Forget every revision below ``revision`` except the latest value of each key."""

    # --- leases
    @abc.abstractmethod
    async def lease_grant(self, ttl: int, lease_id: int = 0) -> Lease: ...

    @abc.abstractmethod
    async def lease_keepalive(self, lease_id: int) -> Lease: ...

    @abc.abstractmethod
    async def lease_revoke(self, lease_id: int) -> None:
        """Revoke the lease and delete every key attached to it (one revision)."""

    @abc.abstractmethod
    async def lease_time_to_live(self, lease_id: int, keys: bool = False) -> Lease: ...

    # --- maintenance
    @abc.abstractmethod
    async def status(self) -> StoreStatus: ...
