"""Jobs: run pods until ``completions`` succeed (NonIndexed or Indexed), within limits.

Counting survives pod deletion the way Kubernetes does it: pods carry the
``batch.kubernetes.io/job-tracking`` finalizer; a finished pod's uid is first recorded in
``status.uncountedTerminatedPods``, then its finalizer is removed, then it moves into
``succeeded``/``failed`` (and ``completedIndexes``). A crash between the steps neither
loses nor double-counts a pod.

Each sync then decides: failed (``backoffLimit`` exceeded or ``activeDeadlineSeconds``
passed: active pods are deleted, FailureTarget then Failed; with restartPolicy
OnFailure container restarts count as failures), complete (SuccessCriteriaMet
then Complete), suspended (active pods deleted, Suspended condition), or running: keep
``min(parallelism, remaining)`` pods active, creating them in slow-start batches but not
before the exponential backoff after the last failure (``base * 2**(failures-1)``, capped
at six minutes) has passed.
"""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

from hyperkube.client import NORMAL, WARNING, NotFound, object_key, split_key
from hyperkube.controllers.base import Controller, ControllerContext, Expectations, Object, route_owned_pods
from hyperkube.controllers.podcontrol import (
    CONTROLLER_UID_INDEX,
    ORPHAN_INDEX,
    POD_INDEXERS,
    PODS,
    claim,
    fresh_owner_check,
    is_pod_ready,
    is_terminating,
    meta,
    parse_time,
    pod_from_template,
    pods_to_delete,
    slow_start_batch,
)
from hyperkube.machinery.durations import now_rfc3339
from hyperkube.machinery.selectors import label_selector_from_dict

JOBS = "batch/v1/jobs"
TRACKING = "batch.kubernetes.io/job-tracking"
INDEX = "batch.kubernetes.io/job-completion-index"
MAX_BACKOFF = 360.0


def finished(job: Object) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or ())


def phase(pod: Object) -> str:
    return (pod.get("status") or {}).get("phase", "")


def pod_index(pod: Object) -> int | None:
    value = (meta(pod).get("annotations") or {}).get(INDEX) or (meta(pod).get("labels") or {}).get(INDEX)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_indexes(text: str | None) -> set[int]:
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return out


def format_indexes(indexes: set[int]) -> str:
    """``0-2,4``: Kubernetes' compressed list of completed indexes."""
    parts, ordered, i = [], sorted(indexes), 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


