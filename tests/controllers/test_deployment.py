"""The Deployment controller (with the ReplicaSet controller) against a real API server."""

from __future__ import annotations

import asyncio
from typing import Any

from hyperkube.client import Client
from tests.controllers.conftest import FakeKubelet, eventually, pods_of

DEPLOY = "apps/v1/deployments"
RS = "apps/v1/replicasets"
REVISION = "deployment.kubernetes.io/revision"


def deployment(name: str, replicas: int, image: str = "nginx:1", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}, **spec}}


async def replicasets(kube: Client, app: str) -> list[dict[str, Any]]:
    return (await kube.list(RS, namespace="default", label_selector=f"app={app}"))["items"]


def rolled_out(d: dict[str, Any]) -> bool:
    """What `kubectl rollout status` waits for."""
    st, want = d.get("status") or {}, d["spec"]["replicas"]
    return (st.get("observedGeneration", 0) >= d["metadata"]["generation"] and st.get("updatedReplicas") == want
            and st.get("replicas") == want and st.get("availableReplicas") == want)


async def wait_rolled_out(kube: Client, name: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        d = await kube.get(DEPLOY, name, namespace="default")
        return d if rolled_out(d) else None

    return await eventually(check, within=30)


async def test_creates_replicaset_with_hash_and_reports_status(kube: Client, controllers) -> None:
    await controllers("deployment", "replicaset")
    async with FakeKubelet(kube):
        created = await kube.create(DEPLOY, deployment("web", 3), namespace="default")
        d = await wait_rolled_out(kube, "web")
    [rs] = await replicasets(kube, "web")
    hash_value = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{hash_value}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": hash_value}
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert rs["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert d["metadata"]["annotations"][REVISION] == "1"
    pods = await pods_of(kube, selector=f"pod-template-hash={hash_value}")
    assert len(pods) == 3 and all(p["metadata"]["name"].startswith(f"web-{hash_value}-") for p in pods)
    conditions = {c["type"]: c for c in d["status"]["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert d["status"]["readyReplicas"] == 3


async def test_rolling_update_respects_surge_and_unavailability(kube: Client, controllers) -> None:
    """Watched event by event: never more than replicas+maxSurge pods, never fewer than
    replicas-maxUnavailable ready ones, from the first fully ready moment to the end."""
    await controllers("deployment", "replicaset")
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}
    async with FakeKubelet(kube):
        await kube.create(DEPLOY, deployment("web", 4, strategy=strategy), namespace="default")
        await wait_rolled_out(kube, "web")
        listed = await kube.list("v1/pods", namespace="default")
        pods = {p["metadata"]["name"]: p for p in listed["items"]}
        worst = {"max_pods": len(pods), "min_ready": 4}
        done = asyncio.Event()

        async def watch() -> None:
            async with kube.watch("v1/pods", namespace="default",
                                  resource_version=listed["metadata"]["resourceVersion"]) as events:
                async for event in events:
                    name = event.object["metadata"]["name"]
                    if event.type == "DELETED":
                        pods.pop(name, None)
                    else:
                        pods[name] = event.object
                    ready = sum(1 for p in pods.values() if any(
                        c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", [])))
                    worst["max_pods"] = max(worst["max_pods"], len(pods))
                    worst["min_ready"] = min(worst["min_ready"], ready)
                    if done.is_set():
                        return

        watcher = asyncio.create_task(watch())
        await kube.patch(DEPLOY, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "nginx:2"}]}}}}, namespace="default", patch_type="strategic")
        d = await wait_rolled_out(kube, "web")
        done.set()
        await kube.create("v1/configmaps", {"metadata": {"name": "poke"}}, namespace="default")
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    assert worst["max_pods"] == 5  # the surge was used, and never exceeded
    assert worst["min_ready"] >= 3
    images = {p["spec"]["containers"][0]["image"] for p in await pods_of(kube, selector="app=web")}
    assert images == {"nginx:2"}
    assert d["metadata"]["annotations"][REVISION] == "2"
    sizes = sorted((rs["metadata"]["annotations"][REVISION], rs["spec"]["replicas"])
                   for rs in await replicasets(kube, "web"))
    assert sizes == [("1", 0), ("2", 4)]


