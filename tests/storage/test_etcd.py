"""What only the etcd backend has: endpoints, failover, etcd's own error texts, stream cancel.

The generic behaviour (revisions, txn, watch order, leases) is the conformance suite's;
these tests start their own etcd processes because they kill them, fill them up, or count
their watchers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import urllib.request

import pytest

from hyperkube.storage.etcd import EtcdStore
from hyperkube.storage.etcd_server import start_etcd
from hyperkube.storage.interface import (
    CompactedError,
    Compare,
    DuplicateKeyError,
    FutureRevisionError,
    LeaseNotFoundError,
    NoSpaceError,
    PutRequest,
    RangeRequest,
    UnavailableError,
    prefix_end,
)
from tests.storage.etcd_process import EtcdProcess, make_tls


def closed_port_url() -> str:
    """A URL nobody listens on: a port just bound and released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def etcd(tmp_path):
    process = EtcdProcess.start(tmp_path)
    yield process
    process.stop()


@pytest.fixture
async def store(etcd):
    store = EtcdStore([etcd.url])
    await store.start()
    yield store
    await store.close()


def watcher_count(url: str) -> int:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("etcd_debugging_mvcc_watcher_total "):
                return int(float(line.split()[1]))
    raise AssertionError("etcd reports no watcher gauge")


async def test_fails_over_to_the_endpoint_that_answers(etcd):
    dead = closed_port_url()
    store = EtcdStore([dead, etcd.url])
    try:
        await store.put(PutRequest("/k", b"v"))
        assert store.endpoint == etcd.url
        assert (await store.get("/k")).value == b"v"
        status = await store.status()
        assert status.endpoint == etcd.url and status.version.startswith("etcd 3.")
    finally:
        await store.close()


async def test_no_endpoint_answering_is_unavailable_and_names_them():
    first, second = closed_port_url(), closed_port_url()
    store = EtcdStore([first, second])
    try:
        with pytest.raises(UnavailableError) as error:
            await store.put(PutRequest("/k", b"v"))
        assert first in str(error.value) and second in str(error.value)
        with pytest.raises(UnavailableError):
            await store.range(RangeRequest("/k"))
        with pytest.raises(UnavailableError):
            await anext(store.watch("/k"))
    finally:
        await store.close()


async def test_etcd_dying_turns_into_unavailable_then_recovers_on_a_second_endpoint(tmp_path):
    first = EtcdProcess.start(tmp_path / "one")
    second = EtcdProcess.start(tmp_path / "two")
    store = EtcdStore([first.url, second.url])
    try:
        await store.put(PutRequest("/k", b"on-first"))
        assert store.endpoint == first.url
        first.stop()
        # Reads move on; the second (independent) etcd answers.
        assert await store.get("/k") is None
        assert store.endpoint == second.url
        await store.put(PutRequest("/k", b"on-second"))
        second.stop()
        with pytest.raises(UnavailableError):
            await store.get("/k")
    finally:
        await store.close()
        first.stop()
        second.stop()


async def test_a_member_dying_is_invisible_to_kv_and_watch_on_a_cluster(tmp_path):
    members = EtcdProcess.start_cluster(tmp_path, 3)
    store = EtcdStore([m.url for m in members])
    try:
        revision = await store.current_revision()
        watch = store.watch("/f/", prefix_end("/f/"), start_revision=revision + 1)
        seen: list[tuple[int, bytes]] = []

        async def consume() -> None:
            async for response in watch:
                seen.extend((e.kv.mod_revision, e.kv.value) for e in response.events)
                if len(seen) >= 20:
                    return

        consumer = asyncio.ensure_future(consume())
        for i in range(10):
            await store.put(PutRequest(f"/f/{i:02d}", str(i).encode()))
        victim = next(m for m in members if m.url == store.endpoint)
        victim.stop()
        # A read fails over by itself (a write in flight to a dying member is ambiguous, so
        # it is the caller's UnavailableError, as with etcd's own client).
        assert (await store.get("/f/09")).value == b"9"
        assert store.endpoint != victim.url
        for i in range(10, 20):  # the first of these may wait for a new leader
            await store.put(PutRequest(f"/f/{i:02d}", str(i).encode()))
        assert store.endpoint != victim.url
        await asyncio.wait_for(consumer, 30)
        await watch.aclose()
        assert [value for _, value in seen] == [str(i).encode() for i in range(20)]
        assert [rev for rev, _ in seen] == list(range(revision + 1, revision + 21))
        assert (await store.range(RangeRequest("/f/", prefix_end("/f/"), count_only=True))).count == 20
    finally:
        await store.close()
        for member in members:
            member.stop()


async def test_a_watch_whose_etcd_dies_raises_unavailable_instead_of_hanging(etcd):
    store = EtcdStore([etcd.url])
    try:
        watch = store.watch("/w/", prefix_end("/w/"))
        first = asyncio.ensure_future(anext(watch))
        await asyncio.sleep(0.3)
        await store.put(PutRequest("/w/a", b"1"))
        response = await asyncio.wait_for(first, 10)
        assert [e.kv.key for e in response.events] == ["/w/a"]
        etcd.stop()
        with pytest.raises(UnavailableError):
            await asyncio.wait_for(anext(watch), 30)
        await watch.aclose()
    finally:
        await store.close()


