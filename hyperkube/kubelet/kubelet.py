"""The kubelet: pod sources merged into one desired set, one worker per pod, status to the API.

::

    API informer (spec.nodeName=NODE) ──┐
    manifest directory (static pods) ───┼─> desired set {uid: pod} ──> PodWorker per uid ──> Runtime
    manifest URL (static pods) ─────────┤            │                        │
    POST /pods on its own server ───────┘            │                        │
                                                     └─> mirror pods          └─> status ──> PUT pods/status

A pod UID belongs to one source. Static pods (directory, URL) get a UID hashed from their
manifest, a name ``<name>-<node>``, and a *mirror pod* in the API annotated
``kubernetes.io/config.mirror``; the API source ignores mirror pods, so a static pod is never
run twice, and a deleted mirror pod is recreated. Static pods run whether or not the API
server answers: everything that talks to it runs in its own retrying task.

Wiring (flags, the client) stays in hyperkube/cli/kubelet.py; tests build a :class:`Kubelet`
against a real in-process API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperkube.client import (
    AlreadyExists,
    APIError,
    Client,
    Conflict,
    EventRecorder,
    Informer,
    InformerFactory,
    NotFound,
    TransportError,
)
from hyperkube.kubelet import admission, containers
from hyperkube.kubelet.dns import pod_dns, write_resolv_conf
from hyperkube.kubelet.node import NodeAgent
from hyperkube.kubelet.runtime import ContainerSpec, FakeRuntime, Runtime
from hyperkube.kubelet.worker import PodWorker

log = logging.getLogger("hyperkube.kubelet")

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
SOURCE_ANNOTATION = "kubernetes.io/config.source"
HASH_ANNOTATION = "kubernetes.io/config.hash"


@dataclass
class KubeletConfig:
    node_name: str
    root_dir: str
    node_ip: str = "127.0.0.1"
    hostname: str = ""
    port: int | None = 10250  # None: no HTTP server; 0: an ephemeral port
    auth: Any = None  # auth.KubeletAuthConfig: TLS, authentication, authorization of the server
    read_only_port: int | None = None
    runtime: str = "process"
    image_map: dict[str, dict[str, Any]] = field(default_factory=dict)
    node_labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    max_pods: int = 110
    manifest_path: str | None = None
    file_check_frequency: float = 20.0
    manifest_url: str | None = None
    http_check_frequency: float = 20.0
    node_status_frequency: float = 10.0
    node_status_report_frequency: float = 300.0
    lease_frequency: float = 10.0
    lease_duration: int = 40
    backoff_initial: float = 10.0
    backoff_max: float = 300.0
    backoff_reset: float = 600.0
    record_events: bool = True
    container_log_max_bytes: int = 10 << 20
    volume_refresh: float = 10.0  # seconds between re-reads of ConfigMap/Secret volume contents
    #: --cluster-dns (IP, port) and --cluster-domain: a per-pod resolv.conf and KUBERNETES_DNS_*
    #: variables, see hyperkube/kubelet/dns.py (process pods keep the host's /etc/resolv.conf)
    cluster_dns: list[tuple[str, int]] = field(default_factory=list)
    cluster_domain: str = "cluster.local"


class _NoEvents:
    def event(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def close(self) -> None:
        pass


class Kubelet:
    def __init__(self, client: Client, config: KubeletConfig, *, runtime: Runtime | None = None,
                 informers: InformerFactory | None = None, pod_informer: Informer | None = None) -> None:
        """``pod_informer``: a pod informer shared by several kubelets (hollow nodes: one watch
        for all, instead of one per node); each kubelet keeps only its node's pods."""
        self.client = client
        self.config = config
        self.node_name = config.node_name
        self.node_ip = config.node_ip
        if runtime is None:
            if config.runtime == "fake":
                runtime = FakeRuntime()
            else:
                from hyperkube.kubelet.process_runtime import ProcessRuntime

                runtime = ProcessRuntime(config.root_dir, max_log_bytes=config.container_log_max_bytes)
        self.runtime = runtime
        self.runtime_poll_interval: float | None = None if isinstance(runtime, FakeRuntime) else 0.5
        self.informers = informers or InformerFactory(client)
        self.pod_informer: Informer = pod_informer or self.informers.informer(
            "v1/pods", field_selector=f"spec.nodeName={self.node_name}")
        self.service_informer: Informer | None = None
        if not isinstance(runtime, FakeRuntime):
            self.service_informer = self.informers.informer("v1/services")
        self.sources: dict[str, dict[str, dict[str, Any]]] = {"api": {}, "file": {}, "http": {}, "server": {}}
        self.workers: dict[str, PodWorker] = {}
        self.events: Any = EventRecorder(client, "kubelet", host=self.node_name) if config.record_events \
            else _NoEvents()
        self.node = NodeAgent(self)
        self.server: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._mirror_task: asyncio.Task[None] | None = None
        self._waited_services = False
        self._mirror_wake = asyncio.Event()
        #: (pod uid, service account, audience, seconds) -> (token, when to ask for a new one)
        self._tokens: dict[tuple[str, str, str, int], tuple[str, float]] = {}
        self.started_at = time.time()
        #: set once the directory and URL sources (if any) have been read once
        self.static_sources_read = asyncio.Event()
        self._static_pending = {s for s, v in (("file", config.manifest_path), ("http", config.manifest_url)) if v}
        if not self._static_pending:
            self.static_sources_read.set()

    # -- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(os.makedirs, self.config.root_dir, exist_ok=True)
        await self.node.read_host()  # capacity is known before the first pod is admitted
        if self.config.port is not None:
            from hyperkube.kubelet.server import KubeletServer

            self.server = KubeletServer(self)
            await self.server.start()
        self.pod_informer.add_event_handler(self._on_add, self._on_update, self._on_delete)
        self.informers.start()
        self._tasks.append(loop.create_task(self.node.run(), name=f"kubelet-node {self.node_name}"))
        self._start_mirror_loop()
        if self.config.manifest_path:
            from hyperkube.kubelet.sources import FileSource

            self._tasks.append(loop.create_task(FileSource(self, self.config.manifest_path).run()))
        if self.config.manifest_url:
            from hyperkube.kubelet.sources import URLSource

            self._tasks.append(loop.create_task(URLSource(self, self.config.manifest_url).run()))
        self._tasks.append(loop.create_task(self._clean_orphans()))

    async def stop(self, *, stop_pods: bool = False) -> None:
        """Stop the kubelet. Its pods keep running (a restarted kubelet adopts them) unless
        ``stop_pods``: then every container is stopped at once (tests, ``hyperkube up`` exit)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        workers = list(self.workers.values())
        for worker in workers:
            if worker.task:
                worker.task.cancel()
        await asyncio.gather(*(w.task for w in workers if w.task), return_exceptions=True)
        for worker in workers:
            if worker.probes is not None:
                worker.probes.stop()
        if stop_pods:
            for uid in await self.runtime.list_sandboxes():
                await self.runtime.stop_sandbox(uid, 0)
        await self.informers.stop()
        if self.server is not None:
            await self.server.stop()
        try:
            async with asyncio.timeout(2):  # events still queued for an API server that is down are dropped
                await self.events.close()
        except TimeoutError:
            log.info("kubelet %s: stopped with events unwritten", self.node_name)
        await self.runtime.close()

    @property
    def port(self) -> int:
        return self.server.port if self.server is not None else 0

    # -- the desired set -------------------------------------------------------------------------

    def desired(self, uid: str) -> dict[str, Any] | None:
        for source in ("file", "http", "server", "api"):
            pod = self.sources[source].get(uid)
            if pod is not None:
                return pod
        return None

    def source_of(self, uid: str) -> str | None:
        return next((s for s in ("file", "http", "server", "api") if uid in self.sources[s]), None)

    def is_api_pod(self, pod: dict[str, Any]) -> bool:
        return self.source_of(pod["metadata"]["uid"]) == "api"

    def pods(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for source in ("api", "server", "http", "file"):
            seen.update(self.sources[source])
        return list(seen.values())

    def _changed(self, uid: str) -> None:
        pod = self.desired(uid)
        worker = self.workers.get(uid)
        if pod is not None and (worker is None or worker.done):
            worker = PodWorker(self, uid)
            self.workers[uid] = worker
            worker.update(pod)
            worker.start()
        elif worker is not None:
            worker.update(pod)

    def worker_finished(self, worker: PodWorker) -> None:
        if self.workers.get(worker.uid) is worker:
            del self.workers[worker.uid]
        if self.desired(worker.uid) is not None:  # it came back while stopping
            self._changed(worker.uid)

    def set_source(self, source: str, pods: dict[str, dict[str, Any]]) -> None:
        """Replace one static source's pods (directory, URL) as a whole."""
        old = self.sources[source]
        self.sources[source] = pods
        self._static_pending.discard(source)
        if not self._static_pending:
            self.static_sources_read.set()
        if self._mirror_task is not None and self._mirror_task.done():  # it had ended: no static pods then
            self._start_mirror_loop()
        for uid in set(old) | set(pods):
            if old.get(uid) != pods.get(uid):
                self._changed(uid)
        self._mirror_wake.set()

    def _start_mirror_loop(self) -> None:
        self._mirror_task = asyncio.get_running_loop().create_task(self._mirror_loop(),
                                                                   name=f"kubelet-mirrors {self.node_name}")
        self._tasks.append(self._mirror_task)

    def static_pods(self) -> dict[str, dict[str, Any]]:
        return {**self.sources["server"], **self.sources["http"], **self.sources["file"]}

    # -- the API source --------------------------------------------------------------------------

    @staticmethod
    def _is_mirror(pod: dict[str, Any]) -> bool:
        return MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})

    def _mine(self, pod: dict[str, Any]) -> bool:
        return (pod.get("spec") or {}).get("nodeName") == self.node_name

    def _on_add(self, pod: dict[str, Any]) -> None:
        if not self._mine(pod):
            return
        if self._is_mirror(pod):
            self._mirror_wake.set()
            worker = self.workers.get(pod["metadata"]["annotations"][MIRROR_ANNOTATION])
            if worker is not None and not pod["metadata"].get("deletionTimestamp"):
                worker.last_written = None  # a new mirror: write the static pod's status to it
                worker.wake.set()
            return
        uid = pod["metadata"]["uid"]
        self.sources["api"][uid] = pod
        self._changed(uid)

    def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._on_add(new)

    def _on_delete(self, pod: dict[str, Any]) -> None:
        if not self._mine(pod):
            return
        if self._is_mirror(pod):
            self._mirror_wake.set()
            return
        uid = pod["metadata"]["uid"]
        if self.sources["api"].pop(uid, None) is not None:
            self._changed(uid)

    async def _clean_orphans(self) -> None:
        """Once the sources are known, stop what an earlier kubelet ran for pods that are gone."""
        await self.pod_informer.wait_for_sync()
        await self.static_sources_read.wait()
        for uid in await self.runtime.list_sandboxes():
            if self.desired(uid) is None and uid not in self.workers:
                log.info("stopping the containers of pod %s: it no longer exists", uid)
                await self.runtime.stop_sandbox(uid, 2)
                await self.runtime.remove_sandbox(uid)

    # -- mirror pods -----------------------------------------------------------------------------

    async def _mirror_loop(self) -> None:
        await self.node.registered.wait()  # a mirror pod is owned by its Node
        while True:
            try:
                async with asyncio.timeout(self.config.node_status_frequency):
                    await self._mirror_wake.wait()
            except TimeoutError:
                pass
            self._mirror_wake.clear()
            if not self.pod_informer.has_synced:
                await asyncio.sleep(0.2)
                self._mirror_wake.set()
                continue
            try:
                await self.sync_mirror_pods()
                if not (self.config.manifest_path or self.config.manifest_url or self.sources["server"]):
                    return  # no static pods here: stale mirrors (from an earlier run) are gone now
            except (APIError, TransportError) as error:
                log.warning("mirror pods: %s", error)
                await asyncio.sleep(1)
                self._mirror_wake.set()

    async def sync_mirror_pods(self) -> None:
        cache = self.pod_informer.cache
        static = self.static_pods()
        wanted = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in static.values()}
        for obj in cache.list():
            meta = obj["metadata"]
            if self._is_mirror(obj) and self._mine(obj) and (meta.get("namespace"), meta.get("name")) not in wanted:
                await self._delete_quietly(obj)
        for (namespace, name), pod in wanted.items():
            mirror = cache.get(f"{namespace}/{name}")
            hash_ = pod["metadata"]["annotations"][HASH_ANNOTATION]
            if mirror is not None:
                meta = mirror["metadata"]
                if (meta.get("annotations") or {}).get(MIRROR_ANNOTATION) == hash_ and not meta.get(
                        "deletionTimestamp"):
                    continue
                await self._delete_quietly(mirror)
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": name, "namespace": namespace, "labels": dict(pod["metadata"].get("labels") or {}),
                "annotations": {**pod["metadata"]["annotations"], MIRROR_ANNOTATION: hash_},
                "ownerReferences": self.node.owner_references()}, "spec": pod["spec"]}
            try:
                await self.client.create("v1/pods", body, namespace=namespace)
            except AlreadyExists:
                self._mirror_wake.set()
                continue

    async def _delete_quietly(self, pod: dict[str, Any]) -> None:
        try:
            await self.delete_pod(pod)
        except APIError as error:
            log.debug("delete %s: %s", pod["metadata"].get("name"), error)

    # -- what workers call -----------------------------------------------------------------------

    def admit(self, pod: dict[str, Any]) -> dict[str, Any] | None:
        return admission.admit(self, pod)

    async def container_spec(self, pod: dict[str, Any], container: dict[str, Any]) -> ContainerSpec:
        if isinstance(self.runtime, FakeRuntime):
            return ContainerSpec(container["name"], [], {}, image=container.get("image", ""))
        namespace = pod["metadata"].get("namespace") or "default"
        services = []
        if self.service_informer is not None and not self.service_informer.has_synced and not self._waited_services:
            self._waited_services = True  # once: with the API down, containers start without service links
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5 if self.node.registered.is_set() else 1):
                    await self.service_informer.wait_for_sync()
        if self.service_informer is not None:
            services = [s for s in self.service_informer.cache.list()
                        if s["metadata"].get("namespace") in (namespace, "default")
                        and (s["metadata"].get("namespace") == namespace or s["metadata"]["name"] == "kubernetes")]

        spec = await containers.resolve(pod, container, image_map=self.config.image_map, node_ip=self.node_ip,
                                        lookup=self.lookup, services=services,
                                        node_allocatable=self.node.allocatable())
        settings = pod_dns(pod, self.config.cluster_dns, self.config.cluster_domain)
        if settings is not None:
            pod_dir = Path(self.config.root_dir) / "pods" / pod["metadata"]["uid"]
            path = await asyncio.to_thread(write_resolv_conf, pod_dir, settings.resolv_conf())
            for name, value in settings.env(path).items():
                spec.env.setdefault(name, value)  # a variable the pod sets itself wins
        return spec

    async def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A ConfigMap, Secret, claim or volume by name, or None when there is none."""
        try:
            return await self.client.get(f"v1/{kind}", name, namespace=namespace or None)
        except NotFound:
            return None

    async def service_account_token(self, pod: dict[str, Any], audience: str, seconds: int) -> str:
        """A token of the pod's service account bound to the pod (TokenRequest), for a projected
        ``serviceAccountToken`` volume source; asked for again once 80 % of its life has passed
        (at most every 24 hours), as Kubernetes' kubelet does."""
        from hyperkube.machinery.durations import parse_rfc3339

        meta, spec = pod["metadata"], pod.get("spec") or {}
        account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        key = (meta["uid"], account, audience, seconds)
        now = time.time()
        cached = self._tokens.get(key)
        if cached is not None and now < cached[1]:
            return cached[0]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
            "audiences": [audience] if audience else [], "expirationSeconds": seconds,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": meta["name"], "uid": meta["uid"]}}}
        try:
            answer = await self.client.request(
                "POST", f"/api/v1/namespaces/{meta.get('namespace') or 'default'}/serviceaccounts/{account}/token",
                json=body)
        except APIError as error:
            raise containers.ContainerConfigError(
                "CreateContainerConfigError", f"failed to fetch token for service account {account}: {error}") from None
        status = (answer or {}).get("status") or {}
        expires = parse_rfc3339(status["expirationTimestamp"]) if status.get("expirationTimestamp") \
            else now + seconds
        self._tokens[key] = (status.get("token") or "", now + min(0.8 * max(expires - now, 0), 86400))
        for stale in [k for k in self._tokens if k[0] == meta["uid"] and k != key and k[1:] == key[1:]]:
            del self._tokens[stale]
        return self._tokens[key][0]

    async def write_status(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is not None and worker.last_written == status:
            return
        meta = pod["metadata"]
        target = pod
        if self.source_of(uid) != "api":
            target = self.pod_informer.cache.get(f"{meta['namespace']}/{meta['name']}") or {}
            if not target:  # written once the mirror pod shows up in the cache (it wakes the worker)
                if worker is not None:
                    worker.shown = status
                return
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": meta["name"], "namespace": meta.get("namespace"),
                             "uid": target["metadata"]["uid"]},
                "spec": target.get("spec") or pod.get("spec"), "status": status}
        try:
            await self.client.update_status("v1/pods", body)
        except (NotFound, Conflict) as error:
            log.debug("status of %s/%s not written: %s", meta.get("namespace"), meta["name"], error)
        except (APIError, TransportError) as error:
            log.warning("status of %s/%s not written: %s", meta.get("namespace"), meta["name"], error)
            if worker is not None:
                asyncio.get_running_loop().call_later(1, worker.wake.set)
            return
        if worker is not None:
            worker.last_written = worker.shown = status

    async def delete_pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            await self.client.delete("v1/pods", meta["name"], namespace=meta.get("namespace"),
                                     grace_period_seconds=0, preconditions={"uid": meta["uid"]})
        except (NotFound, Conflict):
            pass

