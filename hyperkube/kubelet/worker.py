"""One worker per pod: make the runtime match the pod, and report what it sees.

The worker is a task that loops on "something changed" (a new pod version, a timer for a
back-off, or a poll of running processes) and runs an idempotent :meth:`PodWorker.sync`:

1. admission (first time only): a pod that does not fit the node's allocatable is Failed;
2. init containers in order, each to a zero exit;
3. every container started; an exited one restarted by restartPolicy, with CrashLoopBackOff
   (``backoff_initial`` doubling to ``backoff_max``; the first restart is immediate, and a
   container that ran ``backoff_reset`` seconds starts over);
4. the status written when it changed (see status.py and :meth:`Kubelet.write_status`).

A pod that is deleted in the API (deletionTimestamp) or leaves the desired set is stopped
(SIGTERM, then SIGKILL when its grace period ends), and then the kubelet completes the
deletion with grace 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hyperkube.kubelet.containers import ContainerConfigError
from hyperkube.kubelet.logs import LogOptions, read_log
from hyperkube.kubelet.probes import Prober, has_probes
from hyperkube.kubelet.runtime import EXITED, RUNNING, FakeRuntime
from hyperkube.kubelet.status import FAILED, SUCCEEDED, ContainerView, pod_status
from hyperkube.kubelet.volumes import VolumeManager
from hyperkube.machinery.durations import parse_rfc3339

if TYPE_CHECKING:
    from hyperkube.kubelet.kubelet import Kubelet

log = logging.getLogger("hyperkube.kubelet.worker")


def _qos(pod: dict[str, Any]) -> str:
    requests = limits = False
    guaranteed = True
    for c in (pod.get("spec") or {}).get("containers") or []:
        resources = c.get("resources") or {}
        req, lim = resources.get("requests") or {}, resources.get("limits") or {}
        requests = requests or any(k in req for k in ("cpu", "memory"))
        limits = limits or any(k in lim for k in ("cpu", "memory"))
        if not all(k in lim and str(req.get(k, lim[k])) == str(lim[k]) for k in ("cpu", "memory")):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class PodWorker:
    def __init__(self, kubelet: Kubelet, uid: str) -> None:
        self.kubelet = kubelet
        self.uid = uid
        self.pod: dict[str, Any] | None = None
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.start_time = time.time()
        self.admitted = False
        self.sandbox_ready = False
        self.rejected: dict[str, Any] | None = None
        self.backoff: dict[str, float] = {}
        self.spec_hashes: dict[tuple[str, int], str] = {}  # (container, attempt) -> hash of its spec then
        self.last_terminated: dict[str, Any] = {}  # container name -> its previous attempt's end
        self.waiting: dict[str, tuple[str, str]] = {}
        self.last_written: dict[str, Any] | None = None  # the status last written to the API
        self.shown: dict[str, Any] | None = None  # the status last computed (served by /pods)
        self.final_phase: str | None = None
        self.final_reason: tuple[str, str] = ("", "")  # the pod's status reason and message, when it has them
        self.probes: Any = None  # the Prober, once containers run
        self.done = False
        self.volumes: VolumeManager | None = None
        self.volumes_refreshed = 0.0
        self.volume_error: ContainerConfigError | None = None
        self.known: dict[str, Any] | None = None  # the last pod seen, for its grace period

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"pod-worker {self.uid}")

    def update(self, pod: dict[str, Any] | None) -> None:
        self.pod = pod
        if pod is not None:
            self.known = pod
        self.wake.set()

    async def _run(self) -> None:
        poll = self.kubelet.runtime_poll_interval
        while True:
            try:
                if poll is None:
                    await self.wake.wait()
                else:
                    async with asyncio.timeout(poll):
                        await self.wake.wait()
            except TimeoutError:
                pass
            self.wake.clear()
            pod = self.pod
            try:
                if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
                    await self.terminate(pod)
                    return
                await self.sync(pod)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pod %s: sync failed", self.uid)
                await asyncio.sleep(1)
                self.wake.set()

    # -- running -----------------------------------------------------------------------------

    async def sync(self, pod: dict[str, Any]) -> None:
        kubelet, runtime = self.kubelet, self.kubelet.runtime
        if not self.admitted:
            phase = (pod.get("status") or {}).get("phase")
            if phase in (SUCCEEDED, FAILED):  # finished before this kubelet started
                self.final_phase = phase
            self.rejected = kubelet.admit(pod)
            self.admitted = True
            started = (pod.get("status") or {}).get("startTime")
            if started:  # kept across kubelet restarts
                with contextlib.suppress(ValueError):
                    self.start_time = parse_rfc3339(started)
        if self.rejected is not None:
            await kubelet.write_status(pod, self.rejected)
            return
        if not self.sandbox_ready:
            await runtime.run_sandbox(pod)
            self.sandbox_ready = True
        await self._prepare_volumes(pod)
        spec = pod.get("spec") or {}
        deadline = spec.get("activeDeadlineSeconds")
        if deadline and self.final_phase is None:
            left = self.start_time + float(deadline) - time.time()
            if left <= 0:
                self.final_phase = FAILED
                self.final_reason = ("DeadlineExceeded", "Pod was active on the node longer than the specified "
                                                         "deadline")
                await runtime.stop_sandbox(self.uid, self.grace_seconds(pod))
            else:
                asyncio.get_running_loop().call_later(left + 0.01, self.wake.set)
        policy = spec.get("restartPolicy") or "Always"
        init_views: list[ContainerView] = []
        initialized = True
        for container in spec.get("initContainers") or []:
            view = await self._drive(pod, container, "Never" if policy == "Never" else "OnFailure",
                                     may_start=initialized and self.final_phase is None)
            init_views.append(view)
            current = view.current
            if not (current and current.state == EXITED and current.exit_code == 0):
                initialized = False
        views = []
        for container in spec.get("containers") or []:
            views.append(await self._drive(pod, container, policy,
                                           may_start=initialized and self.final_phase is None))
        if self.probes is None and has_probes(pod):
            self.probes = Prober(self)
        if self.probes is not None:
            self.probes.apply(views)
        else:
            for view in views:
                view.ready = view.started = bool(view.current and view.current.state == RUNNING
                                                 and not view.waiting_message)
        seen = {**pod, "status": self.shown or pod.get("status") or {}}
        status = pod_status(seen, init_views if spec.get("initContainers") else [], views,
                            node_ip=kubelet.node_ip, start_time=self.start_time, qos_class=_qos(pod),
                            phase=self.final_phase, reason=self.final_reason[0], message=self.final_reason[1],
                            api_status=pod.get("status") if kubelet.is_api_pod(pod) else None)
        if status["phase"] in (SUCCEEDED, FAILED):
            self.final_phase = status["phase"]
        await kubelet.write_status(pod, status)

    async def _log_tail(self, name: str, attempt: int) -> str:
        """The termination message FallbackToLogsOnError asks for: the log's last 80 lines (2 KiB at most)."""
        path = self.kubelet.runtime.log_path(self.uid, name, attempt)
        if path is None:
            return ""
        text, _ = await asyncio.to_thread(read_log, path, LogOptions(tail_lines=80))
        return text[-2048:].decode(errors="replace")

    async def _prepare_volumes(self, pod: dict[str, Any]) -> None:
        """Create volumes, and refresh ConfigMap/Secret contents every ``volume_refresh`` s."""
        if isinstance(self.kubelet.runtime, FakeRuntime) or not (pod.get("spec") or {}).get("volumes"):
            return
        now = time.monotonic()
        if self.volumes is not None and now - self.volumes_refreshed < self.kubelet.config.volume_refresh:
            return
        if self.volumes is None:
            self.volumes = VolumeManager(Path(self.kubelet.config.root_dir), pod, self.kubelet.lookup,
                                         self.kubelet.node_ip, self.kubelet.service_account_token)
        self.volumes.pod = pod
        try:
            await self.volumes.prepare()
            self.volume_error = None
            self.volumes_refreshed = now
        except ContainerConfigError as error:  # retried on the next sync
            self.volume_error = error

    async def _drive(self, pod: dict[str, Any], container: dict[str, Any], policy: str, *,
                     may_start: bool) -> ContainerView:
        """Bring one container toward running; return how it looks now."""
        runtime = self.kubelet.runtime
        name = container["name"]
        view = ContainerView(container, last_terminated=self.last_terminated.get(name))
        current = await runtime.container_status(self.uid, name)
        view.current = current
        if current is not None and current.state == EXITED and current.exit_code and not current.message and \
                container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            current.message = await self._log_tail(name, current.attempt)
        digest = hashlib.md5(json.dumps(container, sort_keys=True).encode()).hexdigest()
        if current is not None and current.state == RUNNING:
            self.waiting.pop(name, None)
            started_as = self.spec_hashes.setdefault((name, current.attempt), digest)
            if started_as == digest:
                return view
            # the container changed (a new image): stop it; it starts again below, without back-off
            self.kubelet.events.event(pod, "Normal", "Killing", f"Container {name} definition changed, "
                                                                  "will be restarted")
            await runtime.stop_container(self.uid, name, self.grace_seconds(pod))
            current = view.current = await runtime.container_status(self.uid, name)
            self.backoff[name] = 0.0
            if current is not None and current.finished_at:
                current.finished_at = min(current.finished_at, time.time())
            if policy == "Never" or (policy == "OnFailure" and current is not None and current.exit_code == 0):
                policy = "Always"  # a changed container is started again whatever the policy
        if not may_start:
            view.waiting_reason = "PodInitializing" if current is None else view.waiting_reason
            return view
        if current is not None:  # it ended: restart?
            if policy == "Never" or (policy == "OnFailure" and current.exit_code == 0):
                return view
            view.will_restart = True
            now = time.time()
            ran = (current.finished_at or now) - current.started_at
            if ran >= self.kubelet.config.backoff_reset:
                self.backoff[name] = 0.0
            delay = self.backoff.get(name, 0.0)
            ready_at = (current.finished_at or now) + delay
            if now < ready_at:
                view.waiting_reason = "CrashLoopBackOff"
                view.waiting_message = (f"back-off {delay:g}s restarting failed container={name} "
                                        f"pod={pod['metadata'].get('name')}_{pod['metadata'].get('namespace')}"
                                        f"({self.uid})")
                asyncio.get_running_loop().call_later(ready_at - now + 0.01, self.wake.set)
                return view
            config = self.kubelet.config
            self.backoff[name] = min(max(delay * 2, config.backoff_initial), config.backoff_max)
            attempt = current.attempt + 1
        else:
            attempt = 0
        try:
            if self.volume_error is not None:
                raise self.volume_error
            spec = await self.kubelet.container_spec(pod, container)
            if self.volumes is not None and container.get("volumeMounts"):
                await asyncio.to_thread(self.volumes.mount, container)
        except ContainerConfigError as error:
            self.waiting[name] = (error.reason, error.message)
            view.waiting_reason, view.waiting_message = error.reason, error.message
            if current is not None:
                view.will_restart = False
            asyncio.get_running_loop().call_later(5, self.wake.set)
            return view
        self.waiting.pop(name, None)
        view.current = await runtime.start_container(pod, spec, attempt)
        self.spec_hashes[(name, attempt)] = digest
        view.will_restart = False
        if current is not None:
            view.last_terminated = self.last_terminated[name] = current
        self.kubelet.events.event(pod, "Normal", "Started", f"Started container {name}")
        post_start = (container.get("lifecycle") or {}).get("postStart")
        if post_start:
            ok, message = await self.run_hook(container, post_start, 30.0)
            if not ok:  # as Kubernetes does: the container is killed, and restarted by policy
                self.kubelet.events.event(pod, "Warning", "FailedPostStartHook", message)
                await runtime.stop_container(self.uid, name, self.grace_seconds(pod))
                view.current = await runtime.container_status(self.uid, name)
        return view

    async def run_hook(self, container: dict[str, Any], hook: dict[str, Any], limit: float) -> tuple[bool, str]:
        """A lifecycle hook: exec, httpGet, tcpSocket (as probes run them) or sleep."""
        if hook.get("sleep"):
            await asyncio.sleep(min(float(hook["sleep"].get("seconds") or 0), limit))
            return True, ""
        return await Prober(self).run_probe(container, hook, limit)

    async def _pre_stop(self, pod: dict[str, Any], grace: float) -> float:
        """Run the running containers' preStop hooks; return what is left of the grace period."""
        hooks = []
        for container in (pod.get("spec") or {}).get("containers") or []:
            hook = (container.get("lifecycle") or {}).get("preStop")
            if not hook:
                continue
            current = await self.kubelet.runtime.container_status(self.uid, container["name"])
            if current is not None and current.state == RUNNING:
                hooks.append(self.run_hook(container, hook, grace))
        if not hooks:
            return grace
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*hooks, return_exceptions=True)
        return max(grace - (loop.time() - started), 0.0)

    # -- stopping -----------------------------------------------------------------------------

    def grace_seconds(self, pod: dict[str, Any] | None) -> float:
        if pod is None:
            return 30.0
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        return float(grace if grace is not None else 30)

    async def terminate(self, pod: dict[str, Any] | None) -> None:
        """Stop the pod's containers, then finish: delete it in the API (grace 0) when it was
        deleted there, and forget it in the runtime."""
        kubelet = self.kubelet
        grace = self.grace_seconds(pod if pod is not None else self.known)
        if self.probes is not None:
            self.probes.stop()
        known = pod if pod is not None else self.known
        if known is not None and self.sandbox_ready:
            grace = await self._pre_stop(known, grace)
        await kubelet.runtime.stop_sandbox(self.uid, grace)
        if pod is not None and kubelet.is_api_pod(pod):
            try:
                final = dict(pod)
                views = []
                for container in (pod.get("spec") or {}).get("containers") or []:
                    current = await kubelet.runtime.container_status(self.uid, container["name"])
                    views.append(ContainerView(container, current))
                phase = self.final_phase or (FAILED if any(v.current and v.current.exit_code for v in views)
                                             else SUCCEEDED)
                status = pod_status(final, [], views, node_ip=kubelet.node_ip, start_time=self.start_time,
                                    qos_class=_qos(pod), phase=phase)
                await kubelet.write_status(pod, status)
            except Exception as error:  # the pod may be gone already
                log.debug("pod %s: final status not written: %s", self.uid, error)
            await kubelet.delete_pod(pod)
        await kubelet.runtime.remove_sandbox(self.uid)
        self.done = True
        kubelet.worker_finished(self)