async def test_closing_the_watch_cancels_it_on_the_server(store, etcd):
    revision = await store.current_revision()
    before = watcher_count(etcd.url)
    watch = store.watch("/c/", prefix_end("/c/"), start_revision=revision + 1)
    pending = asyncio.ensure_future(anext(watch))
    await store.put(PutRequest("/c/x", b"1"))
    assert (await asyncio.wait_for(pending, 10)).events[0].kv.value == b"1"
    assert watcher_count(etcd.url) == before + 1
    await watch.aclose()
    for _ in range(100):
        if watcher_count(etcd.url) == before:
            break
        await asyncio.sleep(0.05)
    assert watcher_count(etcd.url) == before


async def test_closing_the_store_ends_its_watches(etcd):
    store = EtcdStore([etcd.url])
    watch = store.watch("/gone/", prefix_end("/gone/"))
    pending = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0.2)  # let the stream open; the test holds either way
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, 10)
    with pytest.raises(UnavailableError, match="closed"):
        await store.put(PutRequest("/gone/x", b"1"))


async def test_revision_errors_carry_etcds_numbers(store):
    for i in range(5):
        await store.put(PutRequest("/r", str(i).encode()))
    current = await store.current_revision()
    await store.compact(current - 1)
    with pytest.raises(CompactedError) as compacted:
        await store.range(RangeRequest("/r", revision=current - 3))
    assert compacted.value.compact_revision == current - 1
    assert compacted.value.requested == current - 3
    with pytest.raises(FutureRevisionError) as future:
        await store.range(RangeRequest("/r", revision=current + 10))
    assert (future.value.requested, future.value.current) == (current + 10, current)
    with pytest.raises(CompactedError) as watch_compacted:
        async with contextlib.aclosing(store.watch("/r", start_revision=2)) as watch:
            await anext(watch)
    assert watch_compacted.value.compact_revision == current - 1
    with pytest.raises(CompactedError):
        await store.compact(current - 2)
    assert (await store.status()).compact_revision == current - 1


async def test_txn_limits_map_to_typed_errors(store):
    from hyperkube.storage.interface import TooManyOpsError

    with pytest.raises(TooManyOpsError):  # etcd's default --max-txn-ops is 128
        await store.txn([], [PutRequest(f"/many/{i}", b"x") for i in range(129)])
    with pytest.raises(DuplicateKeyError):
        await store.txn([Compare("/d", "version", "=", 0)], [PutRequest("/d", b"1"), PutRequest("/d", b"2")])
    assert await store.get("/d") is None


async def test_unknown_leases_are_lease_not_found(store):
    for call in (store.lease_keepalive, store.lease_revoke):
        with pytest.raises(LeaseNotFoundError) as error:
            await call(424242)
        assert error.value.lease_id == 424242
    assert (await store.lease_time_to_live(424242)).remaining == -1
    with pytest.raises(LeaseNotFoundError):
        await store.put(PutRequest("/leased", b"x", lease=424242))


async def test_a_full_etcd_is_no_space_and_keeps_what_it_had(tmp_path):
    etcd = EtcdProcess.start(tmp_path, "--quota-backend-bytes", str(4 * 1024 * 1024))
    store = EtcdStore([etcd.url])
    try:
        written = 0
        with pytest.raises(NoSpaceError):
            for i in range(200):
                await store.put(PutRequest(f"/big/{i % 8}", b"x" * (512 * 1024)))
                written = i + 1
        assert written > 0
        latest = await store.get(f"/big/{(written - 1) % 8}")
        assert latest is not None and len(latest.value) == 512 * 1024
    finally:
        await store.close()
        etcd.stop()


def test_a_missing_etcd_binary_says_how_to_get_one(tmp_path, monkeypatch):
    from hyperkube.storage import etcd_server

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("ETCD_BINARY", raising=False)
    monkeypatch.setattr(etcd_server, "DEBIAN_ETCD", str(tmp_path / "etcd"))
    with pytest.raises(etcd_server.EtcdNotFoundError) as error:
        EtcdProcess.start(tmp_path)
    assert "etcd binary was not found" in str(error.value)
    assert "etcd-server" in str(error.value) and "scripts/test" in str(error.value)


def test_endpoints_must_be_http_urls():
    with pytest.raises(ValueError, match="sqlite"):
        EtcdStore(["sqlite:///tmp/x.db"])
    with pytest.raises(ValueError):
        EtcdStore([])


async def test_https_with_client_certificates(tmp_path):
    tls = make_tls(tmp_path)
    etcd = start_etcd(tmp_path, tls=tls)
    assert etcd.url.startswith("https://")
    store = EtcdStore([etcd.url], ca_file=tls.ca_file, cert_file=tls.client_cert, key_file=tls.client_key)
    anonymous = EtcdStore([etcd.url], ca_file=tls.ca_file)
    try:
        revision = (await store.put(PutRequest("/tls", b"secret"))).revision
        async with contextlib.aclosing(store.watch("/tls", start_revision=revision)) as watch:
            assert (await asyncio.wait_for(anext(watch), 10)).events[0].kv.value == b"secret"
        with pytest.raises(UnavailableError):  # etcd refuses a client without a certificate
            await anonymous.get("/tls")
    finally:
        await store.close()
        await anonymous.close()
        etcd.stop()
