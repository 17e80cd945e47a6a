"""The ReplicaSet and ReplicationController controller against a real API server."""

from __future__ import annotations

from typing import Any

from hyperkube.client import Client, NotFound
from hyperkube.controllers.podcontrol import slow_start_batch
from tests.controllers.conftest import eventually, mark_all_ready, mark_ready, pods_of

RS = "apps/v1/replicasets"
RC = "v1/replicationcontrollers"


def replicaset(name: str, replicas: int, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, **spec}}


def owned_by(pod: dict[str, Any], owner: dict[str, Any]) -> bool:
    return any(ref["uid"] == owner["metadata"]["uid"] and ref.get("controller")
               for ref in pod["metadata"].get("ownerReferences") or [])


async def test_creates_replicas_with_controller_references_and_status(kube: Client, controllers) -> None:
    await controllers("replicaset")
    rs = await kube.create(RS, replicaset("web", 3), namespace="default")
    pods = await eventually(lambda: _count(kube, "app=web", 3))
    for pod in pods:
        ref = pod["metadata"]["ownerReferences"][0]
        assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
                       "controller": True, "blockOwnerDeletion": True}
        assert pod["metadata"]["name"].startswith("web-")
    await mark_all_ready(kube, selector="app=web")

    async def status_ready() -> dict[str, Any] | None:
        status = (await kube.get(RS, "web", namespace="default")).get("status") or {}
        return status if status.get("readyReplicas") == 3 and status.get("availableReplicas") == 3 else None

    status = await eventually(status_ready)
    assert status["replicas"] == 3 and status["fullyLabeledReplicas"] == 3
    assert status["observedGeneration"] == rs["metadata"]["generation"]


async def test_scale_down_deletes_unready_and_unscheduled_first(kube: Client, controllers) -> None:
    await controllers("replicaset")
    await kube.create(RS, replicaset("web", 4), namespace="default")
    pods = await eventually(lambda: _count(kube, "app=web", 4))
    ready = sorted(p["metadata"]["name"] for p in pods)[:2]
    for pod in pods:
        if pod["metadata"]["name"] in ready:
            await mark_ready(kube, pod)
    await kube.patch(RS, "web", {"spec": {"replicas": 2}}, namespace="default")
    left = await eventually(lambda: _count(kube, "app=web", 2))
    assert sorted(p["metadata"]["name"] for p in left) == ready


async def test_replaces_deleted_pods_and_adopts_and_releases(kube: Client, controllers) -> None:
    await controllers("replicaset")
    orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "labels": {"app": "web"}},
              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    await kube.create("v1/pods", orphan, namespace="default")
    rs = await kube.create(RS, replicaset("web", 2), namespace="default")
    pods = await eventually(lambda: _count(kube, "app=web", 2))
    adopted = next(p for p in pods if p["metadata"]["name"] == "orphan")
    assert owned_by(adopted, rs)
    # a pod that stops matching is released (and replaced)
    await kube.patch("v1/pods", "orphan", {"metadata": {"labels": {"app": "other"}}}, namespace="default")

    async def released() -> bool:
        pod = await kube.get("v1/pods", "orphan", namespace="default")
        return not pod["metadata"].get("ownerReferences")

    await eventually(released)
    await eventually(lambda: _count(kube, "app=web", 2))
    # a deleted pod is replaced
    victim = (await pods_of(kube, selector="app=web"))[0]
    await kube.delete("v1/pods", victim["metadata"]["name"], namespace="default")
    pods = await eventually(lambda: _count(kube, "app=web", 2))
    assert victim["metadata"]["name"] not in {p["metadata"]["name"] for p in pods}


async def test_replica_failure_condition_clears_when_pods_can_be_created(kube: Client, controllers) -> None:
    """A template whose pods the server rejects shows as ReplicaFailure (FailedCreate), and
    the condition goes once the template is fixed."""
    await controllers("replicaset")
    bad = replicaset("web", 3)
    bad["spec"]["template"]["metadata"]["finalizers"] = ["not a finalizer"]
    await kube.create(RS, bad, namespace="default")

    async def condition() -> dict[str, Any] | None:
        status = (await kube.get(RS, "web", namespace="default")).get("status") or {}
        return {c["type"]: c for c in status.get("conditions") or []}.get("ReplicaFailure")

    failure = await eventually(condition)
    assert failure["status"] == "True" and failure["reason"] == "FailedCreate"
    assert "finalizers" in failure["message"]
    assert await pods_of(kube, selector="app=web") == []
    await kube.patch(RS, "web", {"spec": {"template": {"metadata": {"finalizers": None}}}}, namespace="default")
    await eventually(lambda: _count(kube, "app=web", 3))

    async def cleared() -> bool:
        return await condition() is None

    await eventually(cleared)


async def test_slow_start_batches_stop_at_the_first_failing_batch() -> None:
    calls: list[int] = []

    async def create() -> None:
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("rejected")

    done, error = await slow_start_batch(100, create)
    assert (done, str(error)) == (3, "rejected")
    assert len(calls) == 1 + 2 + 4  # the failing batch of 4 is the last one sent
    calls.clear()
    assert await slow_start_batch(6, lambda: _ok(calls)) == (6, None)


async def _ok(calls: list[int]) -> None:
    calls.append(1)


async def test_replication_controller(kube: Client, controllers) -> None:
    await controllers("replicationcontroller")
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "old"},
          "spec": {"replicas": 2, "selector": {"app": "old"},
                   "template": {"metadata": {"labels": {"app": "old"}},
                                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    created = await kube.create(RC, rc, namespace="default")
    pods = await eventually(lambda: _count(kube, "app=old", 2))
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController" for p in pods)
    assert all(owned_by(p, created) for p in pods)
    await kube.patch(RC, "old", {"spec": {"replicas": 0}}, namespace="default")
    await eventually(lambda: _count(kube, "app=old", 0, allow_empty=True))
    try:
        await kube.delete(RC, "old", namespace="default")
    except NotFound:
        pass


async def _count(kube: Client, selector: str, n: int, allow_empty: bool = False) -> Any:
    pods = [p for p in await pods_of(kube, selector=selector) if not p["metadata"].get("deletionTimestamp")]
    if len(pods) == n:
        return pods or allow_empty
    return None
