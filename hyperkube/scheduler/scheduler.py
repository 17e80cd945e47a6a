"""The scheduler: informers -> cache and queue -> one scheduling cycle at a time -> bindings.

One worker pops the highest-priority pending pod, runs the filters and scores of the policy
over the cache (synchronously: a cycle reads only memory), assumes the pod onto the chosen
node and starts the binding as its own task, then moves on without waiting for it, as
kube-scheduler's scheduling and binding cycles do. At most ``binds_in_flight`` bindings run
at once. The informers confirm assumptions when the bound pod comes back through the watch.

A pod no node takes gets a FailedScheduling event (``0/N nodes are available: ...``), its
PodScheduled condition set to False/Unschedulable, and waits in the unschedulable queue until
a node is added or changes, or a pod goes away.

Nothing here parses flags or reads files: a test builds ``Scheduler(client, SchedulerConfig())``
against any API server.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from hyperkube.client import (
    NORMAL,
    WARNING,
    APIError,
    Client,
    Conflict,
    EventRecorder,
    InformerFactory,
    NotFound,
    TransportError,
)
from hyperkube.machinery.durations import now_rfc3339
from hyperkube.scheduler import vectorized
from hyperkube.scheduler.cache import SchedulerCache
from hyperkube.scheduler.framework import CycleState, FitError, Listers, Policy, run_filters
from hyperkube.scheduler.nodeinfo import PodInfo, pod_key
from hyperkube.scheduler.queue import SchedulingQueue

log = logging.getLogger("hyperkube.scheduler")

Object = dict[str, Any]
PODS, NODES = "v1/pods", "v1/nodes"
SERVICES, RCS = "v1/services", "v1/replicationcontrollers"
REPLICASETS, STATEFULSETS = "apps/v1/replicasets", "apps/v1/statefulsets"
PRIORITY_CLASSES = "scheduling.k8s.io/v1/priorityclasses"
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass
class SchedulerConfig:
    scheduler_name: str = "default-scheduler"
    policy: Policy = field(default_factory=Policy)
    backoff_initial: float = 1.0
    backoff_max: float = 10.0
    unschedulable_flush: float = 60.0
    binds_in_flight: int = 64
    #: how long stop() waits for queued events to be written
    event_flush_timeout: float = 5.0
    #: filter and score with numpy columns when numpy is installed (False: per-node Python)
    vectorized: bool = True


def _spec_changed(old: Object, new: Object) -> bool:
    """Did anything scheduling depends on change (not just status or resourceVersion)?"""
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") != new.get("spec") or old_meta.get("labels") != new_meta.get("labels")
            or old_meta.get("annotations") != new_meta.get("annotations"))


def _node_changed(old: Object, new: Object) -> bool:
    """Node changes that can make an unschedulable pod fit (heartbeats are not among them)."""
    if old.get("spec") != new.get("spec"):
        return True
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        return True
    old_status, new_status = old.get("status") or {}, new.get("status") or {}
    if old_status.get("allocatable") != new_status.get("allocatable"):
        return True

    def ready(status: Object) -> Any:
        return [c.get("status") for c in status.get("conditions") or () if c.get("type") == "Ready"]

    return ready(old_status) != ready(new_status)


class Scheduler:
    def __init__(self, client: Client, config: SchedulerConfig | None = None, *,
                 factory: InformerFactory | None = None, recorder: EventRecorder | None = None) -> None:
        self.client = client
        self.config = config or SchedulerConfig()
        self.factory = factory or InformerFactory(client)
        self.recorder = recorder or EventRecorder(client, self.config.scheduler_name)
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue(backoff_initial=self.config.backoff_initial,
                                     backoff_max=self.config.backoff_max,
                                     flush_after=self.config.unschedulable_flush)
        #: filter and score with numpy columns when numpy is installed
        self.vectorized = vectorized.ENABLED and self.config.vectorized
        self.filters = self.config.policy.filters()
        self.scorers = self.config.policy.scorers()
        self.pods = self.factory.informer(PODS)
        self.nodes = self.factory.informer(NODES)
        self.priority_classes = self.factory.informer(PRIORITY_CLASSES)
        self.services = self.factory.informer(SERVICES)
        self.controllers = [self.factory.informer(r) for r in (RCS, REPLICASETS, STATEFULSETS)]
        self.listers = Listers(services=lambda ns: self.services.cache.list(ns),
                               controllers=lambda ns: [o for i in self.controllers for o in i.cache.list(ns)])
        self._slots = asyncio.Semaphore(self.config.binds_in_flight)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._worker: asyncio.Task[None] | None = None
        #: counters for tests and the benchmark
        self.scheduled = 0
        self.failed_attempts = 0
        self.first_seen: float | None = None
        self.last_bound: float | None = None

    # -- informer handlers -------------------------------------------------------------------------

    def _priority(self, pod: Object) -> int:
        """The pod's PriorityClass value (the API server here has no Priority admission
        plugin to copy it into spec.priority), else the global default class's, else
        spec.priority."""
        spec = pod.get("spec") or {}
        name = spec.get("priorityClassName")
        found = self.priority_classes.cache.get(name) if name else None
        if found is None and not name:
            found = next((c for c in self.priority_classes.cache.list() if c.get("globalDefault")), None)
        if found is not None and isinstance(found.get("value"), int):
            return found["value"]
        return spec["priority"] if isinstance(spec.get("priority"), int) else 0

    def _on_pod(self, old: Object | None, pod: Object) -> None:
        key = pod_key(pod)
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        if status.get("phase") in TERMINAL_PHASES:
            self.queue.delete(key)
            if self.cache.has_pod(key):
                self.cache.remove_pod(key)
                self.queue.move_all_to_active()
            return
        if spec.get("nodeName"):
            self.queue.delete(key)
            self.cache.set_bound_pod(PodInfo.of(pod))
            return
        if key in self.cache.assumed:
            return  # our binding is in flight
        if (spec.get("schedulerName") or "default-scheduler") != self.config.scheduler_name:
            return
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            self.queue.delete(key)
            return
        if old is not None and key in self.queue and not _spec_changed(old, pod):
            return  # our own status patch, or a resync
        if self.first_seen is None:
            self.first_seen = time.monotonic()
        self.queue.add(key, self._priority(pod), (pod.get("metadata") or {}).get("creationTimestamp") or "")

    def _on_pod_deleted(self, pod: Object) -> None:
        key = pod_key(pod)
        self.queue.delete(key)
        if self.cache.has_pod(key):
            self.cache.remove_pod(key)
            self.queue.move_all_to_active()

    def _on_node(self, old: Object | None, node: Object) -> None:
        self.cache.set_node(node)
        if old is None or _node_changed(old, node):
            self.queue.move_all_to_active()

    def _on_node_deleted(self, node: Object) -> None:
        self.cache.remove_node((node.get("metadata") or {}).get("name", ""))

    # -- running ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the informers, wait for their first lists, then start scheduling."""
        self.nodes.add_event_handler(lambda n: self._on_node(None, n), self._on_node, self._on_node_deleted)
        self.factory.start()
        # pods are queued by priority: know the PriorityClasses before the first pod
        await self.priority_classes.wait_for_sync()
        self.pods.add_event_handler(lambda p: self._on_pod(None, p), self._on_pod, self._on_pod_deleted)
        await self.factory.wait_for_sync()
        self._worker = asyncio.get_running_loop().create_task(self._work(), name="scheduler")
        log.info("scheduler %s started: %d nodes, %d pending pods", self.config.scheduler_name,
                 len(self.cache.nodes), len(self.queue))

    async def stop(self) -> None:
        tasks = [t for t in (self._worker, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.factory.stop()
        try:  # write the events still queued, but do not hold a shutdown for long
            async with asyncio.timeout(self.config.event_flush_timeout):
                await self.recorder.close()
        except TimeoutError:
            log.warning("stopping with unwritten events")

    async def run(self) -> None:
        """Schedule until cancelled (what leader election runs while leading)."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.shield(self.stop())

    async def _work(self) -> None:
        while True:
            await self._slots.acquire()
            key = await self.queue.pop()
            try:
                self.schedule_one(key)
            except Exception:
                log.exception("scheduling %s failed", key)
                self.queue.retry(key)
                self._slots.release()
            await asyncio.sleep(0)  # let informers and bindings run between cycles

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- one cycle -------------------------------------------------------------------------------

    def find_node(self, info: PodInfo) -> str:
        """The best node for the pod; raises :class:`FitError` when none fits."""
        nodes = self.cache.nodes
        state = CycleState(info, self.cache, self.listers)
        active = [f for f in self.filters if f.prepare(state)]
        table = self.cache.table if self.vectorized else None
        if table is not None:
            rows, reasons = vectorized.run_filters(active, state, nodes, table)
            if not len(rows):
                raise FitError(info, len(nodes), reasons)
            return vectorized.pick(self.scorers, state, nodes, table, rows).name
        feasible, reasons = run_filters(active, state, nodes)
        if not feasible:
            raise FitError(info, len(nodes), reasons)
        if len(feasible) == 1:
            return feasible[0].name
        total: list[float] | None = None
        for scorer, weight in self.scorers:
            relevant = getattr(scorer, "relevant", None)
            if relevant is not None and not relevant(state):
                continue
            scores = scorer.score(state, feasible)
            if scores is None:
                continue
            if total is None:
                total = [s * weight for s in scores] if weight != 1 else list(scores)
            else:
                total = [t + s * weight for t, s in zip(total, scores, strict=True)]
        if total is None:
            return random.choice(feasible).name
        best = max(total)
        winners = [i for i, t in enumerate(total) if t == best]
        return feasible[winners[0] if len(winners) == 1 else random.choice(winners)].name

    def schedule_one(self, key: str) -> None:
        """Decide for one popped key; the binding (or the failure report) runs as a task.
        Holds one binding slot, released when that task ends."""
        pod = self.pods.cache.get(key)
        spec = (pod or {}).get("spec") or {}
        if pod is None or spec.get("nodeName") or (pod.get("metadata") or {}).get("deletionTimestamp"):
            self.queue.delete(key)
            self._slots.release()
            return
        info = PodInfo.of(pod)
        try:
            node_name = self.find_node(info)
        except FitError as error:
            self.failed_attempts += 1
            self.queue.unschedulable(key)
            self._spawn(self._report_failure(pod, error.message))
            return
        self.cache.assume(info, node_name)
        self.queue.done(key)
        self._spawn(self._bind(info, node_name))

    async def _bind(self, info: PodInfo, node_name: str) -> None:
        pod = info.pod
        metadata = pod.get("metadata") or {}
        namespace, name = metadata.get("namespace") or "default", metadata.get("name", "")
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": name, "namespace": namespace, "uid": metadata.get("uid")},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        try:
            await self.client.create(PODS, body, namespace=namespace, name=name, subresource="binding")
        except (APIError, TransportError) as error:
            self.cache.forget(info.key)
            if isinstance(error, NotFound) or (isinstance(error, Conflict) and "already assigned" in str(error)):
                self.queue.delete(info.key)  # deleted, or bound by someone else: the informer says which
            else:
                log.warning("binding %s to %s failed: %s", info.key, node_name, error)
                self.queue.retry(info.key)
                self.recorder.event(pod, WARNING, "FailedScheduling", f"Binding rejected: {error}")
            return
        finally:
            self._slots.release()
        self.scheduled += 1
        self.last_bound = time.monotonic()
        log.debug("bound %s to %s", info.key, node_name)
        self.recorder.event(pod, NORMAL, "Scheduled", f"Successfully assigned {namespace}/{name} to {node_name}")

    async def _report_failure(self, pod: Object, message: str) -> None:
        try:
            metadata = pod.get("metadata") or {}
            log.info("unable to schedule %s/%s: %s", metadata.get("namespace"), metadata.get("name"), message)
            self.recorder.event(pod, WARNING, "FailedScheduling", message)
            conditions = (pod.get("status") or {}).get("conditions") or []
            current = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
            if current and current.get("status") == "False" and current.get("message") == message:
                return
            condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                         "message": message, "lastProbeTime": None, "lastTransitionTime": now_rfc3339()}
            await self.client.patch(PODS, metadata.get("name", ""), {"status": {"conditions": [condition]}},
                                    namespace=metadata.get("namespace") or "default", subresource="status",
                                    patch_type="strategic")
        except (APIError, TransportError) as error:
            log.info("could not set PodScheduled on %s: %s", pod_key(pod), error)
        finally:
            self._slots.release()
