"""The add-on manager against a real in-process API server: apply, change, prune, malformed files."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from hyperkube.addons.manager import LABEL, AddonConfig, AddonManager, label_value
from hyperkube.client import Client, Config, NotFound, TransportError
from tests.apiserver._server import server  # noqa: F401

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}, namespace: {namespace}}}
data: {{key: "{value}"}}
"""

NAMESPACE_AND_SERVICE = """apiVersion: v1
kind: Service
metadata: {name: greeter, namespace: tools}
spec: {ports: [{port: 80}], selector: {app: greeter}}
---
apiVersion: v1
kind: Namespace
metadata: {name: tools}
"""


@pytest.fixture
async def kube(server) -> AsyncIterator[Client]:  # noqa: F811
    async with Client(Config(server=server.url)) as client:
        yield client


@pytest.fixture
async def manager(kube, tmp_path) -> AsyncIterator[AddonManager]:
    instance = AddonManager(kube, AddonConfig(directory=str(tmp_path / "addons"), poll_interval=0.05))
    (tmp_path / "addons").mkdir()
    try:
        yield instance
    finally:
        await instance.stop()


def write(manager: AddonManager, name: str, text: str) -> None:
    path = os.path.join(manager.config.directory, name)
    with open(path, "w") as handle:
        handle.write(text)
    stat = os.stat(path)  # a rewrite within the same clock tick must still count as a change
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


async def exists(kube: Client, resource: str, name: str, namespace: str | None = None) -> bool:
    try:
        await kube.get(resource, name, namespace=namespace)
    except NotFound:
        return False
    return True


async def test_applies_every_document_of_every_file_with_its_label(manager, kube):
    write(manager, "tools.yaml", NAMESPACE_AND_SERVICE)
    write(manager, "settings.json", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},'
                                    ' "data": {"mode": "fast"}}')
    write(manager, "notes.txt", "not a manifest")
    await manager.sync()
    service = await kube.get("v1/services", "greeter", namespace="tools")  # the Namespace went first
    assert service["metadata"]["labels"][LABEL] == "tools.yaml"
    assert [m["manager"] for m in service["metadata"]["managedFields"]] == ["hyperkube-addons"]
    settings = await kube.get("v1/configmaps", "settings", namespace="default")
    assert settings["metadata"]["labels"][LABEL] == "settings.json"
    assert settings["data"] == {"mode": "fast"}
    namespace = await kube.get("v1/namespaces", "tools")
    assert namespace["metadata"]["labels"][LABEL] == "tools.yaml"


async def test_a_changed_file_is_reapplied_and_objects_dropped_from_it_are_pruned(manager, kube):
    write(manager, "config.yaml", CONFIGMAP.format(name="one", namespace="default", value="1") + "---\n"
          + CONFIGMAP.format(name="two", namespace="default", value="2"))
    await manager.sync()
    assert await exists(kube, "v1/configmaps", "two", "default")
    await kube.patch("v1/configmaps", "one", {"data": {"key": "edited"}}, namespace="default")

    write(manager, "config.yaml", CONFIGMAP.format(name="one", namespace="default", value="changed"))
    await manager.sync()
    assert (await kube.get("v1/configmaps", "one", namespace="default"))["data"] == {"key": "changed"}
    assert not await exists(kube, "v1/configmaps", "two", "default")


async def test_removing_a_file_prunes_what_it_created_and_only_that(manager, kube):
    write(manager, "web.yaml", """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: web-team}
""")
    write(manager, "keep.yaml", CONFIGMAP.format(name="keep", namespace="default", value="k"))
    await manager.sync()
    assert await exists(kube, "apps/v1/deployments", "web", "default")
    await kube.create("v1/configmaps", {"metadata": {"name": "mine", "labels": {LABEL: "other.yaml"}}},
                      namespace="default")  # someone else's object with a stale label is pruned too

    os.remove(os.path.join(manager.config.directory, "web.yaml"))
    await manager.sync()
    assert not await exists(kube, "apps/v1/deployments", "web", "default")
    namespace = await kube.get("v1/namespaces", "web-team") if await exists(kube, "v1/namespaces", "web-team") \
        else None
    assert namespace is None or namespace["metadata"].get("deletionTimestamp")  # terminating
    assert await exists(kube, "v1/configmaps", "keep", "default")
    assert not await exists(kube, "v1/configmaps", "mine", "default")


