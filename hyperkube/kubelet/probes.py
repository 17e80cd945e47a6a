"""Startup, readiness and liveness probes (exec, httpGet, tcpSocket) for one pod.

One task per (container attempt, probe kind) runs the probe every ``periodSeconds`` after
``initialDelaySeconds``, each try bounded by ``timeoutSeconds``; ``successThreshold`` and
``failureThreshold`` consecutive results flip its verdict, as in Kubernetes:

- startup: until it succeeds, readiness and liveness wait and the container is not
  ``started``; reaching the failure threshold kills the container;
- readiness: decides the container's ``ready`` (and so the pod's Ready condition);
- liveness: reaching the failure threshold kills the container (SIGTERM, grace, SIGKILL) and
  the worker restarts it by the pod's restartPolicy, with the usual back-off.

A verdict that changes wakes the pod worker, which writes the new status. A new attempt of
the container starts fresh probes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from hyperkube.kubelet.runtime import RUNNING
from hyperkube.kubelet.status import ContainerView

if TYPE_CHECKING:
    from hyperkube.kubelet.worker import PodWorker

log = logging.getLogger("hyperkube.kubelet.probes")
KINDS = (("startup", "startupProbe"), ("readiness", "readinessProbe"), ("liveness", "livenessProbe"))


def has_probes(pod: dict[str, Any]) -> bool:
    return any(c.get(field) for c in (pod.get("spec") or {}).get("containers") or [] for _, field in KINDS)


class Prober:
    def __init__(self, worker: PodWorker) -> None:
        self.worker = worker
        self.tasks: dict[tuple[str, str], tuple[int, asyncio.Task[None]]] = {}
        self.ready: dict[tuple[str, int], bool] = {}
        self.started: dict[tuple[str, int], asyncio.Event] = {}

    def apply(self, views: list[ContainerView]) -> None:
        """Start probes for running attempts; set each view's ``started`` and ``ready``."""
        for view in views:
            spec, current = view.spec, view.current
            name = spec["name"]
            if current is None or current.state != RUNNING:
                self._cancel(name)
                view.ready = view.started = False
                continue
            attempt = current.attempt
            started = self.started.setdefault((name, attempt), asyncio.Event())
            if not spec.get("startupProbe"):
                started.set()
            for kind, field in KINDS:
                probe = spec.get(field)
                if not probe:
                    continue
                running = self.tasks.get((name, kind))
                if running is None or running[0] != attempt:
                    if running is not None:
                        running[1].cancel()
                    task = asyncio.get_running_loop().create_task(
                        self._loop(spec, attempt, kind, probe), name=f"probe {kind} {name}")
                    self.tasks[(name, kind)] = (attempt, task)
            view.started = started.is_set()
            default_ready = not spec.get("readinessProbe")
            view.ready = view.started and self.ready.get((name, attempt), default_ready)

    def _cancel(self, name: str) -> None:
        for key in [k for k in self.tasks if k[0] == name]:
            self.tasks.pop(key)[1].cancel()

    def stop(self) -> None:
        for _, task in self.tasks.values():
            task.cancel()
        self.tasks.clear()

    async def _loop(self, spec: dict[str, Any], attempt: int, kind: str, probe: dict[str, Any]) -> None:
        name = spec["name"]
        started = self.started[(name, attempt)]
        if kind != "startup":
            await started.wait()
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        period = float(probe.get("periodSeconds") or 10)
        timeout = float(probe.get("timeoutSeconds") or 1)
        success_needed = int(probe.get("successThreshold") or 1)
        failure_allowed = int(probe.get("failureThreshold") or 3)
        successes = failures = 0
        while True:
            ok, message = await self.run_probe(spec, probe, timeout)
            if ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                log.info("pod %s container %s: %s probe failed: %s", self.worker.uid, name, kind, message)
            if kind == "startup":
                if successes >= 1:
                    started.set()
                    self.worker.wake.set()
                    return
            elif kind == "readiness":
                verdict = self.ready.get((name, attempt))
                if successes >= success_needed and verdict is not True:
                    self.ready[(name, attempt)] = True
                    self.worker.wake.set()
                elif failures >= failure_allowed and verdict is not False:
                    self.ready[(name, attempt)] = False
                    self.worker.wake.set()
            if kind in ("startup", "liveness") and failures >= failure_allowed:
                pod = self.worker.pod or {}
                reason = "Liveness" if kind == "liveness" else "Startup"
                self.worker.kubelet.events.event(pod, "Warning", "Unhealthy",
                                                 f"{reason} probe failed: {message}")
                grace = probe.get("terminationGracePeriodSeconds")
                if grace is None:
                    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                await self.worker.kubelet.runtime.stop_container(self.worker.uid, name, float(grace or 0))
                self.worker.wake.set()
                return
            await asyncio.sleep(period)

    async def run_probe(self, spec: dict[str, Any], probe: dict[str, Any], limit: float) -> tuple[bool, str]:
        try:
            async with asyncio.timeout(limit):
                if probe.get("exec"):
                    return await self._exec(spec, probe["exec"].get("command") or [])
                if probe.get("httpGet"):
                    return await self._http(spec, probe["httpGet"])
                if probe.get("tcpSocket"):
                    return await self._tcp(spec, probe["tcpSocket"])
                return True, ""
        except TimeoutError:
            return False, f"timed out after {limit:g}s"

    def _port(self, spec: dict[str, Any], port: Any) -> int:
        if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
            return int(port)
        for container_port in spec.get("ports") or []:
            if container_port.get("name") == port:
                return int(container_port["containerPort"])
        raise ValueError(f"no port named {port!r}")

    async def _exec(self, spec: dict[str, Any], command: list[str]) -> tuple[bool, str]:
        resolved = await self.worker.kubelet.container_spec(self.worker.pod or {}, spec)
        try:
            process = await asyncio.create_subprocess_exec(
                *command, env=resolved.env, cwd=resolved.working_dir or None, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        except OSError as error:
            return False, f"{command[:1]}: {error.strerror or error}"
        try:
            output, _ = await process.communicate()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        return process.returncode == 0, output.decode(errors="replace")[-200:]

    async def _http(self, spec: dict[str, Any], action: dict[str, Any]) -> tuple[bool, str]:
        import aiohttp

        try:
            port = self._port(spec, action.get("port"))
        except ValueError as error:
            return False, str(error)
        host = action.get("host") or self.worker.kubelet.node_ip
        scheme = (action.get("scheme") or "HTTP").lower()
        path = action.get("path") or "/"
        headers = {h.get("name", ""): h.get("value", "") for h in action.get("httpHeaders") or []}
        url = f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
        try:
            async with aiohttp.ClientSession() as session, session.get(url, headers=headers, ssl=False,
                                                                       allow_redirects=False) as response:
                return 200 <= response.status < 400, f"HTTP probe failed with statuscode: {response.status}"
        except aiohttp.ClientError as error:
            return False, f'Get "{url}": {error}'

    async def _tcp(self, spec: dict[str, Any], action: dict[str, Any]) -> tuple[bool, str]:
        try:
            port = self._port(spec, action.get("port"))
            host = action.get("host") or self.worker.kubelet.node_ip
            _, writer = await asyncio.open_connection(host, port)
        except (OSError, ValueError) as error:
            return False, f"dial tcp: {error}"
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True, ""
