"""The kubelet's Node: registration, status from the host, and the Lease heartbeat.

- Registration creates the Node (labels ``kubernetes.io/hostname``, ``kubernetes.io/os``,
  ``kubernetes.io/arch`` plus ``--node-labels``; taints from ``--register-with-taints``), or
  merges labels into an existing one, as a kubelet re-registering does.
- Status checked every ``node_status_frequency`` seconds and patched (``nodes/NAME/status``)
  when it changed or every ``node_status_report_frequency`` seconds (5 min), as the kubelet
  does since the Lease took over the heartbeat:
  capacity and allocatable from the host (cpu, memory from /proc/meminfo, pods = --max-pods,
  ephemeral-storage of --root-dir's file system), the four conditions (Ready, MemoryPressure,
  DiskPressure, PIDPressure), addresses (InternalIP = --node-ip, Hostname), the kubelet's
  port in ``daemonEndpoints`` (the API server proxies logs and exec there) and nodeInfo.
- A Lease ``kube-node-lease/<node>`` renewed every ``lease_frequency`` seconds.

Every call retries on its own schedule, so an API server that is down delays nothing else.
Host facts are read in a thread (they touch /proc and the disk).
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import shutil
import socket
import time
from typing import TYPE_CHECKING, Any

from hyperkube import KUBERNETES_GIT_VERSION, __version__
from hyperkube.client import AlreadyExists, APIError, Conflict, NotFound, TransportError
from hyperkube.machinery.durations import now_rfc3339

if TYPE_CHECKING:
    from hyperkube.kubelet.kubelet import Kubelet

log = logging.getLogger("hyperkube.kubelet.node")

KUBELET_VERSION = KUBERNETES_GIT_VERSION
ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def micro_time(ts: float | None = None) -> str:
    ts = time.time() if ts is None else ts
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1e6):06d}Z"


def _meminfo() -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                values[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return values


def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path) as handle:
                return handle.read().strip()
        except OSError:
            continue
    return ""


def _os_image() -> str:
    try:
        with open("/etc/os-release") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


class NodeAgent:
    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet
        self.config = kubelet.config
        self.name = kubelet.node_name
        self.uid = ""
        self.registered = asyncio.Event()
        self._host: dict[str, Any] | None = None
        self._static_info: dict[str, Any] | None = None
        self._reported: dict[str, Any] | None = None
        self._reported_at = 0.0

    # -- host facts ----------------------------------------------------------------------------

    def _read_host(self) -> dict[str, Any]:
        memory = _meminfo()
        try:
            disk = shutil.disk_usage(self.config.root_dir)
            disk_total, disk_free = disk.total, disk.free
        except OSError:
            disk_total = disk_free = 0
        try:
            pid_max = int(open("/proc/sys/kernel/pid_max").read())  # noqa: SIM115
            pids = len([p for p in os.listdir("/proc") if p.isdigit()])
        except (OSError, ValueError):
            pid_max, pids = 1 << 22, 0
        if self._static_info is None:
            self._static_info = {"machineID": _machine_id(), "systemUUID": _machine_id(), "bootID": "",
                                 "kernelVersion": platform.release(), "osImage": _os_image()}
        return {"cpu": os.cpu_count() or 1, "memory": memory.get("MemTotal", 0),
                "memory_available": memory.get("MemAvailable", memory.get("MemFree", 0)),
                "disk_total": disk_total, "disk_free": disk_free, "pid_max": pid_max, "pids": pids}

    async def read_host(self) -> None:
        self._host = await asyncio.to_thread(self._read_host)

    def capacity(self) -> dict[str, str]:
        host = self._host or self._read_host()
        self._host = host
        return {"cpu": str(host["cpu"]), "memory": f"{host['memory'] // 1024}Ki",
                "pods": str(self.config.max_pods), "ephemeral-storage": f"{host['disk_total'] // 1024}Ki"}

    def allocatable(self) -> dict[str, str]:
        return self.capacity()

    def owner_references(self) -> list[dict[str, Any]]:
        if not self.uid:
            return []
        return [{"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.uid, "controller": True}]

    def _conditions(self, host: dict[str, Any], previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now = now_rfc3339()
        before = {c.get("type"): c for c in previous}
        memory_low = host["memory"] and host["memory_available"] < min(100 << 20, host["memory"] // 20)
        disk_low = host["disk_total"] and host["disk_free"] < host["disk_total"] // 10
        pids_low = host["pids"] > host["pid_max"] * 0.95
        rows = [
            ("Ready", True, "KubeletReady", "kubelet is posting ready status"),
            ("MemoryPressure", memory_low, "KubeletHasInsufficientMemory" if memory_low else
             "KubeletHasSufficientMemory", "kubelet has insufficient memory available" if memory_low else
             "kubelet has sufficient memory available"),
            ("DiskPressure", disk_low, "KubeletHasDiskPressure" if disk_low else "KubeletHasNoDiskPressure",
             "kubelet has disk pressure" if disk_low else "kubelet has no disk pressure"),
            ("PIDPressure", pids_low, "KubeletHasInsufficientPID" if pids_low else "KubeletHasSufficientPID",
             "kubelet has insufficient PID available" if pids_low else "kubelet has sufficient PID available"),
        ]
        conditions = []
        for kind, value, reason, message in rows:
            status = "True" if value else "False"
            old = before.get(kind) or {}
            changed = old.get("status") != status
            conditions.append({"type": kind, "status": status, "reason": reason, "message": message,
                               "lastHeartbeatTime": now,
                               "lastTransitionTime": now if changed else old.get("lastTransitionTime", now)})
        return conditions

    def status(self, host: dict[str, Any], previous: list[dict[str, Any]]) -> dict[str, Any]:
        self._host = host
        capacity = self.capacity()
        info = dict(self._static_info or {})
        info.update({"containerRuntimeVersion": f"{self.kubelet.runtime.name}://{__version__}",
                     "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                     "operatingSystem": "linux", "architecture": ARCHES.get(platform.machine(), platform.machine())})
        return {
            "capacity": capacity, "allocatable": self.allocatable(),
            "conditions": self._conditions(host, previous),
            "addresses": [{"type": "InternalIP", "address": self.kubelet.node_ip},
                          {"type": "Hostname", "address": self.config.hostname or self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet.port}},
            "nodeInfo": info,
        }

    # -- the loops -----------------------------------------------------------------------------

    def _labels(self) -> dict[str, str]:
        arch = ARCHES.get(platform.machine(), platform.machine())
        return {"kubernetes.io/hostname": self.config.hostname or self.name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch,
                **self.config.node_labels}

    async def register(self) -> dict[str, Any]:
        client = self.kubelet.client
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Node",
                                "metadata": {"name": self.name, "labels": self._labels()}, "spec": {}}
        if self.config.taints:
            body["spec"]["taints"] = self.config.taints
        try:
            node = await client.create("v1/nodes", body)
        except AlreadyExists:
            node = await client.patch("v1/nodes", self.name, {"metadata": {"labels": self._labels()}})
        self.uid = node["metadata"]["uid"]
        log.info("node %s registered", self.name)
        return node

    async def run(self) -> None:
        await self._retry(self.register)
        self.registered.set()
        loop = asyncio.get_running_loop()
        lease = loop.create_task(self._lease_loop(), name=f"lease {self.name}")
        try:
            previous: list[dict[str, Any]] = []
            while True:
                try:
                    previous = await self.update_status(previous)
                except (APIError, TransportError) as error:
                    log.warning("node %s status: %s", self.name, error)
                    if isinstance(error, NotFound):  # someone deleted the Node: register again
                        await self._retry(self.register)
                await asyncio.sleep(self.config.node_status_frequency)
        finally:
            lease.cancel()
            await asyncio.gather(lease, return_exceptions=True)

    async def update_status(self, previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Patch the Node's status when something in it changed, or when the last report is
        ``node_status_report_frequency`` old (the Lease is the heartbeat in between)."""
        host = await asyncio.to_thread(self._read_host)
        status = self.status(host, previous)
        comparable = _without_heartbeats(status)
        now = time.monotonic()
        if comparable == self._reported and now - self._reported_at < self.config.node_status_report_frequency:
            return previous
        await self.kubelet.client.patch_status("v1/nodes", self.name, {"status": status})
        self._reported, self._reported_at = comparable, now
        return status["conditions"]

    async def _retry(self, call: Any) -> Any:
        delay = 0.5
        while True:
            try:
                return await call()
            except (APIError, TransportError) as error:
                log.warning("node %s: %s; retrying in %.1fs", self.name, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def _lease_loop(self) -> None:
        while True:
            try:
                await self.renew_lease()
            except (APIError, TransportError) as error:
                log.warning("node %s lease: %s", self.name, error)
            await asyncio.sleep(self.config.lease_frequency)

    async def renew_lease(self) -> None:
        client = self.kubelet.client
        resource = "coordination.k8s.io/v1/leases"
        spec = {"holderIdentity": self.name, "leaseDurationSeconds": self.config.lease_duration,
                "renewTime": micro_time()}
        try:
            lease = await client.get(resource, self.name, namespace="kube-node-lease")
        except NotFound:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": "kube-node-lease",
                                 "ownerReferences": self.owner_references()}, "spec": spec}
            try:
                await client.create(resource, body, namespace="kube-node-lease")
            except AlreadyExists:
                pass
            return
        lease["spec"] = {**(lease.get("spec") or {}), **spec}
        try:
            await client.update(resource, lease, namespace="kube-node-lease")
        except Conflict:
            pass


def _without_heartbeats(status: dict[str, Any]) -> dict[str, Any]:
    conditions = [{k: v for k, v in c.items() if k not in ("lastHeartbeatTime", "lastTransitionTime")}
                  for c in status["conditions"]]
    capacity = {k: v for k, v in status["capacity"].items() if k != "ephemeral-storage"}
    return {**status, "conditions": conditions, "capacity": capacity, "allocatable": capacity}


def default_hostname() -> str:
    return socket.gethostname().lower()
