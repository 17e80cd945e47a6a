"""The etcd v3-semantics store: one interface (``interface``), backends for SQLite and etcd.

:func:`open_store` turns the ``--etcd-servers`` / ``--data-dir`` /
``--etcd-servers-overrides`` flags into one :class:`Store` (not started yet: ``await
store.start()``). With overrides it returns a :class:`RoutingStore`, which sends each key
range to the backend that holds it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from urllib.parse import parse_qsl

from .interface import (
    CompactedError,
    Compare,
    CompareResult,
    CompareTarget,
    DatabaseError,
    DeleteRequest,
    DeleteResult,
    DuplicateKeyError,
    Event,
    FutureRevisionError,
    KeyValue,
    Lease,
    LeaseNotFoundError,
    NoSpaceError,
    PutRequest,
    PutResult,
    RangeRequest,
    RangeResult,
    Request,
    Response,
    StorageError,
    Store,
    StoreStatus,
    TooManyOpsError,
    TxnResult,
    UnavailableError,
    WatchResponse,
    prefix_end,
)

__all__ = [
    "CompactedError", "Compare", "CompareResult", "CompareTarget", "DatabaseError", "DeleteRequest",
    "DeleteResult", "DuplicateKeyError", "Event", "FutureRevisionError", "KeyValue", "Lease",
    "LeaseNotFoundError", "NoSpaceError", "PutRequest", "PutResult", "RangeRequest", "RangeResult",
    "Request", "Response", "RoutingStore", "StorageError", "Store", "StoreStatus", "TooManyOpsError",
    "TxnResult", "UnavailableError", "WatchResponse", "open_store", "prefix_end",
]


def open_store(servers: str = "", *, data_dir: str | None = None, overrides: Sequence[str] = (),
               prefix: str = "/registry", ca_file: str | None = None, cert_file: str | None = None,
               key_file: str | None = None) -> Store:
    """The store that ``--etcd-servers`` names (comma-separated URLs).

    - ``sqlite:///abs/path.db`` (options as a query: ``?history_seconds=60``) selects SQLite;
    - ``http(s)://host:port,...`` selects etcd;
    - empty (or ``sqlite://``) means SQLite on ``<data_dir>/state.db``.

    ``overrides`` are ``--etcd-servers-overrides`` entries, ``group/resource#servers`` with
    ``;`` between servers (``/events#sqlite:///events.db``): that resource's keys, under
    ``<prefix>/<resource>/``, live in the other store.

    ``ca_file``, ``cert_file`` and ``key_file`` (``--etcd-cafile``, ``--etcd-certfile``,
    ``--etcd-keyfile``) go to every etcd backend, for https endpoints.
    """
    tls = {name: value for name, value in
           (("ca_file", ca_file), ("cert_file", cert_file), ("key_file", key_file)) if value}
    default = _open_one(servers, data_dir, tls)
    if not overrides:
        return default
    routes: list[tuple[str, Store]] = []
    for entry in overrides:
        resource, sep, urls = entry.partition("#")
        if not sep or not urls.strip() or not resource.strip("/"):
            raise ValueError(f"invalid --etcd-servers-overrides entry {entry!r} (want group/resource#servers)")
        name = resource.strip("/").split("/")[-1]
        routes.append((f"{prefix.rstrip('/')}/{name}/", _open_one(urls.replace(";", ","), data_dir, tls)))
    return RoutingStore(default, routes)


def _open_one(servers: str, data_dir: str | None, tls: dict[str, str]) -> Store:
    urls = [u.strip() for u in servers.split(",") if u.strip()]
    schemes = {u.partition("://")[0].lower() if "://" in u else "" for u in urls}
    if not urls or schemes == {"sqlite"}:
        from .sqlite import SQLiteStore
        from .sqlite_schema import SQLiteOptions

        if len(urls) > 1:
            raise ValueError(f"--etcd-servers: only one sqlite:// URL is allowed, got {servers!r}")
        # not urlsplit: a file path may hold any character ("[", "#", ...) but "?"
        path, _, query = (urls[0].partition("://")[2] if urls else "").partition("?")
        if not path:
            if data_dir is None:
                raise ValueError("--etcd-servers is empty (or sqlite://) and no --data-dir was given")
            os.makedirs(data_dir, exist_ok=True)
            path = os.path.join(os.path.abspath(data_dir), "state.db")
        elif path.startswith("/"):
            path = "/" + path.lstrip("/")  # sqlite:////abs/x.db is the same file as sqlite:///abs/x.db
        else:
            raise ValueError(f"--etcd-servers: sqlite path must be absolute (sqlite:///abs/path.db), got {urls[0]!r}")
        options = SQLiteOptions.from_query(dict(parse_qsl(query)))
        return SQLiteStore(path, options, endpoint=f"sqlite://{path}")
    if schemes <= {"http", "https"}:
        from .etcd import EtcdStore

        return EtcdStore(urls, **tls)
    raise ValueError(f"--etcd-servers: unsupported URL(s) {servers!r} (want sqlite:///path or http(s)://host:port)")


class RoutingStore(Store):
    """Several stores behind one keyspace: each route owns the keys under its prefix.

    A range, txn or watch must fall inside one store; one that spans two is a StorageError.
    Revisions are per store. Leases are granted with the same id in every store, so a key in
    any of them can be attached to one; compaction and status go to the default store (the
    others compact themselves)."""

    def __init__(self, default: Store, routes: Sequence[tuple[str, Store]]) -> None:
        self.default = default
        self.routes = list(routes)
        self.endpoint = default.endpoint

    @property
    def stores(self) -> list[Store]:
        return [self.default, *(store for _, store in self.routes)]

    def store_for(self, key: str, range_end: str | None = None) -> Store:
        low = key.encode("utf-8", "surrogateescape")
        single = not range_end
        high = None if single or range_end == "\0" else range_end.encode("utf-8", "surrogateescape")
        if key == "\0" and range_end == "\0":
            low = b""
        for route, store in self.routes:
            start = route.encode()
            end = prefix_end(route).encode("utf-8", "surrogateescape")
            if single:
                if start <= low < end:
                    return store
                continue
            if low >= start and high is not None and high <= end:
                return store
            if (high is None or high > start) and low < end:
                raise StorageError(f"range [{key!r}, {range_end!r}) spans two stores")
        return self.default

    def _store_for_all(self, items: Sequence[Compare | Request]) -> Store:
        chosen = {id(s): s for s in (self.store_for(i.key, getattr(i, "range_end", None)) for i in items)}
        if len(chosen) > 1:
            raise StorageError("a txn may not span two stores (--etcd-servers-overrides)")
        return next(iter(chosen.values()), self.default)

    async def start(self) -> None:
        for store in self.stores:
            await store.start()

    async def close(self) -> None:
        for store in self.stores:
            await store.close()

    async def range(self, request: RangeRequest) -> RangeResult:
        return await self.store_for(request.key, request.range_end).range(request)

    async def put(self, request: PutRequest) -> PutResult:
        return await self.store_for(request.key).put(request)

    async def delete_range(self, request: DeleteRequest) -> DeleteResult:
        return await self.store_for(request.key, request.range_end).delete_range(request)

    async def txn(self, compares: Sequence[Compare], success: Sequence[Request] = (),
                  failure: Sequence[Request] = ()) -> TxnResult:
        store = self._store_for_all([*compares, *success, *failure])
        return await store.txn(compares, success, failure)

    def watch(self, key: str, range_end: str | None = None, *, start_revision: int = 0,
              prev_kv: bool = False, progress_notify: bool = False) -> AsyncIterator[WatchResponse]:
        return self.store_for(key, range_end).watch(key, range_end, start_revision=start_revision,
                                                    prev_kv=prev_kv, progress_notify=progress_notify)

    async def compact(self, revision: int) -> None:
        await self.default.compact(revision)

    async def lease_grant(self, ttl: int, lease_id: int = 0) -> Lease:
        lease = await self.default.lease_grant(ttl, lease_id)
        for _, store in self.routes:
            await store.lease_grant(ttl, lease.id)
        return lease

    async def lease_keepalive(self, lease_id: int) -> Lease:
        lease = await self.default.lease_keepalive(lease_id)
        for _, store in self.routes:
            try:
                await store.lease_keepalive(lease_id)
            except LeaseNotFoundError:
                pass
        return lease

    async def lease_revoke(self, lease_id: int) -> None:
        for _, store in self.routes:
            try:
                await store.lease_revoke(lease_id)
            except LeaseNotFoundError:
                pass
        await self.default.lease_revoke(lease_id)

    async def lease_time_to_live(self, lease_id: int, keys: bool = False) -> Lease:
        lease = await self.default.lease_time_to_live(lease_id, keys)
        if keys:
            names = list(lease.keys)
            for _, store in self.routes:
                names += (await store.lease_time_to_live(lease_id, True)).keys
            lease = Lease(lease.id, lease.ttl, lease.remaining, sorted(names))
        return lease

    async def status(self) -> StoreStatus:
        return await self.default.status()
