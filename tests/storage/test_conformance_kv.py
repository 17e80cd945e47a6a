"""Conformance: revisions, range, put, delete, txn and compaction, on every backend."""

from __future__ import annotations

import pytest

from hyperkube.storage import (
    CompactedError,
    Compare,
    DeleteRequest,
    DuplicateKeyError,
    FutureRevisionError,
    PutRequest,
    RangeRequest,
    Store,
    TooManyOpsError,
    prefix_end,
)


async def put(store: Store, key: str, value: bytes = b"v") -> int:
    return (await store.put(PutRequest(key, value))).revision


async def test_first_write_is_revision_2_and_each_write_adds_one(store: Store) -> None:
    assert await store.current_revision() == 1
    assert await put(store, "/a") == 2
    assert await put(store, "/b") == 3
    assert await store.current_revision() == 3


async def test_one_txn_is_one_revision(store: Store) -> None:
    result = await store.txn([], [PutRequest("/t/a", b"1"), PutRequest("/t/b", b"2"), PutRequest("/t/c", b"3")])
    assert result.succeeded and result.revision == 2
    kvs = (await store.range(RangeRequest("/t/", prefix_end("/t/")))).kvs
    assert [(kv.key, kv.mod_revision, kv.create_revision) for kv in kvs] == [
        ("/t/a", 2, 2), ("/t/b", 2, 2), ("/t/c", 2, 2)]
    assert await store.current_revision() == 2


async def test_reads_and_failed_compares_do_not_bump_the_revision(store: Store) -> None:
    await put(store, "/a")
    read_only = await store.txn([], [RangeRequest("/a")])
    assert read_only.revision == 2 and read_only.responses[0].kvs[0].key == "/a"
    failed = await store.txn([Compare("/a", "version", "=", 5)], [PutRequest("/a", b"x")])
    assert not failed.succeeded and failed.revision == 2
    deleted_nothing = await store.delete_range(DeleteRequest("/missing"))
    assert deleted_nothing.deleted == 0
    assert await store.current_revision() == 2


async def test_range_single_key_and_missing_key(store: Store) -> None:
    await put(store, "/a", b"A")
    await put(store, "/ab", b"AB")
    result = await store.range(RangeRequest("/a"))
    assert [(kv.key, kv.value) for kv in result.kvs] == [("/a", b"A")]
    assert result.count == 1 and not result.more and result.revision == 3
    missing = await store.range(RangeRequest("/nope"))
    assert missing.kvs == [] and missing.count == 0 and missing.revision == 3
    assert await store.get("/ab") is not None and await store.get("/nope") is None


async def test_range_prefix_interval_and_all_keys_sorted(store: Store) -> None:
    for key in ["/r/c", "/r/a", "/s/x", "/r/b", "/q", "/r0"]:
        await put(store, key)
    prefix = await store.range(RangeRequest("/r/", prefix_end("/r/")))
    assert [kv.key for kv in prefix.kvs] == ["/r/a", "/r/b", "/r/c"]
    interval = await store.range(RangeRequest("/r/b", "/s/x"))
    assert [kv.key for kv in interval.kvs] == ["/r/b", "/r/c", "/r0"]
    everything = await store.range(RangeRequest("\0", "\0"))
    assert [kv.key for kv in everything.kvs] == ["/q", "/r/a", "/r/b", "/r/c", "/r0", "/s/x"]
    from_key = await store.range(RangeRequest("/r0", "\0"))
    assert [kv.key for kv in from_key.kvs] == ["/r0", "/s/x"]


async def test_range_orders_keys_bytewise(store: Store) -> None:
    for key in ["/u/é", "/u/z", "/u/A", "/u/日本"]:
        await put(store, key)
    kvs = (await store.range(RangeRequest("/u/", prefix_end("/u/")))).kvs
    assert [kv.key for kv in kvs] == sorted(["/u/é", "/u/z", "/u/A", "/u/日本"], key=lambda k: k.encode())


