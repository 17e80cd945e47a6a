"""The Store interface over a real etcd v3 server (3.4+), through its JSON gRPC gateway.

Every operation is one ``POST /v3/...`` with a JSON body (see :mod:`etcd_codec` for the
mapping); watch is one streaming POST per watcher (see :mod:`etcd_watch`). aiohttp keeps a
pool of keep-alive connections, so a put costs one request on an open socket.

Endpoints and failover: the store sticks to the endpoint that last answered. When it can't
be reached it moves on to the next one. A request that never reached a server (connect
refused, DNS, connect timeout) is always retried on the next endpoint; a request that was
sent and then lost its connection is retried only if it does not write, because etcd may
have applied it. A member that answers "no leader" is retried, in rounds with a short backoff,
while the cluster elects. When no endpoint answers the caller gets :class:`UnavailableError`.

Errors: etcd answers with ``{"error", "code", "message"}``. The text is mapped onto the
interface's tree. Compacted and future-revision errors carry no numbers, so the store looks
them up: the current revision from a range header, the compact revision by bisecting for
the oldest revision a range can still read (etcd 3.4's status does not report it).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Sequence

import aiohttp
import orjson

from hyperkube.storage import etcd_codec as codec
from hyperkube.storage.interface import (
    CompactedError,
    Compare,
    DeleteRequest,
    DeleteResult,
    FutureRevisionError,
    Lease,
    LeaseNotFoundError,
    PutRequest,
    PutResult,
    RangeRequest,
    RangeResult,
    Request,
    StorageError,
    Store,
    StoreStatus,
    TxnResult,
    UnavailableError,
    WatchResponse,
)

log = logging.getLogger("hyperkube.storage.etcd")

_JSON = {"Content-Type": "application/json"}
# Errors that prove the request never reached a server: safe to resend anywhere.
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
# Errors after the request may have been sent.
_LOST = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)


class RevisionError(StorageError):
    """Internal: etcd said compacted / future revision; the store adds the numbers."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.compacted = codec.COMPACTED in message


