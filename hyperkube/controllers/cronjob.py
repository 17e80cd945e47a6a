"""CronJobs: create Jobs on a cron schedule (in ``spec.timeZone``, UTC by default).

The schedule is read by croniter (a maintained cron library; ``@hourly`` and friends
included). A sync finds the most recent scheduled time not yet run, since
``status.lastScheduleTime`` (or the CronJob's creation), and:

- skips it when it is older than ``startingDeadlineSeconds`` (a missed start);
- with ``concurrencyPolicy: Forbid`` skips it while a job is active, with ``Replace``
  deletes the active jobs first, with ``Allow`` just runs;
- creates the Job ``<cronjob>-<scheduled minutes since the epoch>`` from ``jobTemplate``
  (a repeated sync finds it AlreadyExists, so a time never runs twice);
- keeps ``status.active`` and ``lastScheduleTime``/``lastSuccessfulTime`` current and
  deletes finished jobs beyond ``successfulJobsHistoryLimit``/``failedJobsHistoryLimit``;
- requeues itself for the next scheduled time. ``suspend`` stops new runs.

The clock is ``ctx.options["cronjob_clock"]`` (``time.time`` by default), so tests can move time.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from hyperkube.client import NORMAL, WARNING, AlreadyExists, NotFound, object_key, split_key
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import (
    CONTROLLER_UID_INDEX,
    POD_INDEXERS,
    controller_ref,
    is_terminating,
    meta,
    owner_reference,
    parse_time,
)
from hyperkube.machinery.durations import now_rfc3339

CRONJOBS = "batch/v1/cronjobs"
JOBS = "batch/v1/jobs"
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MAX_MISSED = 100


def job_outcome(job: Object) -> str | None:
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return condition["type"]
    return None


class CronJobController(Controller):
    name = "cronjob"
    workers_option = "cronjob"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.clock = ctx.options.get("cronjob_clock") or time.time
        self.cronjobs = ctx.factory.informer(CRONJOBS)
        self.jobs = ctx.factory.informer(JOBS, indexers=POD_INDEXERS)
        self.cronjobs.add_event_handler(self._changed, lambda old, new: self._changed(new))
        self.jobs.add_event_handler(self._job, lambda old, new: self._job(new), self._job)

    def _changed(self, cronjob: Object) -> None:
        self.enqueue(object_key(cronjob))

    def _job(self, job: Object) -> None:
        ref = controller_ref(job)
        if ref is not None and ref.get("kind") == "CronJob":
            self.enqueue(f"{meta(job).get('namespace', '')}/{ref.get('name', '')}")

    async def sync(self, key: Any) -> None:
        cached = self.cronjobs.cache.get(key)
        if cached is None:
            return
        cj = {**copy.deepcopy(cached), "apiVersion": "batch/v1", "kind": "CronJob"}
        namespace, _ = split_key(key)
        spec, status = cj.get("spec") or {}, copy.deepcopy(cj.get("status") or {})
        jobs = [j for j in self.jobs.cache.by_index(CONTROLLER_UID_INDEX, meta(cj)["uid"])]
        active_jobs = [j for j in jobs if job_outcome(j) is None and not is_terminating(j)]
        status["active"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": meta(j)["name"],
                             "namespace": namespace, "uid": meta(j)["uid"],
                             "resourceVersion": meta(j).get("resourceVersion")} for j in active_jobs] or None
        succeeded = [parse_time((j.get("status") or {}).get("completionTime")) for j in jobs
                     if job_outcome(j) == "Complete"]
        if succeeded and max(succeeded) > parse_time(status.get("lastSuccessfulTime")):
            status["lastSuccessfulTime"] = now_rfc3339(max(succeeded))
        await self.trim_history(cj, jobs)
        if not is_terminating(cj) and not spec.get("suspend"):
            await self.maybe_run(cj, key, spec, status, active_jobs)
        await self.write_status(cj, status)

    def _zone(self, spec: Object) -> Any:
        try:
            return ZoneInfo(spec["timeZone"]) if spec.get("timeZone") else UTC
        except (ZoneInfoNotFoundError, ValueError):
            return None

    async def maybe_run(self, cj: Object, key: str, spec: Object, status: Object, active_jobs: list[Object]) -> None:
        zone = self._zone(spec)
        if zone is None:
            self.recorder.event(cj, WARNING, "UnknownTimeZone", f"invalid timeZone: {spec.get('timeZone')!r}")
            return
        now = self.clock()
        since = parse_time(status.get("lastScheduleTime")) or parse_time(meta(cj).get("creationTimestamp")) or now
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            since = max(since, now - int(deadline))
        try:
            schedule = croniter(spec.get("schedule", ""), datetime.fromtimestamp(since, zone))
        except (ValueError, KeyError) as error:
            self.recorder.event(cj, WARNING, "InvalidSchedule", f"invalid schedule: {error}")
            return
        scheduled, missed = None, 0
        while True:
            candidate = schedule.get_next(float)
            if candidate > now:
                next_time = candidate
                break
            scheduled, missed = candidate, missed + 1
        self.enqueue_after(key, max(next_time - now, 0) + 0.1)
        if scheduled is None:
            return
        if missed > MAX_MISSED:
            self.recorder.event(cj, WARNING, "TooManyMissedTimes",
                                f"too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds "
                                "or check clock skew")
        if deadline is not None and scheduled < now - int(deadline):
            self.recorder.event(cj, WARNING, "MissSchedule", f"Missed scheduled time to start a job: "
                                f"{now_rfc3339(scheduled)}")
            return
        name = f"{meta(cj)['name']}-{int(scheduled // 60)}"
        if self.jobs.cache.get(f"{meta(cj)['namespace']}/{name}") is not None:
            status["lastScheduleTime"] = now_rfc3339(scheduled)
            return  # this time already ran (our own status write may not be in the cache yet)
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active_jobs:
            return  # the next sync after the active job finishes may still be within the deadline
        if policy == "Replace":
            for job in active_jobs:
                try:
                    await self.client.delete(JOBS, meta(job)["name"], namespace=meta(job)["namespace"],
                                             propagation_policy="Background")
                    self.recorder.event(cj, NORMAL, "SuccessfulDelete", f"Deleted job {meta(job)['name']}")
                except NotFound:
                    pass
            status["active"] = None
        job = await self.create_job(cj, scheduled, name)
        if job is not None:
            ref = {"apiVersion": "batch/v1", "kind": "Job", "name": meta(job)["name"],
                   "namespace": meta(job)["namespace"], "uid": meta(job)["uid"]}
            status["active"] = [*(status.get("active") or []), ref]
        status["lastScheduleTime"] = now_rfc3339(scheduled)

    async def create_job(self, cj: Object, scheduled: float, name: str) -> Object | None:
        template = copy.deepcopy((cj.get("spec") or {}).get("jobTemplate") or {})
        template_meta = template.get("metadata") or {}
        body = {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": name, "namespace": meta(cj)["namespace"],
                             "labels": dict(template_meta.get("labels") or {}),
                             "annotations": {**(template_meta.get("annotations") or {}),
                                             SCHEDULED_AT: now_rfc3339(scheduled)},
                             "ownerReferences": [owner_reference(cj)]},
                "spec": template.get("spec") or {}}
        try:
            job = await self.client.create(JOBS, body, namespace=meta(cj)["namespace"])
        except AlreadyExists:
            return None
        self.recorder.event(cj, NORMAL, "SuccessfulCreate", f"Created job {name}")
        return job

    async def trim_history(self, cj: Object, jobs: list[Object]) -> None:
        spec = cj.get("spec") or {}
        for outcome, limit in (("Complete", spec.get("successfulJobsHistoryLimit", 3)),
                               ("Failed", spec.get("failedJobsHistoryLimit", 1))):
            done = sorted((j for j in jobs if job_outcome(j) == outcome and not is_terminating(j)),
                          key=lambda j: meta(j).get("creationTimestamp", ""))
            for job in done[:max(len(done) - int(limit), 0)]:
                try:
                    await self.client.delete(JOBS, meta(job)["name"], namespace=meta(job)["namespace"],
                                             propagation_policy="Background")
                    self.recorder.event(cj, NORMAL, "SuccessfulDelete", f"Deleted job {meta(job)['name']}")
                except NotFound:
                    pass

    async def write_status(self, cj: Object, status: Object) -> None:
        old = cj.get("status") or {}
        comparable = {k: v for k, v in status.items() if v is not None}
        if {k: v for k, v in old.items() if v is not None} == comparable:
            return
        try:
            await self.client.patch_status(CRONJOBS, meta(cj)["name"], {"status": status},
                                           namespace=meta(cj)["namespace"])
        except NotFound:
            pass
