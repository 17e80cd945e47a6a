"""The CronJob controller against a real API server, with the controller's clock moved by the
test (a sync is triggered by touching the CronJob)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import croniter  # noqa: F401  (the CronJob controller's schedule library: a project dependency)

from hyperkube.client import Client, NotFound
from hyperkube.machinery.durations import now_rfc3339
from tests.controllers.conftest import eventually

CRON = "batch/v1/cronjobs"
JOBS = "batch/v1/jobs"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def cronjob(name: str, schedule: str = "*/5 * * * *", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, "jobTemplate": {"metadata": {"labels": {"cron": name}}, "spec": {
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}},
                **spec}}


async def start(kube: Client, controllers, **spec: Any) -> Clock:
    clock = Clock()
    await controllers("cronjob", options={"cronjob_clock": clock})
    await kube.create(CRON, cronjob("tick", **spec), namespace="default")
    return clock


async def advance(kube: Client, clock: Clock, seconds: float) -> None:
    clock.now += seconds
    await kube.patch(CRON, "tick", {"metadata": {"annotations": {"poke": str(clock.now)}}}, namespace="default")


async def jobs(kube: Client) -> list[dict[str, Any]]:
    items = (await kube.list(JOBS, namespace="default", label_selector="cron=tick"))["items"]
    return sorted((j for j in items if not j["metadata"].get("deletionTimestamp")),
                  key=lambda j: j["metadata"]["name"])


async def count(kube: Client, n: int) -> list[dict[str, Any]] | None:
    current = await jobs(kube)
    return current if len(current) == n else None


async def complete(kube: Client, job: dict[str, Any]) -> None:
    now = now_rfc3339()
    await kube.patch_status(JOBS, job["metadata"]["name"], {"status": {
        "completionTime": now, "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": now}]}},
        namespace="default")


async def test_runs_on_schedule_and_forbids_overlap(kube: Client, controllers) -> None:
    clock = await start(kube, controllers, concurrencyPolicy="Forbid")
    await advance(kube, clock, 300)
    [job] = await eventually(lambda: count(kube, 1))
    scheduled = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert job["metadata"]["name"] == f"tick-{int(time.mktime(time.strptime(scheduled, '%Y-%m-%dT%H:%M:%SZ')) - time.timezone) // 60}"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"

    async def active_is(names: list[str]) -> bool:
        st = (await kube.get(CRON, "tick", namespace="default")).get("status") or {}
        return [a["name"] for a in st.get("active") or []] == names

    await eventually(lambda: active_is([job["metadata"]["name"]]))
    await advance(kube, clock, 300)
    await eventually(lambda: active_is([job["metadata"]["name"]]))
    assert len(await jobs(kube)) == 1  # Forbid: the active job blocks the next run
    await complete(kube, job)
    await advance(kube, clock, 1)
    second = await eventually(lambda: count(kube, 2))
    await eventually(lambda: active_is([second[1]["metadata"]["name"]]))

    async def success_recorded() -> bool:
        return bool(((await kube.get(CRON, "tick", namespace="default")).get("status") or {}).get("lastSuccessfulTime"))

    await eventually(success_recorded)


async def test_replace_and_history_limit(kube: Client, controllers) -> None:
    clock = await start(kube, controllers, concurrencyPolicy="Replace", successfulJobsHistoryLimit=1)
    await advance(kube, clock, 300)
    [first] = await eventually(lambda: count(kube, 1))
    await advance(kube, clock, 300)
    [second] = await eventually(lambda: _only_other_than(kube, first))
    await complete(kube, second)
    await advance(kube, clock, 300)
    [third] = await eventually(lambda: _only_other_than(kube, second, keep_done=True))
    await complete(kube, third)
    await advance(kube, clock, 1)

    async def history() -> bool:  # one successful job kept: the newest
        names = [j["metadata"]["name"] for j in await jobs(kube)]
        return names == [third["metadata"]["name"]]

    await eventually(history)


async def test_starting_deadline_suspend_and_time_zone(kube: Client, controllers) -> None:
    clock = await start(kube, controllers, schedule="0 9 * * *", timeZone="Asia/Tokyo", startingDeadlineSeconds=60,
                        suspend=True)
    await advance(kube, clock, 3 * 86400)
    await advance(kube, clock, 0)
    assert await jobs(kube) == []  # suspended
    await kube.patch(CRON, "tick", {"spec": {"suspend": False}}, namespace="default")
    # three 09:00s passed, but all longer ago than startingDeadlineSeconds: none runs late
    clock.now = (clock.now // 86400) * 86400 + 3600  # 10:00 Tokyo
    await advance(kube, clock, 0)
    await asyncio.sleep(0.3)
    assert await jobs(kube) == []
    # move to one minute past 09:00 Tokyo (00:00 UTC): within the starting deadline
    clock.now = (clock.now // 86400 + 1) * 86400 + 30
    await advance(kube, clock, 0)
    [job] = await eventually(lambda: count(kube, 1))
    assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"].endswith("T00:00:00Z")


async def _only_other_than(kube: Client, job: dict[str, Any], keep_done: bool = False) -> list[dict[str, Any]] | None:
    current = await jobs(kube)
    others = [j for j in current if j["metadata"]["name"] != job["metadata"]["name"]]
    if keep_done:
        return others if len(others) == 1 else None
    try:
        await kube.get(JOBS, job["metadata"]["name"], namespace="default")
        return None
    except NotFound:
        return others if len(others) == 1 else None