async def test_a_malformed_file_is_reported_and_skipped_while_others_work(manager, kube):
    write(manager, "broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n")
    write(manager, "nameless.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    write(manager, "good.yaml", CONFIGMAP.format(name="good", namespace="default", value="g"))
    await manager.sync()
    assert await exists(kube, "v1/configmaps", "good", "default")
    await manager.recorder.flush()
    events = (await kube.list("v1/events", namespace="kube-system"))["items"]
    reported = {e["involvedObject"]["name"]: e for e in events if e["reason"] == "InvalidManifest"}
    assert set(reported) == {"broken.yaml", "nameless.yaml"}
    assert reported["broken.yaml"]["type"] == "Warning"
    assert "broken.yaml" in reported["broken.yaml"]["message"]
    assert "metadata.name" in reported["nameless.yaml"]["message"]

    write(manager, "broken.yaml", CONFIGMAP.format(name="fixed", namespace="default", value="f"))
    await manager.sync()
    assert await exists(kube, "v1/configmaps", "fixed", "default")


async def test_lists_and_cluster_scoped_objects(manager, kube):
    write(manager, "list.json", '{"apiVersion": "v1", "kind": "List", "items": ['
          '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "listed", "namespace": "ignored"}},'
          '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "listed", "namespace": "listed"}}]}')
    await manager.sync()
    assert await exists(kube, "v1/configmaps", "listed", "listed")
    write(manager, "list.json", '{"apiVersion": "v1", "kind": "List", "items": ['
          '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "listed", "namespace": "ignored"}}]}')
    await manager.sync()  # the Namespace stays although the file gave it a namespace
    assert not await exists(kube, "v1/configmaps", "listed", "listed")
    namespace = await kube.get("v1/namespaces", "listed")
    assert not namespace["metadata"].get("deletionTimestamp")


async def test_a_file_waiting_for_its_namespace_is_retried(manager, kube):
    write(manager, "app.yaml", CONFIGMAP.format(name="app", namespace="later", value="a"))
    await manager.sync()
    assert not await exists(kube, "v1/configmaps", "app", "later")
    await kube.create("v1/namespaces", {"metadata": {"name": "later"}})
    await manager.sync()
    assert await exists(kube, "v1/configmaps", "app", "later")


async def test_a_file_removed_while_nothing_ran_is_pruned_at_start(manager, kube):
    write(manager, "gone.yaml", CONFIGMAP.format(name="gone", namespace="default", value="g"))
    await manager.sync()
    os.remove(os.path.join(manager.config.directory, "gone.yaml"))
    restarted = AddonManager(kube, manager.config)
    await restarted.sync()
    assert not await exists(kube, "v1/configmaps", "gone", "default")


async def test_a_prune_that_failed_is_done_on_the_next_poll(manager, kube, monkeypatch):
    write(manager, "short.yaml", CONFIGMAP.format(name="short", namespace="default", value="s"))
    await manager.sync()
    os.remove(os.path.join(manager.config.directory, "short.yaml"))
    real_prune = manager.prune

    async def unreachable() -> None:
        raise TransportError("the API server went away")

    monkeypatch.setattr(manager, "prune", unreachable)
    with pytest.raises(TransportError):
        await manager.sync()
    monkeypatch.setattr(manager, "prune", real_prune)
    await manager.sync()
    assert not await exists(kube, "v1/configmaps", "short", "default")


async def test_the_running_manager_sees_a_new_file(manager, kube):
    await manager.start()
    write(manager, "late.yml", CONFIGMAP.format(name="late", namespace="default", value="l"))
    async with asyncio.timeout(20):
        manager.synced.clear()
        await manager.synced.wait()  # the poll after the write (or the one writing it) applied it
        manager.synced.clear()
        await manager.synced.wait()
    assert await exists(kube, "v1/configmaps", "late", "default")


def test_label_values_are_valid_for_any_file_name():
    assert label_value("web.yaml") == "web.yaml"
    long = "a-very-long-manifest-name-" * 4 + ".yaml"
    value = label_value(long)
    assert len(value) <= 63 and value.startswith("a-very-long") and value != label_value(long + "x")
    odd = label_value("dns add-on (copy).yaml")
    assert all(c.isalnum() or c in "-_." for c in odd) and odd[0].isalnum() and odd[-1].isalnum()
    assert label_value("_.yaml")[0].isalnum()
