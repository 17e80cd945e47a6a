"""Informers against a list/watch server: cache, indexers, handlers, relist on 410, resume, resync."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hyperkube.client import Informer, InformerFactory
from tests.client.fake_apiserver import FakeAPIServer, pod

PODS = "v1/pods"


class Recorder:
    """Event handlers that log what they were told and let the test wait for it."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()

    def on_add(self, obj: dict[str, Any]) -> None:
        self.events.put_nowait(("add", obj["metadata"]["name"]))

    async def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:  # coroutines work too
        self.events.put_nowait(("update", new["metadata"]["name"], old["metadata"]["resourceVersion"],
                                new["metadata"]["resourceVersion"]))

    def on_delete(self, obj: dict[str, Any]) -> None:
        self.events.put_nowait(("delete", obj["metadata"]["name"]))

    async def next(self, count: int = 1) -> list[tuple[str, ...]]:
        async with asyncio.timeout(10):
            return [await self.events.get() for _ in range(count)]

    def attach(self, informer: Informer) -> None:
        informer.add_event_handler(self.on_add, self.on_update, self.on_delete)


@pytest.fixture
async def fake():
    server = FakeAPIServer()
    yield server
    server.end_watches()


def by_node(obj: dict[str, Any]) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


async def test_list_then_watch_into_an_indexed_cache(serve, fake):
    fake.write("ADDED", pod("a", node="n1"))
    fake.write("ADDED", pod("b", namespace="other", node="n1"))
    fake.write("ADDED", pod("c"))
    client = await serve(fake.app)
    informer = Informer(client, PODS, indexers={"node": by_node}, page_size=2)
    recorder = Recorder()
    recorder.attach(informer)
    informer.start()
    assert await informer.wait_for_sync()
    assert sorted(await recorder.next(3)) == [("add", "a"), ("add", "b"), ("add", "c")]
    assert informer.cache.keys() == ["default/a", "default/c", "other/b"]
    assert informer.cache.get("default/a")["kind"] == "Pod"  # filled in from the PodList
    assert [p["metadata"]["name"] for p in informer.cache.by_index("node", "n1")] == ["a", "b"]
    assert [p["metadata"]["name"] for p in informer.cache.list("default")] == ["a", "c"]
    assert [q.get("continue") for q in fake.list_requests()] == [None, "2"]

    await fake.wait_for_watches(1)
    old = informer.cache.get("default/c")
    modified = fake.write("MODIFIED", {**pod("c", node="n2")})
    assert await recorder.next() == [("update", "c", old["metadata"]["resourceVersion"],
                                      modified["metadata"]["resourceVersion"])]
    assert informer.cache.index_keys("node", "n2") == ["default/c"]
    fake.write("DELETED", pod("a", node="n1"))
    fake.write("ADDED", pod("d"))
    assert await recorder.next(2) == [("delete", "a"), ("add", "d")]
    assert informer.cache.index_keys("node", "n1") == ["other/b"]
    assert informer.resource_version == str(fake.revision)
    assert fake.watch_requests()[0]["resourceVersion"] == "4"  # the list's version
    await informer.stop()


async def test_relist_after_410_reconciles_lost_changes(serve, fake):
    fake.write("ADDED", pod("keep"))
    fake.write("ADDED", pod("gone"))
    client = await serve(fake.app)
    informer = Informer(client, PODS, namespace="default")
    recorder = Recorder()
    recorder.attach(informer)
    informer.start()
    await informer.wait_for_sync()
    await recorder.next(2)
    await fake.wait_for_watches(1)

    # changes whose events were compacted away, then the watch is told its version is too old
    fake.silently("DELETED", pod("gone"))
    fake.silently("ADDED", pod("new"))
    fake.silently("MODIFIED", pod("keep", node="n9"))
    fake.expire_watches()
    events = await recorder.next(3)
    assert sorted(e[:2] for e in events) == [("add", "new"), ("delete", "gone"), ("update", "keep")]
    assert informer.list_count == 2
    assert informer.cache.keys() == ["default/keep", "default/new"]
    assert informer.cache.get("default/keep")["spec"] == {"nodeName": "n9"}
    assert fake.list_requests()[-1].get("resourceVersion") is None
    await informer.stop()