async def test_rollback_reuses_the_old_replicaset_with_a_new_revision(kube: Client, controllers) -> None:
    await controllers("deployment", "replicaset")
    async with FakeKubelet(kube):
        await kube.create(DEPLOY, deployment("web", 2), namespace="default")
        await wait_rolled_out(kube, "web")
        [first] = await replicasets(kube, "web")
        await kube.patch(DEPLOY, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "nginx:2"}]}}}}, namespace="default", patch_type="strategic")
        await wait_rolled_out(kube, "web")
        # what `kubectl rollout undo` does: write revision 1's template back (without the hash label)
        template = first["spec"]["template"]
        template["metadata"]["labels"].pop("pod-template-hash")
        await kube.patch(DEPLOY, "web", [{"op": "replace", "path": "/spec/template", "value": template}],
                         namespace="default", patch_type="json")
        d = await wait_rolled_out(kube, "web")
    by_name = {rs["metadata"]["name"]: rs for rs in await replicasets(kube, "web")}
    assert len(by_name) == 2
    again = by_name[first["metadata"]["name"]]
    assert again["metadata"]["annotations"][REVISION] == "3"
    assert again["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert again["spec"]["replicas"] == 2
    assert d["metadata"]["annotations"][REVISION] == "3"
    assert {p["spec"]["containers"][0]["image"] for p in await pods_of(kube, selector="app=web")} == {"nginx:1"}


async def test_scale_recreate_history_limit_and_restart(kube: Client, controllers) -> None:
    await controllers("deployment", "replicaset")
    async with FakeKubelet(kube):
        await kube.create(DEPLOY, deployment("web", 2, strategy={"type": "Recreate"}, revisionHistoryLimit=1),
                          namespace="default")
        await wait_rolled_out(kube, "web")
        await kube.patch(DEPLOY, "web", {"spec": {"replicas": 3}}, namespace="default",
                         subresource="scale")
        await wait_rolled_out(kube, "web")
        assert len(await pods_of(kube, selector="app=web")) == 3
        seen_mixed = False
        for image in ("nginx:2", "nginx:3"):
            await kube.patch(DEPLOY, "web", {"spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": image}]}}}}, namespace="default", patch_type="strategic")
            while True:
                pods = await pods_of(kube, selector="app=web")
                images = {p["spec"]["containers"][0]["image"] for p in pods}
                seen_mixed = seen_mixed or len(images) > 1
                d = await kube.get(DEPLOY, "web", namespace="default")
                if rolled_out(d) and images == {image}:
                    break
                await asyncio.sleep(0.02)
        # rollout restart: the restartedAt annotation is a template change
        await kube.patch(DEPLOY, "web", {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2026-11-25T19:00:00Z"}}}}}, namespace="default",
            patch_type="strategic")
        await eventually(lambda: _revision_is(kube, "4"))
        await wait_rolled_out(kube, "web")

    async def history_trimmed() -> list[str] | None:
        revisions = sorted(rs["metadata"]["annotations"][REVISION] for rs in await replicasets(kube, "web"))
        return revisions if len(revisions) == 2 else None

    assert await eventually(history_trimmed) == ["3", "4"]
    assert not seen_mixed  # Recreate: old pods are gone before new ones start


async def test_pause_resume_and_progress_deadline(kube: Client, controllers) -> None:
    await controllers("deployment", "replicaset")
    async with FakeKubelet(kube) as kubelet:
        await kube.create(DEPLOY, deployment("web", 2, progressDeadlineSeconds=2), namespace="default")
        await wait_rolled_out(kube, "web")
        await kube.patch(DEPLOY, "web", {"spec": {"paused": True}}, namespace="default")
        await kube.patch(DEPLOY, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "nginx:2"}]}}}}, namespace="default", patch_type="strategic")
        paused = await eventually(lambda: _progressing_reason(kube, "DeploymentPaused"))
        assert paused["status"] == "Unknown"
        await asyncio.sleep(0.3)
        assert len(await replicasets(kube, "web")) == 1  # no rollout while paused
        kubelet.paused = True  # the new pods never become ready: the rollout stalls
        await kube.patch(DEPLOY, "web", {"spec": {"paused": False}}, namespace="default")
        await eventually(lambda: _count_rs(kube, 2))
        stuck = await eventually(lambda: _progressing_reason(kube, "ProgressDeadlineExceeded"), within=30)
        assert stuck["status"] == "False"
        kubelet.paused = False
        await wait_rolled_out(kube, "web")


async def _revision_is(kube: Client, revision: str) -> bool:
    d = await kube.get(DEPLOY, "web", namespace="default")
    return (d["metadata"].get("annotations") or {}).get(REVISION) == revision


async def _count_rs(kube: Client, n: int) -> bool:
    return len(await replicasets(kube, "web")) == n


async def _progressing_reason(kube: Client, reason: str) -> dict[str, Any] | None:
    d = await kube.get(DEPLOY, "web", namespace="default")
    for condition in (d.get("status") or {}).get("conditions") or []:
        if condition["type"] == "Progressing" and condition.get("reason") == reason:
            return condition
    return None