class EtcdStore(Store):
    """An etcd v3 keyspace at one or more client URLs (``http(s)://host:port``)."""

    def __init__(self, endpoints: Sequence[str], *, request_timeout: float = 30.0,
                 connect_timeout: float = 3.0, retry_window: float = 15.0, ca_file: str | None = None,
                 cert_file: str | None = None, key_file: str | None = None) -> None:
        """``ca_file``/``cert_file``/``key_file`` are kube-apiserver's ``--etcd-cafile``,
        ``--etcd-certfile`` and ``--etcd-keyfile``, for https endpoints with client certificates."""
        urls = [e.strip().rstrip("/") for e in endpoints if e.strip()]
        if not urls:
            raise ValueError("EtcdStore needs at least one endpoint URL")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"not an etcd client URL (http:// or https://): {url}")
        self.endpoints = urls
        self.endpoint = urls[0]
        self._current = 0
        self.retry_window = retry_window
        self._timeout = aiohttp.ClientTimeout(total=request_timeout, connect=connect_timeout)
        self._stream_timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | None = None
        if ca_file or cert_file:
            self._ssl = ssl.create_default_context(cafile=ca_file)
            if cert_file:
                self._ssl.load_cert_chain(cert_file, key_file)
        self.closed = False
        self.streams: set[aiohttp.ClientResponse] = set()  # open watch streams, ended by close()

    # ----------------------------------------------------------------- connection

    async def start(self) -> None:
        self.closed = False
        self._ensure_session()

    async def close(self) -> None:
        """Close every connection; open watches end (their generators stop iterating)."""
        self.closed = True
        for response in list(self.streams):
            # Wake the reader explicitly: closing the session alone leaves it waiting.
            response.content.set_exception(aiohttp.ClientConnectionError("etcd store closed"))
            response.close()
        self.streams.clear()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self.closed:
            raise UnavailableError(f"etcd store {self.endpoint} is closed")
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=512, ssl=self._ssl if self._ssl is not None else True)
            self._session = aiohttp.ClientSession(connector=connector, json_serialize=lambda o: orjson.dumps(o).decode())
        return self._session

    def _order(self) -> list[int]:
        """Endpoint indexes to try: the sticky one first, then the rest in order."""
        n = len(self.endpoints)
        return [(self._current + i) % n for i in range(n)]

    def _stick(self, index: int) -> None:
        if index != self._current:
            log.info("etcd: now using endpoint %s", self.endpoints[index])
        self._current = index
        self.endpoint = self.endpoints[index]

    def rotate(self) -> None:
        """Move on to the next endpoint (a watch stream broke on the current one)."""
        self._stick((self._current + 1) % len(self.endpoints))

    def _unavailable(self, failures: list[str]) -> UnavailableError:
        return UnavailableError("etcd is unavailable: " + "; ".join(failures))

    async def call(self, path: str, body: codec.Json, *, writes: bool = False) -> codec.Json:
        """POST ``/v3/<path>`` with failover; returns the decoded answer or raises a typed error.

        While some member answers "unavailable" (no leader during an election, ...), whole rounds
        over the endpoints are retried with a short backoff, up to ``retry_window`` seconds. A
        write is resent only when the answer proves it was never proposed ("no leader"); after
        a timeout it may still be applied, so that is the caller's UnavailableError at once.
        When no member can be reached at all, the error comes at once too.
        """
        session = self._ensure_session()
        payload = orjson.dumps(body)
        deadline = asyncio.get_running_loop().time() + self.retry_window
        backoff = 0.05
        while True:
            failures: list[str] = []
            transient = False
            for index in self._order():
                url = f"{self.endpoints[index]}/v3/{path}"
                try:
                    async with session.post(url, data=payload, headers=_JSON, timeout=self._timeout) as response:
                        raw = await response.read()
                        status = response.status
                except _NOT_SENT as exc:
                    failures.append(f"{self.endpoints[index]}: {_describe(exc)}")
                    continue
                except _LOST as exc:
                    failures.append(f"{self.endpoints[index]}: {_describe(exc)}")
                    if writes:  # it may have been applied: only the caller can tell
                        raise self._unavailable(failures) from exc
                    continue
                try:
                    answer = orjson.loads(raw) if raw else {}
                except orjson.JSONDecodeError:
                    answer = None
                if status == 200 and isinstance(answer, dict) and "error" not in answer:
                    self._stick(index)
                    return answer
                message, code = codec.error_message(answer, f"HTTP {status}: {raw[:200]!r}")
                kind = codec.classify(message, code)
                if kind is UnavailableError:
                    failures.append(f"{self.endpoints[index]}: {message}")
                    if writes and not codec.never_applied(message):
                        raise self._unavailable(failures)  # e.g. timed out: it may yet be applied
                    transient = True
                    continue
                self._stick(index)
                if codec.COMPACTED in message or codec.FUTURE in message:
                    raise RevisionError(message)
                if kind is not None:
                    raise kind(message)
                raise StorageError(f"etcd {self.endpoints[index]}: {message}")
            if not transient or asyncio.get_running_loop().time() + backoff > deadline:
                raise self._unavailable(failures)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    async def open_stream(self, path: str, body: codec.Json) -> tuple[aiohttp.ClientResponse, int]:
        """Open a streaming POST (watch) on the first endpoint that answers."""
        session = self._ensure_session()
        failures: list[str] = []
        for index in self._order():
            url = f"{self.endpoints[index]}/v3/{path}"
            try:
                response = await session.post(url, data=orjson.dumps(body), headers=_JSON,
                                              timeout=self._stream_timeout)
            except (*_NOT_SENT, *_LOST) as exc:
                failures.append(f"{self.endpoints[index]}: {_describe(exc)}")
                continue
            if response.status != 200:
                raw = await response.read()
                response.close()
                failures.append(f"{self.endpoints[index]}: HTTP {response.status} {raw[:200]!r}")
                continue
            self._stick(index)
            return response, index
        raise self._unavailable(failures)

    # ----------------------------------------------------------------- revisions in errors

    async def _revision_error(self, error: RevisionError, requested: int) -> StorageError:
        current = await self.current_revision()
        if not error.compacted:
            return FutureRevisionError(requested, current)
        return CompactedError(requested, await self.compact_revision(lower=requested + 1, upper=current))

    async def compact_revision(self, lower: int = 1, upper: int = 0) -> int:
        """The oldest revision still readable (0 if nothing was ever compacted): a bisection
        over ranges at past revisions, since etcd 3.4 reports it nowhere else."""
        upper = upper or await self.current_revision()
        lower = max(lower, 1)

        async def readable(revision: int) -> bool:
            try:
                await self.call("kv/range", {"key": codec.encode_key("\0"), "revision": revision, "count_only": True})
                return True
            except RevisionError as exc:
                if exc.compacted:
                    return False
                raise

        if lower == 1 and await readable(1):
            return 0
        while lower < upper:
            middle = (lower + upper) // 2
            if await readable(middle):
                upper = middle
            else:
                lower = middle + 1
        return upper

    # ----------------------------------------------------------------- KV

    async def range(self, request: RangeRequest) -> RangeResult:
        try:
            return codec.range_result(await self.call("kv/range", codec.range_body(request)))
        except RevisionError as exc:
            raise await self._revision_error(exc, request.revision) from None

    async def put(self, request: PutRequest) -> PutResult:
        return codec.put_result(await self.call("kv/put", codec.put_body(request), writes=True))

    async def delete_range(self, request: DeleteRequest) -> DeleteResult:
        return codec.delete_result(await self.call("kv/deleterange", codec.delete_body(request), writes=True))

    async def txn(self, compares: Sequence[Compare], success: Sequence[Request] = (),
                  failure: Sequence[Request] = ()) -> TxnResult:
        body = codec.txn_body(compares, success, failure)
        writes = any(not isinstance(r, RangeRequest) for r in (*success, *failure))
        try:
            answer = await self.call("kv/txn", body, writes=writes)
        except RevisionError as exc:
            revisions = [r.revision for r in (*success, *failure) if isinstance(r, RangeRequest) and r.revision]
            requested = (min if exc.compacted else max)(revisions, default=0)
            raise await self._revision_error(exc, requested) from None
        revision = codec.header_revision(answer)
        return TxnResult(succeeded=bool(answer.get("succeeded")), revision=revision,
                         responses=[codec.response_op(op, revision) for op in answer.get("responses") or ()])

    def watch(self, key: str, range_end: str | None = None, *, start_revision: int = 0,
              prev_kv: bool = False, progress_notify: bool = False) -> AsyncIterator[WatchResponse]:
        from hyperkube.storage.etcd_watch import watch_stream

        return watch_stream(self, key, range_end, start_revision=start_revision, prev_kv=prev_kv,
                            progress_notify=progress_notify)

    async def compact(self, revision: int) -> None:
        try:
            await self.call("kv/compaction", {"revision": revision, "physical": True}, writes=True)
        except RevisionError as exc:
            raise await self._revision_error(exc, revision) from None

    # ----------------------------------------------------------------- leases

    async def lease_grant(self, ttl: int, lease_id: int = 0) -> Lease:
        body: codec.Json = {"TTL": ttl}
        if lease_id:
            body["ID"] = lease_id
        answer = await self.call("lease/grant", body, writes=True)
        if answer.get("error"):
            raise StorageError(f"etcd: {answer['error']}")
        granted = codec.as_int(answer.get("TTL"))
        return Lease(id=codec.as_int(answer.get("ID")), ttl=granted, remaining=granted)

    async def lease_keepalive(self, lease_id: int) -> Lease:
        answer = await self.call("lease/keepalive", {"ID": lease_id}, writes=True)
        result = answer.get("result") or {}
        ttl = codec.as_int(result.get("TTL"))
        if ttl <= 0:
            raise LeaseNotFoundError(lease_id)
        return Lease(id=lease_id, ttl=ttl, remaining=ttl)

    async def lease_revoke(self, lease_id: int) -> None:
        try:
            await self.call("lease/revoke", {"ID": lease_id}, writes=True)
        except LeaseNotFoundError:
            raise LeaseNotFoundError(lease_id) from None

    async def lease_time_to_live(self, lease_id: int, keys: bool = False) -> Lease:
        answer = await self.call("lease/timetolive", {"ID": lease_id, "keys": keys})
        remaining = codec.as_int(answer.get("TTL"))  # -1: unknown or expired (etcd's answer, kept)
        return Lease(id=lease_id, ttl=codec.as_int(answer.get("grantedTTL")), remaining=remaining,
                     keys=[codec.decode_key(k) for k in answer.get("keys") or ()])

    # ----------------------------------------------------------------- maintenance

    async def status(self) -> StoreStatus:
        answer = await self.call("maintenance/status", {})
        endpoint = self.endpoint
        revision = codec.header_revision(answer)
        return StoreStatus(revision=revision, compact_revision=await self.compact_revision(upper=revision),
                           db_size=codec.as_int(answer.get("dbSize")), endpoint=endpoint,
                           version=f"etcd {answer.get('version', '?')}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