async def test_stream_end_resumes_from_the_last_bookmark_without_relisting(serve, fake):
    fake.write("ADDED", pod("a"))
    client = await serve(fake.app)
    informer = Informer(client, PODS)
    recorder = Recorder()
    recorder.attach(informer)
    informer.start()
    await informer.wait_for_sync()
    await recorder.next()
    await fake.wait_for_watches(1)
    fake.silently("ADDED", pod("invisible"))  # moves the revision on; no event
    fake.compacted = 0
    fake.log.clear()
    fake.bookmark()
    fake.end_watches()
    await fake.wait_for_watches(2)
    first, second = fake.watch_requests()
    assert (first["resourceVersion"], second["resourceVersion"]) == ("2", str(fake.revision))
    assert first["allowWatchBookmarks"] == "true"
    assert informer.list_count == 1
    fake.write("ADDED", pod("b"))
    assert await recorder.next() == [("add", "b")]
    await informer.stop()


async def test_errors_are_retried_and_resync_redelivers(serve, fake):
    fake.write("ADDED", pod("a"))
    fake.fail_next = [500, 503]
    client = await serve(fake.app)
    informer = Informer(client, PODS)
    informer._backoff_initial = 0.001
    informer.start()
    assert await informer.wait_for_sync()
    assert len(fake.list_requests()) >= 2

    recorder = Recorder()
    recorder.attach(informer)  # a late handler first hears about what is cached
    assert await recorder.next() == [("add", "a")]
    await informer.resync()
    rv = informer.cache.get("default/a")["metadata"]["resourceVersion"]
    assert await recorder.next() == [("update", "a", rv, rv)]
    await informer.stop()


async def test_wait_for_sync_times_out_while_the_server_refuses(serve, fake):
    fake.fail_next = [500] * 1000
    client = await serve(fake.app)
    informer = Informer(client, PODS)
    informer._backoff_initial = 0.001
    informer.start()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await informer.wait_for_sync()
    assert not informer.has_synced
    await informer.stop()


async def test_factory_shares_one_informer_per_resource_and_selector(serve, fake):
    fake.write("ADDED", pod("a", app="web"))
    client = await serve(fake.app)
    factory = InformerFactory(client)
    pods = factory.informer(PODS)
    assert factory.informer("v1/pods", indexers={"node": by_node}) is pods
    web = factory.informer(PODS, label_selector={"app": "web"})
    assert web is not pods and factory.informer(PODS, label_selector="app=web") is web
    assert factory.informer(PODS, namespace="default") is not pods
    factory.start()
    assert await factory.wait_for_sync()
    assert pods.cache.keys() == ["default/a"] and "node" in pods.cache._indexers
    assert {q.get("labelSelector") for q in fake.list_requests()} == {None, "app=web"}
    await factory.stop()


async def test_lost_connection_resumes_the_watch_then_410_relists(serve, fake):
    fake.write("ADDED", pod("a"))
    client = await serve(fake.app)
    informer = Informer(client, PODS)
    informer._backoff_initial = 0.001
    recorder = Recorder()
    recorder.attach(informer)
    informer.start()
    await informer.wait_for_sync()
    await recorder.next()
    await fake.wait_for_watches(1)

    # the connection breaks; a change made meanwhile reaches the informer by resuming the watch
    fake.break_watches()
    fake.write("ADDED", pod("b"))
    assert await recorder.next() == [("add", "b")]
    assert informer.list_count == 1
    first, resumed = fake.watch_requests()
    assert first["resourceVersion"] == resumed["resourceVersion"] == "2"

    # this time the history is compacted while disconnected: resuming is refused with 410
    fake.break_watches()
    fake.silently("DELETED", pod("a"))
    fake.silently("ADDED", pod("c"))
    assert sorted(await recorder.next(2)) == [("add", "c"), ("delete", "a")]
    assert informer.list_count == 2
    assert fake.watch_requests()[2]["resourceVersion"] == "3"
    assert informer.cache.keys() == ["default/b", "default/c"]
    await informer.stop()