class JobController(Controller):
    name = "job"
    workers_option = "job"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.backoff_base = float(ctx.options.get("job_backoff_base", 10.0))
        self.expectations = Expectations()
        self._failures: dict[str, tuple[int, float]] = {}  # job key -> (failures seen, when the last was)
        self._finished: set[str] = set()  # uids of jobs we marked finished
        self.jobs = ctx.factory.informer(JOBS)
        self.pods = ctx.factory.informer(PODS, indexers=POD_INDEXERS)
        self.jobs.add_event_handler(self._job_changed, lambda old, new: self._job_changed(new), self._job_changed)
        route_owned_pods(self, self.pods, "Job", self.expectations)

    def _job_changed(self, job: Object) -> None:
        self.enqueue(object_key(job))

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, key: Any) -> None:
        cached = self.jobs.cache.get(key)
        if cached is None:
            self.expectations.forget(key)
            self._failures.pop(key, None)
            return
        job = {**copy.deepcopy(cached), "apiVersion": "batch/v1", "kind": "Job"}
        namespace, _ = split_key(key)
        uid = meta(job)["uid"]
        candidates = self.pods.cache.by_index(CONTROLLER_UID_INDEX, uid) + \
            self.pods.cache.by_index(ORPHAN_INDEX, namespace)
        pods = await claim(self.client, PODS, job, candidates, label_selector_from_dict((job.get("spec") or {}).get(
            "selector")), can_adopt=lambda: fresh_owner_check(self.client, JOBS, job))
        status = copy.deepcopy(job.get("status") or {})
        await self.track_finished(job, pods, status)
        if finished(job):
            self._finished.discard(uid)
            return
        if uid in self._finished:
            return
        spec = job.get("spec") or {}
        now = time.time()
        active = [p for p in pods if phase(p) not in ("Succeeded", "Failed") and not is_terminating(p)]
        failed, succeeded = int(status.get("failed") or 0), int(status.get("succeeded") or 0)
        if not spec.get("suspend") and not status.get("startTime"):
            status["startTime"] = now_rfc3339(now)
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        failure: tuple[str, str] | None = None
        restarts = 0
        if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure":
            restarts = sum(c.get("restartCount") or 0 for p in active
                           for c in (p.get("status") or {}).get("containerStatuses") or ())
        if failed + restarts > int(spec.get("backoffLimit", 6)):
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif deadline and started and now >= started + int(deadline) and not spec.get("suspend"):
            failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
        conditions = status.setdefault("conditions", [])
        if failure is not None:
            await self.delete_pods(job, key, active)
            self._condition(conditions, "FailureTarget", *failure)
            self._condition(conditions, "Failed", *failure)
            self.recorder.event(job, WARNING, failure[0], failure[1])
            active = []
        elif self.succeeded(spec, status, active):
            await self.delete_pods(job, key, active)
            self._condition(conditions, "SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods")
            self._condition(conditions, "Complete", "CompletionsReached", "Reached expected number of succeeded pods")
            status["completionTime"] = now_rfc3339(now)
            self.recorder.event(job, NORMAL, "Completed", "Job completed")
            active = []
        elif spec.get("suspend"):
            await self.delete_pods(job, key, active)
            active = []
            if not any(c.get("type") == "Suspended" and c.get("status") == "True" for c in conditions):
                self._condition(conditions, "Suspended", "JobSuspended", "Job suspended")
                self.recorder.event(job, NORMAL, "Suspended", "Job suspended")
            status.pop("startTime", None)
        else:
            if any(c.get("type") == "Suspended" and c.get("status") == "True" for c in conditions):
                self._condition(conditions, "Suspended", "JobResumed", "Job resumed", state="False")
                self.recorder.event(job, NORMAL, "Resumed", "Job resumed")
            if self.expectations.satisfied(key):
                active = await self.manage(job, key, active, status, succeeded, failed)
            if deadline and started:
                self.enqueue_after(key, max(started + int(deadline) - now, 0) + 0.1)
        status["active"] = len(active)
        status["ready"] = sum(1 for p in active if is_pod_ready(p))
        status["terminating"] = sum(1 for p in pods if is_terminating(p))
        status.setdefault("succeeded", succeeded)
        status.setdefault("failed", failed)
        if failure is not None or "completionTime" in status:
            self._finished.add(uid)  # until the cache shows it, a stale copy must not start pods again
        if status != (cached.get("status") or {}):
            try:
                await self.client.update_status(JOBS, {**job, "status": status}, namespace=namespace)
            except NotFound:
                pass

    def _condition(self, conditions: list[Object], kind: str, reason: str, message: str, state: str = "True") -> None:
        now = now_rfc3339()
        conditions[:] = [c for c in conditions if c.get("type") != kind]
        conditions.append({"type": kind, "status": state, "reason": reason, "message": message,
                           "lastProbeTime": now, "lastTransitionTime": now})

    def succeeded(self, spec: Object, status: Object, active: list[Object]) -> bool:
        completions = spec.get("completions")
        succeeded = int(status.get("succeeded") or 0)
        if spec.get("completionMode") == "Indexed":
            return parse_indexes(status.get("completedIndexes")) >= set(range(int(completions or 0)))
        if completions is None:
            return succeeded > 0 and not active
        return succeeded >= int(completions)

    async def track_finished(self, job: Object, pods: list[Object], status: Object) -> None:
        """Move finished pods into the counts, through uncountedTerminatedPods and their finalizer."""
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        recorded = set(uncounted.get("succeeded") or []) | set(uncounted.get("failed") or [])
        fresh = [p for p in pods if TRACKING in (meta(p).get("finalizers") or [])
                 and (phase(p) in ("Succeeded", "Failed") or is_terminating(p)) and meta(p)["uid"] not in recorded]
        for pod in fresh:
            outcome = "succeeded" if phase(pod) == "Succeeded" else "failed"
            uncounted.setdefault(outcome, []).append(meta(pod)["uid"])
            if outcome == "failed":
                self._note_failure(object_key(job))
        if fresh:
            written = await self.client.update_status(JOBS, {**job, "status": status}, namespace=meta(job)["namespace"])
            job["metadata"]["resourceVersion"] = meta(written).get("resourceVersion")
        by_uid = {meta(p)["uid"]: p for p in pods}
        indexed = (job.get("spec") or {}).get("completionMode") == "Indexed"
        completed = parse_indexes(status.get("completedIndexes"))
        for outcome in ("succeeded", "failed"):
            for uid in list(uncounted.get(outcome) or []):
                pod = by_uid.get(uid)
                if pod is not None and TRACKING in (meta(pod).get("finalizers") or []):
                    await self._drop_finalizer(pod)
                status[outcome] = int(status.get(outcome) or 0) + 1
                if outcome == "succeeded" and indexed and pod is not None and pod_index(pod) is not None:
                    completed.add(pod_index(pod))  # type: ignore[arg-type]
                uncounted[outcome].remove(uid)
        if indexed:
            status["completedIndexes"] = format_indexes(completed)
        status["uncountedTerminatedPods"] = {k: v for k, v in uncounted.items() if v}

    async def _drop_finalizer(self, pod: Object) -> None:
        finalizers = [f for f in meta(pod).get("finalizers") or [] if f != TRACKING]
        patch = [{"op": "test", "path": "/metadata/uid", "value": meta(pod)["uid"]},
                 {"op": "replace", "path": "/metadata/finalizers", "value": finalizers}]
        try:
            await self.client.patch(PODS, meta(pod)["name"], patch, namespace=meta(pod)["namespace"], patch_type="json")
        except NotFound:
            pass

    def _note_failure(self, key: str) -> None:
        count, _ = self._failures.get(key, (0, 0.0))
        self._failures[key] = (count + 1, time.monotonic())

    def backoff_remaining(self, key: str) -> float:
        count, at = self._failures.get(key, (0, 0.0))
        if not count:
            return 0.0
        delay = min(self.backoff_base * (2 ** (count - 1)), MAX_BACKOFF)
        return max(at + delay - time.monotonic(), 0.0)

    async def manage(self, job: Object, key: str, active: list[Object], status: Object, succeeded: int,
                     failed: int) -> list[Object]:
        spec = job.get("spec") or {}
        parallelism = int(spec.get("parallelism", 1))
        completions = spec.get("completions")
        indexed = spec.get("completionMode") == "Indexed"
        succeeded = int(status.get("succeeded") or 0)
        if completions is None:
            wanted = 0 if succeeded > 0 else parallelism
        else:
            wanted = min(parallelism, max(int(completions) - succeeded, 0))
        if len(active) > wanted:
            victims = pods_to_delete(active, len(active) - wanted)
            await self.delete_pods(job, key, victims)
            return [p for p in active if p not in victims]
        missing = wanted - len(active)
        if missing <= 0:
            return active
        wait = self.backoff_remaining(key)
        if wait > 0:
            self.enqueue_after(key, wait)
            return active
        template = (spec.get("template") or {})
        indexes: list[int | None] = [None] * missing
        if indexed:
            taken = parse_indexes(status.get("completedIndexes")) | {pod_index(p) for p in active}  # type: ignore[arg-type]
            indexes = [i for i in range(int(completions or 0)) if i not in taken][:missing]  # type: ignore[misc]
        queue = list(indexes)
        self.expectations.expect_creations(key, len(queue))

        async def create() -> None:
            index = queue.pop(0)
            pod = pod_from_template(job, template, generate_name=f"{meta(job)['name']}-"
                                    + (f"{index}-" if index is not None else ""))
            pod["metadata"].setdefault("finalizers", []).append(TRACKING)
            if index is not None:
                pod["metadata"].setdefault("annotations", {})[INDEX] = str(index)
                pod["metadata"]["labels"][INDEX] = str(index)
                for container in pod["spec"].get("containers") or []:
                    container.setdefault("env", []).append({"name": "JOB_COMPLETION_INDEX", "value": str(index)})
            created = await self.client.create(PODS, pod, namespace=meta(job)["namespace"])
            self.recorder.event(job, NORMAL, "SuccessfulCreate", f"Created pod: {meta(created)['name']}")

        total = len(queue)
        done, error = await slow_start_batch(total, create)
        if done < total:
            self.expectations.lower_creations(key, total - done)
        if error is not None:
            raise error
        return active

    async def delete_pods(self, job: Object, key: str, pods: list[Object]) -> None:
        async def delete(pod: Object) -> None:
            await self._drop_finalizer(pod)
            try:
                await self.client.delete(PODS, meta(pod)["name"], namespace=meta(pod)["namespace"],
                                         preconditions={"uid": meta(pod)["uid"]})
                self.recorder.event(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta(pod)['name']}")
            except NotFound:
                pass

        await asyncio.gather(*(delete(p) for p in pods))
