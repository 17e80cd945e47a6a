"""ttl-after-finished: delete finished Jobs ``ttlSecondsAfterFinished`` after they finished.

The finish time is the Complete or Failed condition's transition time. A job not due yet is
requeued for the moment it will be; deletion is Background, so the garbage collector takes
its pods.
"""

from __future__ import annotations

import time
from typing import Any

from hyperkube.client import NotFound, object_key
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import is_terminating, meta, parse_time

JOBS = "batch/v1/jobs"


def finish_time(job: Object) -> float | None:
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return parse_time(condition.get("lastTransitionTime")) or None
    return None


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.jobs = ctx.factory.informer(JOBS)
        self.jobs.add_event_handler(self._changed, lambda old, new: self._changed(new))

    def _changed(self, job: Object) -> None:
        if (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and finish_time(job):
            self.enqueue(object_key(job))

    async def sync(self, key: Any) -> None:
        job = self.jobs.cache.get(key)
        if job is None or is_terminating(job):
            return
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        finished = finish_time(job)
        if ttl is None or finished is None:
            return
        remaining = finished + int(ttl) - time.time()
        if remaining > 0:
            self.enqueue_after(key, remaining)
            return
        try:
            await self.client.delete(JOBS, meta(job)["name"], namespace=meta(job)["namespace"],
                                     propagation_policy="Background", preconditions={"uid": meta(job)["uid"]})
        except NotFound:
            pass