async def test_range_at_a_past_revision(store: Store) -> None:
    await put(store, "/p/a", b"1")  # 2
    await put(store, "/p/b", b"1")  # 3
    await put(store, "/p/a", b"2")  # 4
    await store.delete_range(DeleteRequest("/p/b"))  # 5
    await put(store, "/p/c", b"1")  # 6
    at3 = await store.range(RangeRequest("/p/", prefix_end("/p/"), revision=3))
    assert [(kv.key, kv.value, kv.mod_revision, kv.version) for kv in at3.kvs] == [
        ("/p/a", b"1", 2, 1), ("/p/b", b"1", 3, 1)]
    assert at3.revision == 6
    at5 = await store.range(RangeRequest("/p/", prefix_end("/p/"), revision=5))
    assert [(kv.key, kv.value) for kv in at5.kvs] == [("/p/a", b"2")]
    single = await store.range(RangeRequest("/p/b", revision=4))
    assert single.kvs[0].value == b"1"
    counted = await store.range(RangeRequest("/p/", prefix_end("/p/"), revision=4, count_only=True))
    assert counted.count == 2 and counted.kvs == []


async def test_range_limit_more_count(store: Store) -> None:
    for i in range(10):
        await put(store, f"/l/{i}")
    first = await store.range(RangeRequest("/l/", prefix_end("/l/"), limit=3))
    assert [kv.key for kv in first.kvs] == ["/l/0", "/l/1", "/l/2"]
    assert first.count == 10 and first.more
    rest = await store.range(RangeRequest("/l/3", prefix_end("/l/"), limit=20))
    assert len(rest.kvs) == 7 and rest.count == 7 and not rest.more
    past = await store.range(RangeRequest("/l/", prefix_end("/l/"), limit=2, revision=6))
    assert [kv.key for kv in past.kvs] == ["/l/0", "/l/1"] and past.count == 5 and past.more


async def test_range_count_only_and_keys_only(store: Store) -> None:
    for i in range(4):
        await put(store, f"/c/{i}", b"value")
    counted = await store.range(RangeRequest("/c/", prefix_end("/c/"), count_only=True))
    assert counted.count == 4 and counted.kvs == []
    keys = await store.range(RangeRequest("/c/", prefix_end("/c/"), keys_only=True))
    assert [kv.key for kv in keys.kvs] == ["/c/0", "/c/1", "/c/2", "/c/3"]
    assert all(kv.value == b"" and kv.mod_revision > 0 and kv.version == 1 for kv in keys.kvs)


async def test_put_versions_and_prev_kv(store: Store) -> None:
    first = await store.put(PutRequest("/k", b"1", prev_kv=True))
    assert first.revision == 2 and first.prev_kv is None
    second = await store.put(PutRequest("/k", b"2", prev_kv=True))
    assert second.prev_kv is not None
    assert (second.prev_kv.value, second.prev_kv.mod_revision, second.prev_kv.version) == (b"1", 2, 1)
    no_prev = await store.put(PutRequest("/k", b"3"))
    assert no_prev.prev_kv is None
    kv = await store.get("/k")
    assert kv is not None and (kv.value, kv.create_revision, kv.mod_revision, kv.version) == (b"3", 2, 4, 3)
    await store.delete_range(DeleteRequest("/k"))
    await put(store, "/k", b"again")
    kv = await store.get("/k")
    assert kv is not None and (kv.create_revision, kv.mod_revision, kv.version) == (6, 6, 1)


async def test_delete_single_and_range_with_prev_kv(store: Store) -> None:
    for key in ["/d/a", "/d/b", "/d/c", "/e"]:
        await put(store, key, key.encode())
    one = await store.delete_range(DeleteRequest("/d/a", prev_kv=True))
    assert one.deleted == 1 and one.revision == 6
    assert [(kv.key, kv.value) for kv in one.prev_kvs] == [("/d/a", b"/d/a")]
    many = await store.delete_range(DeleteRequest("/d/", prefix_end("/d/"), prev_kv=True))
    assert many.deleted == 2 and many.revision == 7 and [kv.key for kv in many.prev_kvs] == ["/d/b", "/d/c"]
    without = await store.delete_range(DeleteRequest("/e"))
    assert without.deleted == 1 and without.prev_kvs == []
    assert (await store.range(RangeRequest("\0", "\0"))).kvs == []


@pytest.mark.parametrize(("target", "result", "value", "holds"), [
    ("version", "=", 2, True), ("version", "!=", 2, False), ("version", "<", 3, True), ("version", ">", 2, False),
    ("create", "=", 2, True), ("create", "<", 2, False), ("create", ">", 1, True), ("create", "!=", 3, True),
    ("mod", "=", 3, True), ("mod", "<", 3, False), ("mod", ">", 2, True), ("mod", "!=", 3, False),
    ("value", "=", b"second", True), ("value", "!=", b"second", False), ("value", "<", b"t", True),
    ("value", ">", b"t", False),
])
async def test_txn_compares(store: Store, target: str, result: str, value: int | bytes, holds: bool) -> None:
    await put(store, "/x", b"first")
    await put(store, "/x", b"second")
    outcome = await store.txn([Compare("/x", target, result, value)],  # type: ignore[arg-type]
                              [PutRequest("/ok", b"yes")], [PutRequest("/failed", b"yes")])
    assert outcome.succeeded is holds and outcome.revision == 4
    assert (await store.get("/ok" if holds else "/failed")) is not None
    assert (await store.get("/failed" if holds else "/ok")) is None


