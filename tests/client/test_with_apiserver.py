"""The client, informers, leader election and events against the real in-process API server.

Each test runs hyperkube's API server on an ephemeral 127.0.0.1 port over a SQLite store in a
tmp dir. Where a test needs a flaky network it goes through :class:`NetworkProxy`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hyperkube.apiserver.app import APIServer, APIServerConfig
from hyperkube.client import (
    EVENTS,
    AlreadyExists,
    Client,
    Config,
    Conflict,
    Discovery,
    EventRecorder,
    Gone,
    Informer,
    InformerFactory,
    Invalid,
    LeaderElectionConfig,
    LeaderElector,
    NotFound,
    RetryPolicy,
    WorkQueue,
)
from hyperkube.storage import open_store
from tests.client.netproxy import NetworkProxy

PODS = "v1/pods"
CONFIGMAPS = "v1/configmaps"
DEPLOYMENTS = "apps/v1/deployments"


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


@pytest.fixture
async def store(tmp_path):
    shared = open_store("", data_dir=str(tmp_path))
    await shared.start()
    yield shared
    await shared.close()


@pytest.fixture
async def apiservers(store, tmp_path) -> AsyncIterator[Any]:
    """``await start()`` gives one more API server over the same store."""
    started: list[APIServer] = []

    async def start() -> APIServer:
        server = APIServer(APIServerConfig(port=0, data_dir=str(tmp_path)), store=store)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        await server.stop()


@pytest.fixture
async def apiserver(apiservers) -> APIServer:
    return await apiservers()


@pytest.fixture
async def client(apiserver) -> AsyncIterator[Client]:
    async with Client(Config(server=apiserver.url)) as c:
        yield c


@pytest.fixture
async def proxy(apiserver) -> AsyncIterator[NetworkProxy]:
    network = NetworkProxy("127.0.0.1", apiserver.port)
    await network.start()
    yield network
    await network.close()


async def test_crud_and_typed_errors(client):
    created = await client.create(PODS, pod("web", app="web"), namespace="default")
    assert created["metadata"]["uid"] and created["metadata"]["namespace"] == "default"
    with pytest.raises(AlreadyExists):
        await client.create(PODS, pod("web"), namespace="default")
    got = await client.get(PODS, "web", namespace="default")
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    got["metadata"]["labels"]["tier"] = "front"
    updated = await client.update(PODS, got)
    with pytest.raises(Conflict):
        await client.update(PODS, got)  # the resourceVersion it carries is stale now
    assert updated["metadata"]["labels"]["tier"] == "front"
    assert int(updated["metadata"]["resourceVersion"]) > int(got["metadata"]["resourceVersion"])
    updated["status"] = {"phase": "Running"}
    status = await client.update_status(PODS, updated)
    assert status["status"]["phase"] == "Running"

    listed = await client.list(PODS, namespace="default", label_selector={"app": "web"})
    assert [p["metadata"]["name"] for p in listed["items"]] == ["web"]
    assert (await client.list(PODS, namespace="default", label_selector="app=other"))["items"] == []

    with pytest.raises(Invalid) as invalid:
        await client.create(PODS, {"metadata": {"name": "bad"}, "spec": {"containers": []}}, namespace="default")
    assert invalid.value.details.get("causes")
    await client.delete(PODS, "web", namespace="default")
    with pytest.raises(NotFound) as missing:
        await client.get(PODS, "web", namespace="default")
    assert missing.value.message == 'pods "web" not found'


async def test_list_all_pages_through_continue_tokens(client):
    for i in range(7):
        await client.create(CONFIGMAPS, {"metadata": {"name": f"cm-{i}"}, "data": {"i": str(i)}},
                            namespace="default")
    pages = [page async for page in client.pages(CONFIGMAPS, namespace="default", page_size=3)]
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    everything = await client.list_all(CONFIGMAPS, namespace="default", page_size=3)
    assert sorted(i["metadata"]["name"] for i in everything["items"]) == [f"cm-{i}" for i in range(7)]
    assert "continue" not in everything["metadata"]
    await client.delete_collection(CONFIGMAPS, namespace="default", label_selector=None)
    assert (await client.list(CONFIGMAPS, namespace="default"))["items"] == []


async def test_watch_and_gone_after_compaction(client, store):
    start = (await client.list(PODS, namespace="default"))["metadata"]["resourceVersion"]
    watch = client.watch(PODS, namespace="default", resource_version=start)
    async with watch:
        await client.create(PODS, pod("a"), namespace="default")
        await client.delete(PODS, "a", namespace="default")
        seen = []
        async with asyncio.timeout(10):
            async for event in watch:
                seen.append((event.type, event.object["metadata"]["name"]))
                if event.type == "DELETED":
                    break
    assert seen[0] == ("ADDED", "a") and seen[-1] == ("DELETED", "a")
    await store.compact(await store.current_revision())
    with pytest.raises(Gone):
        async with asyncio.timeout(10):
            async for _ in client.watch(PODS, namespace="default", resource_version="1"):
                pass


async def test_informer_relists_after_compaction_behind_a_restarted_server(apiservers, apiserver, store, proxy):
    """The informer's server goes away; while it is unreachable objects change and the store
    is compacted; it reconnects to another server, whose watch answers 410; it relists."""
    writer = Client(Config(server=apiserver.url))
    await writer.create(PODS, pod("old"), namespace="default")
    client = Client(Config(server=proxy.url), retry=RetryPolicy(max_retries=0))
    informer = Informer(client, PODS, namespace="default")
    informer._backoff_initial = 0.001
    events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    informer.add_event_handler(lambda o: events.put_nowait(("add", o["metadata"]["name"])),
                               lambda old, new: events.put_nowait(("update", new["metadata"]["name"])),
                               lambda o: events.put_nowait(("delete", o["metadata"]["name"])))
    informer.start()
    async with asyncio.timeout(10):
        await informer.wait_for_sync()
        assert await events.get() == ("add", "old")
        await writer.create(PODS, pod("live"), namespace="default")  # through the open watch
        assert await events.get() == ("add", "live")

    proxy.pause()
    proxy.sever()
    await writer.delete(PODS, "old", namespace="default")
    await writer.create(PODS, pod("new"), namespace="default")
    await store.compact(await store.current_revision())
    other = await apiservers()
    proxy.target = ("127.0.0.1", other.port)
    proxy.resume()
    async with asyncio.timeout(10):
        got = sorted([await events.get(), await events.get()])
    assert got == [("add", "new"), ("delete", "old")]
    assert informer.list_count == 2
    assert informer.cache.keys() == ["default/live", "default/new"]
    await informer.stop()
    await client.close()
    await writer.close()


async def test_controller_loop_with_factory_and_workqueue(client):
    """The controller pattern end to end: informer -> workqueue of keys -> sync writes back."""
    factory = InformerFactory(client, namespace="default")
    configmaps = factory.informer(CONFIGMAPS)
    queue = WorkQueue()
    all_seen = asyncio.Event()

    def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
        queue.add(new["metadata"]["name"])
        if sum((o.get("data") or {}).get("seen") == "yes" for o in configmaps.cache.list()) == 3:
            all_seen.set()

    configmaps.add_event_handler(lambda o: queue.add(o["metadata"]["name"]), on_update)
    factory.start()
    await factory.wait_for_sync()
    synced: list[str] = []

    async def worker() -> None:
        async for name in queue:
            try:
                obj = configmaps.cache.get_object(name, "default")
                if obj is not None and (obj.get("data") or {}).get("seen") != "yes":
                    await client.patch(CONFIGMAPS, name, {"data": {"seen": "yes"}}, namespace="default")
                    synced.append(name)
                queue.forget(name)
            except Exception:
                queue.add_rate_limited(name)
            finally:
                queue.done(name)

    task = asyncio.create_task(worker())
    for i in range(3):
        await client.create(CONFIGMAPS, {"metadata": {"name": f"c{i}"}, "data": {}}, namespace="default")
    async with asyncio.timeout(10):
        await all_seen.wait()  # the informer saw the controller's own writes come back
    queue.shutdown()
    await task
    await factory.stop()
    assert sorted(synced) == ["c0", "c1", "c2"]


async def test_leader_election_over_a_real_lease(apiserver):
    fast = {"lease_duration": 1.0, "renew_deadline": 0.5, "retry_period": 0.05}
    clients = [Client(Config(server=apiserver.url)) for _ in range(2)]
    started = [asyncio.Event(), asyncio.Event()]
    someone_leads = asyncio.Event()

    def work(i: int):
        async def run() -> None:
            started[i].set()
            someone_leads.set()
            await asyncio.Event().wait()
        return run

    electors = [LeaderElector(clients[i], LeaderElectionConfig("ctrl", namespace="default", identity=f"id-{i}",
                                                               **fast), on_started_leading=work(i))
                for i in range(2)]
    tasks = [asyncio.create_task(e.run()) for e in electors]
    async with asyncio.timeout(10):
        await someone_leads.wait()
    leader = 0 if started[0].is_set() else 1
    follower = 1 - leader
    await asyncio.sleep(0.2)
    assert electors[leader].is_leader() and not electors[follower].is_leader()
    lease = await clients[0].get("coordination.k8s.io/v1/leases", "ctrl", namespace="default")
    assert lease["spec"]["holderIdentity"] == f"id-{leader}"

    tasks[leader].cancel()
    await asyncio.gather(tasks[leader], return_exceptions=True)
    async with asyncio.timeout(10):
        await started[follower].wait()
    lease = await clients[0].get("coordination.k8s.io/v1/leases", "ctrl", namespace="default")
    assert lease["spec"]["holderIdentity"] == f"id-{follower}" and lease["spec"]["leaseTransitions"] >= 1
    tasks[follower].cancel()
    await asyncio.gather(tasks[follower], return_exceptions=True)
    for c in clients:
        await c.close()


async def test_event_recorder_aggregates_on_the_server(client):
    target = await client.create(PODS, pod("noisy"), namespace="default")
    recorder = EventRecorder(client, "test-controller", host="node-1")
    for _ in range(3):
        recorder.event(target, "Warning", "BackOff", "Back-off restarting failed container")
    await recorder.close()
    events = await client.list(EVENTS, namespace="default",
                               field_selector="involvedObject.name=noisy,involvedObject.namespace=default")
    (event,) = events["items"]
    assert event["count"] == 3 and event["reason"] == "BackOff" and event["type"] == "Warning"
    assert event["involvedObject"]["uid"] == target["metadata"]["uid"]
    assert event["source"] == {"component": "test-controller", "host": "node-1"}


async def test_discovery_against_the_server(client):
    discovery = Discovery(client)
    assert (await discovery.resolve("po")).name == "pods"
    deploy = await discovery.resolve("deploy")
    assert (deploy.group, deploy.version, deploy.namespaced) == ("apps", "v1", True)
    assert (await discovery.for_kind("coordination.k8s.io/v1", "Lease")).name == "leases"
    assert "pods" in {r.name for r in await discovery.by_category("all")}


async def test_watch_as_tables_for_kubectl_get_w(client):
    table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    listed = await client.list(CONFIGMAPS, namespace="default", accept=table)
    assert listed["kind"] == "Table"
    watch = client.watch(CONFIGMAPS, namespace="default", accept=table, allow_bookmarks=False,
                         resource_version=listed["metadata"]["resourceVersion"])
    async with watch:
        await client.create(CONFIGMAPS, {"metadata": {"name": "t"}}, namespace="default")
        async with asyncio.timeout(10):
            event = await watch.__anext__()
    assert event.type == "ADDED" and event.object["kind"] == "Table"
    assert event.object["rows"][0]["cells"][0] == "t"


async def test_patches_of_every_type(client):
    await client.create(DEPLOYMENTS, {
        "metadata": {"name": "d", "labels": {"app": "d"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.26"}]}}}},
        namespace="default")
    merged = await client.patch(DEPLOYMENTS, "d", {"metadata": {"annotations": {"a": "1"}}}, namespace="default")
    assert merged["metadata"]["annotations"] == {"a": "1"}
    strategic = await client.patch(DEPLOYMENTS, "d", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "nginx:1.27"}]}}}}, namespace="default", patch_type="strategic")
    assert strategic["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    rv = strategic["metadata"]["resourceVersion"]
    guarded = [{"op": "test", "path": "/metadata/resourceVersion", "value": rv},
               {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/f"]}]
    assert (await client.patch(DEPLOYMENTS, "d", guarded, namespace="default", patch_type="json"))[
        "metadata"]["finalizers"] == ["example.com/f"]
    with pytest.raises(Invalid):  # the test op fails now that the version moved on (422, as Kubernetes)
        await client.patch(DEPLOYMENTS, "d", guarded, namespace="default", patch_type="json")
    scaled = await client.patch(DEPLOYMENTS, "d", {"spec": {"replicas": 3}}, namespace="default",
                                subresource="scale")
    assert scaled["kind"] == "Scale" and scaled["spec"]["replicas"] == 3
    status = await client.patch_status(DEPLOYMENTS, "d", {"status": {"observedGeneration": 5}},
                                       namespace="default")
    assert status["status"]["observedGeneration"] == 5
    await client.patch(DEPLOYMENTS, "d", [{"op": "remove", "path": "/metadata/finalizers"}],
                       namespace="default", patch_type="json")
