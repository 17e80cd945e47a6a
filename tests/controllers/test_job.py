"""The Job and ttl-after-finished controllers against a real API server (the test plays the
kubelet, writing pod phases through /status)."""

from __future__ import annotations

from typing import Any

from hyperkube.client import Client, NotFound
from tests.controllers.conftest import eventually, pods_of

JOBS = "batch/v1/jobs"
FAST = {"options": {"job_backoff_base": 0.1}}


def job(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "busybox"}]}}, **spec}}


async def finish(kube: Client, pod: dict[str, Any], phase: str) -> None:
    await kube.patch_status("v1/pods", pod["metadata"]["name"], {"status": {"phase": phase}}, namespace="default")


async def running(kube: Client, name: str, n: int) -> list[dict[str, Any]] | None:
    pods = [p for p in await pods_of(kube, selector=f"job-name={name}")
            if p.get("status", {}).get("phase") not in ("Succeeded", "Failed") and not p["metadata"].get("deletionTimestamp")]
    return pods if len(pods) == n else None


async def condition(kube: Client, name: str, kind: str) -> dict[str, Any] | None:
    status = (await kube.get(JOBS, name, namespace="default")).get("status") or {}
    return next((c for c in status.get("conditions") or [] if c["type"] == kind and c["status"] == "True"), None)


async def test_completions_with_parallelism(kube: Client, controllers) -> None:
    await controllers("job", **FAST)
    await kube.create(JOBS, job("pi", completions=3, parallelism=2), namespace="default")
    for still_needed in (3, 2, 1):  # min(parallelism, completions - succeeded) pods run
        pods = await eventually(lambda n=min(2, still_needed): running(kube, "pi", n))
        assert all("batch.kubernetes.io/job-tracking" in p["metadata"]["finalizers"] for p in pods)
        await finish(kube, pods[0], "Succeeded")
        await eventually(lambda p=pods[0]: _gone_or_finished(kube, p))
    await eventually(lambda: condition(kube, "pi", "Complete"))
    status = (await kube.get(JOBS, "pi", namespace="default"))["status"]
    assert status["succeeded"] == 3 and status["active"] == 0 and status["completionTime"]
    assert {c["type"] for c in status["conditions"]} >= {"SuccessCriteriaMet", "Complete"}
    # finished pods keep no tracking finalizer, so deleting them cannot change the count
    for pod in await pods_of(kube, selector="job-name=pi"):
        assert "batch.kubernetes.io/job-tracking" not in (pod["metadata"].get("finalizers") or [])
        await kube.delete("v1/pods", pod["metadata"]["name"], namespace="default")
    assert (await kube.get(JOBS, "pi", namespace="default"))["status"]["succeeded"] == 3


async def test_indexed_completion(kube: Client, controllers) -> None:
    await controllers("job", **FAST)
    await kube.create(JOBS, job("idx", completions=3, parallelism=3, completionMode="Indexed"), namespace="default")
    pods = await eventually(lambda: running(kube, "idx", 3))
    indexes = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods)
    assert indexes == ["0", "1", "2"]
    env = pods[0]["spec"]["containers"][0]["env"]
    assert env[-1]["name"] == "JOB_COMPLETION_INDEX"
    for pod in pods:
        await finish(kube, pod, "Succeeded")
    await eventually(lambda: condition(kube, "idx", "Complete"))
    assert (await kube.get(JOBS, "idx", namespace="default"))["status"]["completedIndexes"] == "0-2"


async def test_backoff_limit_fails_the_job(kube: Client, controllers) -> None:
    await controllers("job", **FAST)
    await kube.create(JOBS, job("bad", backoffLimit=1), namespace="default")
    for _ in range(2):
        [pod] = await eventually(lambda: running(kube, "bad", 1))
        await finish(kube, pod, "Failed")
        await eventually(lambda p=pod: _gone_or_finished(kube, p))
    failed = await eventually(lambda: condition(kube, "bad", "Failed"))
    assert failed["reason"] == "BackoffLimitExceeded"
    assert (await kube.get(JOBS, "bad", namespace="default"))["status"]["failed"] == 2
    assert await running(kube, "bad", 0) == []


async def test_active_deadline_and_suspend(kube: Client, controllers) -> None:
    await controllers("job", **FAST)
    await kube.create(JOBS, job("slow", activeDeadlineSeconds=1, parallelism=2, completions=2), namespace="default")
    await eventually(lambda: running(kube, "slow", 2))
    failed = await eventually(lambda: condition(kube, "slow", "Failed"))
    assert failed["reason"] == "DeadlineExceeded"
    await eventually(lambda: _none_left(kube, "slow"))

    await kube.create(JOBS, job("later", suspend=True), namespace="default")
    suspended = await eventually(lambda: condition(kube, "later", "Suspended"))
    assert suspended["reason"] == "JobSuspended"
    assert await pods_of(kube, selector="job-name=later") == []
    await kube.patch(JOBS, "later", {"spec": {"suspend": False}}, namespace="default")
    await eventually(lambda: running(kube, "later", 1))


async def test_ttl_after_finished_deletes_the_job(kube: Client, controllers) -> None:
    await controllers("job", "ttl-after-finished", "garbagecollector", **FAST)
    await kube.create(JOBS, job("brief", ttlSecondsAfterFinished=0), namespace="default")
    [pod] = await eventually(lambda: running(kube, "brief", 1))
    await finish(kube, pod, "Succeeded")

    async def deleted() -> bool:
        try:
            await kube.get(JOBS, "brief", namespace="default")
        except NotFound:
            return True
        return False

    await eventually(deleted)
    await eventually(lambda: _none_left(kube, "brief"))


async def _gone_or_finished(kube: Client, pod: dict[str, Any]) -> bool:
    try:
        current = await kube.get("v1/pods", pod["metadata"]["name"], namespace="default")
    except NotFound:
        return True
    return "batch.kubernetes.io/job-tracking" not in (current["metadata"].get("finalizers") or [])


async def _none_left(kube: Client, name: str) -> bool:
    return await pods_of(kube, selector=f"job-name={name}") == []


async def test_container_restarts_count_against_the_backoff_limit(kube: Client, controllers) -> None:
    await controllers("job", **FAST)
    body = job("flaky", backoffLimit=2)
    body["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    await kube.create(JOBS, body, namespace="default")
    [pod] = await eventually(lambda: running(kube, "flaky", 1))
    await kube.patch_status("v1/pods", pod["metadata"]["name"], {"status": {"phase": "Running", "containerStatuses": [
        {"name": "c", "image": "busybox", "imageID": "", "ready": False, "restartCount": 3,
         "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}, namespace="default")
    failed = await eventually(lambda: condition(kube, "flaky", "Failed"))
    assert failed["reason"] == "BackoffLimitExceeded"