async def test_txn_compare_on_missing_key(store: Store) -> None:
    create_if_absent = await store.txn([Compare("/new", "mod", "=", 0)], [PutRequest("/new", b"1")])
    assert create_if_absent.succeeded and create_if_absent.revision == 2
    again = await store.txn([Compare("/new", "mod", "=", 0)], [PutRequest("/new", b"2")],
                            [RangeRequest("/new")])
    assert not again.succeeded and again.responses[0].kvs[0].value == b"1"
    assert (await store.txn([Compare("/absent", "version", "=", 0)])).succeeded
    assert not (await store.txn([Compare("/absent", "value", "=", b"")])).succeeded


async def test_txn_optimistic_update_and_multiple_compares(store: Store) -> None:
    await put(store, "/obj", b"v1")
    kv = await store.get("/obj")
    assert kv is not None
    update = await store.txn([Compare("/obj", "mod", "=", kv.mod_revision), Compare("/obj", "version", "=", 1)],
                             [PutRequest("/obj", b"v2", prev_kv=True), DeleteRequest("/other")])
    assert update.succeeded and update.responses[0].prev_kv.value == b"v1"
    stale = await store.txn([Compare("/obj", "mod", "=", kv.mod_revision)], [PutRequest("/obj", b"v3")])
    assert not stale.succeeded
    assert (await store.get("/obj")).value == b"v2"  # type: ignore[union-attr]


async def test_txn_compare_over_a_range(store: Store) -> None:
    await store.txn([], [PutRequest("/g/a", b"1"), PutRequest("/g/b", b"1")])
    await put(store, "/g/c", b"1")
    assert (await store.txn([Compare("/g/", "mod", "<", 3, prefix_end("/g/"))])).succeeded is False
    assert (await store.txn([Compare("/g/", "mod", "<", 4, prefix_end("/g/"))])).succeeded is True
    assert (await store.txn([Compare("/g/", "value", "=", b"1", prefix_end("/g/"))])).succeeded is True


async def test_txn_writing_one_key_twice_is_refused(store: Store) -> None:
    with pytest.raises(DuplicateKeyError):
        await store.txn([], [PutRequest("/dup", b"1"), PutRequest("/dup", b"2")])
    assert await store.current_revision() == 1


async def test_txn_op_limit_is_etcds_default_128(store: Store) -> None:
    assert (await store.txn([], [PutRequest(f"/ops/{i:03d}", b"x") for i in range(128)])).revision == 2
    with pytest.raises(TooManyOpsError):
        await store.txn([], [PutRequest(f"/more/{i:03d}", b"x") for i in range(129)])
    assert await store.current_revision() == 2


async def test_future_revision(store: Store) -> None:
    await put(store, "/a")
    with pytest.raises(FutureRevisionError):
        await store.range(RangeRequest("/a", revision=3))


async def test_compaction(store: Store) -> None:
    await put(store, "/c", b"1")  # 2
    await put(store, "/c", b"2")  # 3
    await put(store, "/other", b"1")  # 4
    await put(store, "/c", b"3")  # 5
    await store.compact(4)
    with pytest.raises(CompactedError):
        await store.range(RangeRequest("/c", revision=3))
    at4 = await store.range(RangeRequest("\0", "\0", revision=4))
    assert [(kv.key, kv.value) for kv in at4.kvs] == [("/c", b"2"), ("/other", b"1")]
    assert (await store.get("/c")).value == b"3"  # type: ignore[union-attr]
    status = await store.status()
    assert status.revision == 5 and status.compact_revision == 4
    with pytest.raises(CompactedError):
        await store.compact(3)
    with pytest.raises(FutureRevisionError):
        await store.compact(9)


async def test_status(store: Store) -> None:
    await put(store, "/s", b"x" * 1000)
    status = await store.status()
    assert status.revision == 2 and status.db_size > 0
    assert status.version.split()[0] in {"sqlite", "etcd"} and status.endpoint
