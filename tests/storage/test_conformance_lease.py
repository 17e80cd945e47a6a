"""Conformance: leases (grant, keepalive, revoke, expiry, time to live)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from hyperkube.storage import LeaseNotFoundError, PutRequest, RangeRequest, Store, prefix_end

from .test_conformance_watch import collect


async def test_grant_keepalive_time_to_live(store: Store) -> None:
    lease = await store.lease_grant(60)
    assert lease.id > 0 and lease.ttl == 60
    await store.put(PutRequest("/l/a", b"1", lease=lease.id))
    await store.put(PutRequest("/l/b", b"1", lease=lease.id))
    kv = await store.get("/l/a")
    assert kv is not None and kv.lease == lease.id
    alive = await store.lease_keepalive(lease.id)
    assert alive.id == lease.id and alive.ttl == 60
    info = await store.lease_time_to_live(lease.id, keys=True)
    assert info.ttl == 60 and 0 < info.remaining <= 60 and sorted(info.keys) == ["/l/a", "/l/b"]


async def test_grant_with_a_chosen_id(store: Store) -> None:
    lease = await store.lease_grant(30, lease_id=4242)
    assert lease.id == 4242
    await store.put(PutRequest("/chosen", b"1", lease=4242))
    assert (await store.get("/chosen")).lease == 4242  # type: ignore[union-attr]


async def test_revoke_deletes_the_keys_in_one_revision(store: Store) -> None:
    lease = await store.lease_grant(60)
    await store.put(PutRequest("/rv/a", b"1", lease=lease.id))  # 2
    await store.put(PutRequest("/rv/b", b"1", lease=lease.id))  # 3
    await store.put(PutRequest("/rv/keep", b"1"))  # 4
    watch = store.watch("/rv/", prefix_end("/rv/"), start_revision=5)
    async with contextlib.aclosing(watch):
        await store.lease_revoke(lease.id)
        events = await collect(watch, 2)
    assert sorted((e.type, e.kv.key, e.kv.mod_revision) for e in events) == [
        ("DELETE", "/rv/a", 5), ("DELETE", "/rv/b", 5)]
    remaining = await store.range(RangeRequest("/rv/", prefix_end("/rv/")))
    assert [kv.key for kv in remaining.kvs] == ["/rv/keep"] and remaining.revision == 5
    with pytest.raises(LeaseNotFoundError):
        await store.lease_keepalive(lease.id)


async def test_expired_lease_deletes_its_keys(store: Store) -> None:
    lease = await store.lease_grant(1)
    await store.put(PutRequest("/ex/a", b"1", lease=lease.id))  # 2
    watch = store.watch("/ex/", prefix_end("/ex/"), start_revision=3)
    async with contextlib.aclosing(watch):
        events = await collect(watch, 1)  # the lease runs out: no keepalive
    assert events[0].type == "DELETE" and events[0].kv.key == "/ex/a"
    assert await store.get("/ex/a") is None
    for _ in range(100):
        if (await store.lease_time_to_live(lease.id)).remaining == -1:
            break
        await asyncio.sleep(0.1)
    assert (await store.lease_time_to_live(lease.id)).remaining == -1


async def test_unknown_lease(store: Store) -> None:
    with pytest.raises(LeaseNotFoundError):
        await store.put(PutRequest("/nolease", b"1", lease=987654321))
    with pytest.raises(LeaseNotFoundError):
        await store.lease_keepalive(987654321)
    with pytest.raises(LeaseNotFoundError):
        await store.lease_revoke(987654321)
    assert await store.get("/nolease") is None


async def test_revoking_a_lease_with_many_keys_is_one_revision(store: Store) -> None:
    lease = await store.lease_grant(60)
    for start in range(0, 300, 100):  # more keys than one txn may hold
        await store.txn([], [PutRequest(f"/many/{i:03d}", b"x", lease=lease.id) for i in range(start, start + 100)])
    before = await store.current_revision()
    await store.lease_revoke(lease.id)
    assert await store.current_revision() == before + 1
    assert (await store.range(RangeRequest("/many/", prefix_end("/many/"), count_only=True))).count == 0
    history = await store.range(RangeRequest("/many/", prefix_end("/many/"), revision=before, count_only=True))
    assert history.count == 300
