"""The proxy process: informers in, a proxier kept in sync, /healthz and /metrics out.

Services and EndpointSlices come through shared informers; every event only marks the state
dirty, and one sync task recomputes the whole table (:mod:`hyperkube.proxy.table`) and hands
it to the proxier, at most every ``min_sync_period`` seconds (so a burst of events costs one
sync, and any change is live well within a second) and at least every ``sync_period``
seconds (to retry listeners that could not be bound, and expire affinity).

Mode: ``--proxy-mode`` (``userspace`` or ``iptables``; empty picks iptables when usable, that
is as root with an ``iptables`` binary), overridden for one node by the Node annotation
``net.experimental.kubernetes.io/proxy-mode``. iptables asked for where it is not usable is
logged and served in userspace (:mod:`hyperkube.proxy.iptables` says when it is usable).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hyperkube.client import APIError, Client, InformerFactory
from hyperkube.proxy import iptables
from hyperkube.proxy.table import endpoints_by_port, service_ports
from hyperkube.proxy.userspace import UserspaceProxier

log = logging.getLogger("hyperkube.proxy")

MODE_ANNOTATION = "net.experimental.kubernetes.io/proxy-mode"
MODES = ("userspace", "iptables")


def iptables_usable() -> bool:
    return os.geteuid() == 0 and iptables.usable()


def choose_mode(requested: str, annotation: str | None, usable: bool) -> str:
    """The mode to run: the node's annotation wins over the flag; empty means automatic;
    iptables that is not usable (or not built) falls back to userspace."""
    mode = (annotation or "").strip().lower() if (annotation or "").strip().lower() in MODES else requested
    if not mode:
        mode = "iptables" if usable else "userspace"
    if mode == "iptables" and not usable:
        log.warning("iptables proxy mode is not usable here (it needs root and the iptables binaries); "
                    "using userspace")
        mode = "userspace"
    return mode


@dataclass
class ProxyConfig:
    hostname: str
    bind_address: str = "0.0.0.0"
    proxy_mode: str = ""
    healthz_bind_address: str | None = "127.0.0.1:10256"  # HOST:PORT, port 0 = ephemeral, None = off
    udp_timeout: float = 0.25
    min_sync_period: float = 0.05
    sync_period: float = 30.0
    shutdown_grace: float = 5.0
    #: False: only node ports on ``bind_address`` (userspace mode), for a second proxy on the same
    #: host whose cluster IPs another proxy already serves
    serve_cluster_ips: bool = True


class _Histogram:
    BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

    def __init__(self) -> None:
        self.counts = [0] * len(self.BUCKETS)
        self.sum, self.count = 0.0, 0

    def observe(self, value: float) -> None:
        self.sum += value
        self.count += 1
        for i, bound in enumerate(self.BUCKETS):
            if value <= bound:
                self.counts[i] += 1

    def lines(self, name: str) -> list[str]:
        out = [f"# TYPE {name} histogram"]
        out += [f'{name}_bucket{{le="{b}"}} {c}' for b, c in zip(self.BUCKETS, self.counts, strict=True)]
        out += [f'{name}_bucket{{le="+Inf"}} {self.count}', f"{name}_sum {self.sum:.6f}", f"{name}_count {self.count}"]
        return out


class ProxyServer:
    def __init__(self, client: Client, config: ProxyConfig, *, informers: InformerFactory | None = None) -> None:
        self.client = client
        self.config = config
        self.informers = informers or InformerFactory(client)
        self.services = self.informers.informer("v1/services")
        self.slices = self.informers.informer("discovery.k8s.io/v1/endpointslices")
        self.mode = "userspace"
        self.proxier: UserspaceProxier | iptables.IptablesProxier = UserspaceProxier(
            config.bind_address, config.udp_timeout, serve_cluster_ips=config.serve_cluster_ips)
        self.sync_latency = _Histogram()
        self.last_sync: float | None = None  # wall clock
        self.healthz_port: int | None = None
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._runner: web.AppRunner | None = None

    async def _node_annotation(self) -> str | None:
        try:
            node = await self.client.get("v1/nodes", self.config.hostname)
        except APIError as error:
            log.info("node %s: %s (no proxy-mode annotation)", self.config.hostname, error)
            return None
        return ((node.get("metadata") or {}).get("annotations") or {}).get(MODE_ANNOTATION)

    async def start(self) -> None:
        annotation = await self._node_annotation()
        self.mode = choose_mode(self.config.proxy_mode, annotation, iptables_usable())
        log.info("kube-proxy on node %s: %s mode", self.config.hostname, self.mode)
        if self.mode == "iptables":
            self.proxier = iptables.IptablesProxier()
        for informer in (self.services, self.slices):
            informer.add_event_handler(self._mark, lambda old, new: self._mark(new), self._mark)
        self.informers.start()
        if self.config.healthz_bind_address:
            await self._serve_http(self.config.healthz_bind_address)
        await self.informers.wait_for_sync()
        await self.sync()
        self._tasks.append(asyncio.get_running_loop().create_task(self._sync_loop(), name="proxy-sync"))

    def _mark(self, _obj: Any = None) -> None:
        self._dirty.set()

    async def sync(self) -> None:
        started = time.perf_counter()
        self._dirty.clear()
        services = service_ports(self.services.cache.list())
        endpoints = endpoints_by_port(self.slices.cache.list())
        await self.proxier.sync(services, endpoints)
        self.sync_latency.observe(time.perf_counter() - started)
        self.last_sync = time.time()

    async def _sync_loop(self) -> None:
        while True:
            try:
                # listeners that could not be bound (port still in use) are retried every second
                async with asyncio.timeout(1.0 if self.proxier.pending else self.config.sync_period):
                    await self._dirty.wait()
            except TimeoutError:
                pass
            await asyncio.sleep(self.config.min_sync_period)  # coalesce a burst of events
            try:
                await self.sync()
            except Exception:
                log.exception("proxy sync failed")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.informers.stop()
        await self.proxier.shutdown(self.config.shutdown_grace)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- /healthz and /metrics ----------------------------------------------------------------------

    async def _serve_http(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/livez", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host.strip("[]") or "0.0.0.0", int(port or 10256))
        await site.start()
        server = site._server  # noqa: SLF001 - the bound port when 0 was asked for
        self.healthz_port = server.sockets[0].getsockname()[1] if server and server.sockets else None
        log.info("proxy healthz and metrics serving on %s:%s", host or "0.0.0.0", self.healthz_port)

    async def _healthz(self, _request: web.Request) -> web.Response:
        now = time.time()
        healthy = self.last_sync is not None and (not self._dirty.is_set() or now - self.last_sync < 2 * self.config.sync_period)
        body = {"lastUpdated": self.last_sync, "currentTime": now, "mode": self.mode}
        return web.json_response(body, status=200 if healthy else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        stats = self.proxier.stats
        lines = self.sync_latency.lines("kubeproxy_sync_proxy_rules_duration_seconds")
        lines += [
            "# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge",
            f"kubeproxy_sync_proxy_rules_last_timestamp_seconds {self.last_sync or 0:.3f}",
            "# TYPE kubeproxy_active_connections gauge",
            f"kubeproxy_active_connections {stats.active_connections}",
            "# TYPE kubeproxy_connections_total counter",
            f"kubeproxy_connections_total {stats.connections_total}",
            "# TYPE kubeproxy_refused_connections_total counter",
            f"kubeproxy_refused_connections_total {stats.refused_total}",
            "# TYPE kubeproxy_udp_sessions gauge",
            f"kubeproxy_udp_sessions {stats.udp_sessions}",
            "# TYPE kubeproxy_bytes_total counter",
            f'kubeproxy_bytes_total{{direction="in"}} {stats.bytes_in}',
            f'kubeproxy_bytes_total{{direction="out"}} {stats.bytes_out}',
            "# TYPE kubeproxy_spliced_streams_total counter",
            f"kubeproxy_spliced_streams_total {stats.spliced_streams}",
            "# TYPE kubeproxy_listeners gauge",
            f"kubeproxy_listeners {len(self.proxier.listeners)}",
        ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")
