"""Watch: framing, start points, selectors over old and new, Tables, 410, several servers."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

import aiohttp

from hyperkube.apiserver.app import APIServer, APIServerConfig
from tests.apiserver._server import TABLE, Client, pod

PODS = "/api/v1/namespaces/default/pods"


class Stream:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self, wait: float = 5.0) -> dict:
        line = await asyncio.wait_for(self.response.content.readline(), wait)
        assert line.endswith(b"\n"), line
        return json.loads(line)

    async def events(self, count: int) -> list[tuple[str, str]]:
        out = []
        for _ in range(count):
            event = await self.next()
            out.append((event["type"], event["object"].get("metadata", {}).get("name", "")))
        return out


@asynccontextmanager
async def watching(client: Client, query: str, headers: dict | None = None, path: str = PODS):
    async with client.session.get(client.url + path + "?watch=true&" + query, headers=headers,
                                  timeout=aiohttp.ClientTimeout(total=30)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        yield Stream(response)


async def test_watch_from_now_sees_added_modified_deleted(client):
    _, listing = await client.get(PODS)
    async with watching(client, f"resourceVersion={listing['metadata']['resourceVersion']}") as stream:
        _, created = await client.post(PODS, pod("w"))
        created["metadata"]["labels"] = {"x": "y"}
        await client.put(f"{PODS}/w", created)
        await client.delete(f"{PODS}/w")
        events = [await stream.next() for _ in range(3)]
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[0]["object"]["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    revisions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert revisions == sorted(revisions) and len(set(revisions)) == 3


async def test_watch_without_resource_version_starts_with_synthetic_added(client):
    await client.post(PODS, pod("a"))
    await client.post(PODS, pod("b"))
    async with watching(client, "allowWatchBookmarks=true&timeoutSeconds=5") as stream:
        assert await stream.events(2) == [("ADDED", "a"), ("ADDED", "b")]
        await client.post(PODS, pod("c"))
        assert await stream.events(1) == [("ADDED", "c")]


async def test_watch_from_an_older_revision_replays(client):
    _, first = await client.post(PODS, pod("r1"))
    await client.post(PODS, pod("r2"))
    await client.delete(f"{PODS}/r1")
    async with watching(client, f"resourceVersion={first['metadata']['resourceVersion']}") as stream:
        assert await stream.events(2) == [("ADDED", "r2"), ("DELETED", "r1")]


async def test_send_initial_events_ends_with_annotated_bookmark(client):
    await client.post("/apis/apps/v1/namespaces/default/deployments", {
        "metadata": {"name": "d1"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    query = ("allowWatchBookmarks=true&fieldSelector=metadata.name%3Dd1&resourceVersionMatch=NotOlderThan"
             "&sendInitialEvents=true&timeoutSeconds=546")
    async with watching(client, query, path="/apis/apps/v1/namespaces/default/deployments") as stream:
        added = await stream.next()
        assert added["type"] == "ADDED" and added["object"]["metadata"]["name"] == "d1"
        bookmark = await stream.next()
        assert bookmark["type"] == "BOOKMARK"
        assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        await client.delete("/apis/apps/v1/namespaces/default/deployments/d1")
        assert (await stream.next())["type"] == "DELETED"
    status, error = await client.get(PODS + "?watch=true&sendInitialEvents=true")
    assert status == 422


async def test_selector_checked_against_old_and_new(client):
    _, created = await client.post(PODS, pod("s", {"app": "web"}))
    rv = created["metadata"]["resourceVersion"]
    async with watching(client, f"resourceVersion={rv}&labelSelector=app%3Dweb") as stream:
        created["metadata"]["labels"] = {"app": "db"}
        _, moved = await client.put(f"{PODS}/s", created)
        deleted = await stream.next()
        assert deleted["type"] == "DELETED" and deleted["object"]["metadata"]["name"] == "s"
        moved["metadata"]["labels"] = {"app": "web"}
        await client.put(f"{PODS}/s", moved)
        assert (await stream.next())["type"] == "ADDED"
        await client.post(PODS, pod("other", {"app": "db"}))
        await client.post(PODS, pod("mine", {"app": "web"}))
        assert await stream.events(1) == [("ADDED", "mine")]


async def test_table_watch_events_are_one_row_tables(client):
    status, table = await client.get(PODS, headers={"Accept": TABLE})
    async with watching(client, f"resourceVersion={table['metadata']['resourceVersion']}",
                        headers={"Accept": TABLE}) as stream:
        await client.post(PODS, pod("t"))
        event = await stream.next()
    assert event["type"] == "ADDED" and event["object"]["kind"] == "Table"
    assert len(event["object"]["rows"]) == 1 and event["object"]["rows"][0]["cells"][0] == "t"


async def test_timeout_seconds_ends_the_stream(client):
    async with watching(client, "timeoutSeconds=1&resourceVersion=0") as stream:
        rest = await asyncio.wait_for(stream.response.content.read(), 10)
    assert rest == b""


async def test_compacted_resource_version_is_410_error_event(client, server):
    _, first = await client.post(PODS, pod("old"))
    for i in range(5000 // 1000):
        await client.post(PODS, pod(f"n{i}"))
    current = int((await client.get(PODS))[1]["metadata"]["resourceVersion"])
    await server.store.compact(current)
    async with watching(client, f"resourceVersion={int(first['metadata']['resourceVersion']) - 1}") as stream:
        event = await stream.next()
    assert event["type"] == "ERROR" and event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"
    status, error = await client.get(PODS + f"?resourceVersion={first['metadata']['resourceVersion']}"
                                     "&resourceVersionMatch=Exact")
    assert status == 410


async def test_two_servers_on_one_store_see_each_others_writes(tmp_path):
    database = f"sqlite:///{tmp_path}/shared.db"
    one = APIServer(APIServerConfig(port=0, data_dir=str(tmp_path), etcd_servers=database))
    two = APIServer(APIServerConfig(port=0, data_dir=str(tmp_path), etcd_servers=database))
    await one.start()
    await two.start()
    try:
        async with aiohttp.ClientSession() as session:
            a, b = Client(session, one.url), Client(session, two.url)
            async with watching(b, "resourceVersion=0") as stream:
                await a.post(PODS, pod("from-one"))
                assert await stream.events(1) == [("ADDED", "from-one")]
            assert (await b.get(f"{PODS}/from-one"))[0] == 200
            status, error = await b.post(PODS, pod("from-one"))
            assert status == 409
    finally:
        await two.stop()
        await one.stop()


async def test_idle_watch_with_bookmarks_gets_bookmarks(client, monkeypatch):
    from hyperkube.apiserver import watch

    monkeypatch.setattr(watch, "BOOKMARK_INTERVAL", 0.2)
    monkeypatch.setattr(watch, "POLL", 0.1)
    _, listing = await client.get(PODS)
    rv = listing["metadata"]["resourceVersion"]
    async with watching(client, f"resourceVersion={rv}&allowWatchBookmarks=true") as stream:
        event = await stream.next()
    assert event["type"] == "BOOKMARK" and event["object"]["kind"] == "Pod"
    assert int(event["object"]["metadata"]["resourceVersion"]) >= int(rv)


async def test_resuming_from_a_recent_revision_is_served_from_the_feed(client, server):
    _, start = await client.get(PODS)
    rv = start["metadata"]["resourceVersion"]
    async with watching(client, f"resourceVersion={rv}") as first:  # starts the pods feed
        await client.post(PODS, pod("h1"))
        await client.post(PODS, pod("h2"))
        assert await first.events(2) == [("ADDED", "h1"), ("ADDED", "h2")]
        feed = server.hub.feeds["/registry/pods/"]
        assert feed.history_start <= int(rv) + 1  # the history reaches back to rv
        async with watching(client, f"resourceVersion={rv}") as second:
            assert await second.events(2) == [("ADDED", "h1"), ("ADDED", "h2")]
            assert not server.hub.direct  # no store watch of its own
