"""``metrics.k8s.io/v1beta1``: NodeMetrics and PodMetrics, what metrics-server serves, from the
kubelets' ``/stats/summary``, inside the API server.

Served paths (GET only; ``labelSelector``/``fieldSelector`` on the lists, as metrics-server)::

    /apis/metrics.k8s.io/v1beta1/nodes[/{name}]
    /apis/metrics.k8s.io/v1beta1/pods
    /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods[/{name}]

The two resources are added to the Registry (verbs get and list, a storage name of their
own that nothing ever writes), so discovery, legacy and aggregated, lists them like any
other group and ``kubectl top`` finds the API. Requests set ``request["verb"]`` and
``request["resource"]`` as the generic handlers do, so metrics and authorization see
``get``/``list`` on ``nodes``/``pods`` in group ``metrics.k8s.io``.

Scraping is on demand: the first request after the last batch is older than
:data:`RESOLUTION` seconds fetches every Node's kubelet summary concurrently (one shared
fetch for concurrent requests), each with :data:`SCRAPE_TIMEOUT`; a kubelet that does not
answer is left out of the batch. A kubelet is found the way the log/exec proxy finds it
(``proxy.kubelet_base``). CPU is a rate, so it needs two samples: as metrics-server does,
it is the difference of ``usageCoreNanoSeconds`` between this scrape and the previous one
over the difference of their times (``window``). When a node or container has no earlier
sample (the first request, a new pod), that node is scraped once more after
:data:`FIRST_WINDOW` seconds, so the first ``kubectl top`` already shows numbers. Memory is
the working set. Quantities are Kubernetes' canonical text: cpu in ``n`` units as
metrics-server writes it (``329087452n``, ``100m``), memory in ``Ki``/``Mi``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from hyperkube.api.registry import NAME_COLUMN, Column, Resource, Strategy
from hyperkube.apiserver import bodies, lists, paths, proxy, tables
from hyperkube.apiserver.selection import Filter
from hyperkube.machinery import errors
from hyperkube.machinery.durations import now_rfc3339, parse_rfc3339
from hyperkube.machinery.quantity import BINARY_SI, DECIMAL_SI, format_quantity, parse_quantity

log = logging.getLogger("hyperkube.apiserver.metrics")

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
RESOLUTION = 10.0  # seconds one batch of scrapes is served before the next request scrapes again
SCRAPE_TIMEOUT = 5.0
FIRST_WINDOW = 1.0  # seconds between the two scrapes of a node seen for the first time


class _Printed(Strategy):
    """Nothing is ever written; ``kubectl get nodemetrics|podmetrics`` gets metrics-server's
    columns: NAME CPU MEMORY WINDOW (a pod's usage summed over its containers)."""

    has_status = False
    tracks_generation = False

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("CPU", description="CPU usage"), Column("Memory", description="Memory usage"),
                Column("Window", description="Interval over which the usage was measured")]

    def row(self, obj: dict[str, Any], now: float) -> list[Any]:
        usages = [obj["usage"]] if "usage" in obj else [c.get("usage") or {} for c in obj.get("containers") or ()]
        cpu = sum((parse_quantity(u.get("cpu") or "0").value for u in usages), Decimal(0))
        memory = sum((parse_quantity(u.get("memory") or "0").value for u in usages), Decimal(0))
        return [obj["metadata"]["name"], format_quantity(cpu, DECIMAL_SI), format_quantity(memory, BINARY_SI),
                obj.get("window", "")]


NODE_METRICS = Resource(GROUP, VERSION, "NodeMetrics", "nodes", "", False, verbs=("get", "list"),
                        strategy=_Printed(), storage_name="metrics.k8s.io/nodes")
POD_METRICS = Resource(GROUP, VERSION, "PodMetrics", "pods", "", True, verbs=("get", "list"),
                       strategy=_Printed(), storage_name="metrics.k8s.io/pods")


def go_duration(seconds: float) -> str:
    """A window as Go's ``time.Duration.String()`` writes it: ``10.0231s``, ``1m0.5s``."""
    micros = max(int(round(seconds * 1_000_000)), 0)
    if micros == 0:
        return "0s"
    minutes, rest = divmod(micros, 60_000_000)
    hours, minutes = divmod(minutes, 60)
    whole, fraction = divmod(rest, 1_000_000)
    text = f"{whole}.{fraction:06d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


def cpu_quantity(nanocores: float) -> str:
    return format_quantity(Decimal(max(int(nanocores), 0)).scaleb(-9), DECIMAL_SI)


def memory_quantity(size: float) -> str:
    return format_quantity(Decimal(max(int(size), 0)), BINARY_SI)


@dataclass
class Usage:
    """One node's or one container's usage over ``window`` seconds ending at ``timestamp``."""

    timestamp: float
    window: float
    cpu: float  # nanocores
    memory: int  # bytes


@dataclass
class NodeBatch:
    node: Usage | None
    pods: dict[tuple[str, str], list[tuple[str, Usage]]] = field(default_factory=dict)  # (ns, name) -> containers


def _sample_time(entry: dict[str, Any], fallback: float) -> float:
    try:
        return parse_rfc3339(entry["time"])
    except (KeyError, TypeError, ValueError):
        return fallback


async def read_objects(objects: Any, resource: Resource, namespace: str = "", labels: str = "",
                       fields: str = "") -> list[dict[str, Any]]:
    """The stored objects of a core resource that the selectors pick, decoded."""
    filt = Filter(resource, namespace, labels, fields)
    page = await lists.read_page(objects.store, objects.resource_prefix(resource), resource.namespaced, filt,
                                 lists.ListOptions(), objects.decode_shared)
    if page.objects is not None:
        return page.objects
    return [objects.decode_shared(resource, kv) for kv in page.kvs]


class Scraper:
    """The latest batch of every node's usage; refreshed on demand, at most every RESOLUTION s."""

    def __init__(self, objects: Any, registry: Any, kubelet_client: Any = None) -> None:
        """``kubelet_client()``: how kubelets are reached (proxy.KubeletClient: https and the API
        server's kubelet client certificate when configured), as logs and exec reach them."""
        self.objects = objects
        self.registry = registry
        self.kubelet_client = kubelet_client or proxy.KubeletClient
        self.batch: dict[str, NodeBatch] = {}
        self.scraped_at = 0.0
        self._lock = asyncio.Lock()
        #: node name -> cpu key ("node" or (pod uid, container)) -> (sample time, cumulative ns)
        self._previous: dict[str, dict[Any, tuple[float, int]]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def current(self) -> dict[str, NodeBatch]:
        async with self._lock:  # concurrent requests share one scrape
            if time.monotonic() - self.scraped_at >= RESOLUTION or not self.scraped_at:
                await self._refresh()
            return self.batch

    async def _refresh(self) -> None:
        nodes = await read_objects(self.objects, self.registry.get("", "v1", "nodes"))
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT))
        results = await asyncio.gather(*(self._scrape_node(node) for node in nodes), return_exceptions=True)
        batch: dict[str, NodeBatch] = {}
        for node, result in zip(nodes, results, strict=True):
            name = node["metadata"]["name"]
            if isinstance(result, BaseException):
                log.debug("no metrics from node %s: %s", name, result)
                continue
            batch[name] = result
        self.batch = batch
        for gone in set(self._previous) - {node["metadata"]["name"] for node in nodes}:
            del self._previous[gone]
        self.scraped_at = time.monotonic()

    async def _fetch(self, base: str, tls: Any) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.get(f"{base}/stats/summary", ssl=tls if tls is not None else True) as response:
            if response.status != 200:
                raise errors.ServiceUnavailable(f"kubelet answered {response.status}")
            return orjson.loads(await response.read())

    async def _scrape_node(self, node: dict[str, Any]) -> NodeBatch:
        kubelet = self.kubelet_client()
        name, base = node["metadata"]["name"], proxy.kubelet_base(node, kubelet.scheme)
        summary = await self._fetch(base, kubelet.ssl)
        if self._has_new(name, summary):
            self._rates(name, summary, time.time())  # remember the first sample, then take the second
            await asyncio.sleep(FIRST_WINDOW)
            summary = await self._fetch(base, kubelet.ssl)
        return self._rates(name, summary, time.time())

    def _has_new(self, node_name: str, summary: dict[str, Any]) -> bool:
        previous = self._previous.get(node_name)
        if not previous or "node" not in previous:
            return True
        for pod in summary.get("pods") or []:
            uid = (pod.get("podRef") or {}).get("uid")
            if any((uid, c.get("name")) not in previous for c in pod.get("containers") or []):
                return True
        return False

    @staticmethod
    def _rate(before: tuple[float, int] | None, entry: dict[str, Any], memory: int, received: float,
              remember: dict[Any, tuple[float, int]], key: Any) -> Usage | None:
        cpu = entry.get("cpu") or {}
        total = cpu.get("usageCoreNanoSeconds")
        if not isinstance(total, int):
            return None
        when = _sample_time(cpu, received)
        remember[key] = (when, total)
        if before is None or when <= before[0] or total < before[1]:
            return None  # first sample, or the counter restarted: no rate yet
        window = when - before[0]
        return Usage(when, window, (total - before[1]) / window, memory)

    def _rates(self, node_name: str, summary: dict[str, Any], received: float) -> NodeBatch:
        """Usage from this summary and the node's previous one, which it then replaces (so the
        samples of pods gone from the node are dropped with it)."""
        previous = self._previous.get(node_name) or {}
        current: dict[Any, tuple[float, int]] = {}
        node = summary.get("node") or {}
        memory = int((node.get("memory") or {}).get("workingSetBytes") or 0)
        result = NodeBatch(self._rate(previous.get("node"), node, memory, received, current, "node"))
        for pod in summary.get("pods") or []:
            ref = pod.get("podRef") or {}
            containers: list[tuple[str, Usage]] = []
            complete = True
            for container in pod.get("containers") or []:
                key = (ref.get("uid"), container.get("name"))
                memory = int((container.get("memory") or {}).get("workingSetBytes") or 0)
                usage = self._rate(previous.get(key), container, memory, received, current, key)
                if usage is None:
                    complete = False
                else:
                    containers.append((str(container.get("name")), usage))
            if complete and containers:  # as metrics-server: a pod is reported whole or not at all
                result.pods[(str(ref.get("namespace") or ""), str(ref.get("name") or ""))] = containers
        self._previous[node_name] = current
        return result


# --------------------------------------------------------------------------- presentation


def _window(usage: Usage) -> dict[str, Any]:
    return {"timestamp": now_rfc3339(usage.timestamp), "window": go_duration(usage.window)}


def _metadata(obj: dict[str, Any], namespaced: bool) -> dict[str, Any]:
    source = obj.get("metadata") or {}
    metadata: dict[str, Any] = {"name": source.get("name", "")}
    if namespaced:
        metadata["namespace"] = source.get("namespace", "")
    metadata["creationTimestamp"] = now_rfc3339()
    if source.get("labels"):
        metadata["labels"] = source["labels"]
    return metadata


def node_metrics(node: dict[str, Any], usage: Usage) -> dict[str, Any]:
    return {"metadata": _metadata(node, False), **_window(usage),
            "usage": {"cpu": cpu_quantity(usage.cpu), "memory": memory_quantity(usage.memory)}}


def pod_metrics(pod: dict[str, Any], containers: list[tuple[str, Usage]]) -> dict[str, Any]:
    first = containers[0][1]
    return {"metadata": _metadata(pod, True), "timestamp": now_rfc3339(max(u.timestamp for _, u in containers)),
            "window": go_duration(first.window),
            "containers": [{"name": name, "usage": {"cpu": cpu_quantity(u.cpu), "memory": memory_quantity(u.memory)}}
                           for name, u in containers]}


class MetricsAPI:
    """The request handlers over one :class:`Scraper`."""

    def __init__(self, context: Any, kubelet_client: Any = None) -> None:
        self.context = context
        self.objects = context.objects
        self.registry = context.registry
        self.scraper = Scraper(context.objects, context.registry, kubelet_client)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        target = paths.resolve(self.registry, GROUP, VERSION, request.match_info["rest"])
        request["resource"] = target.resource
        request["scope"] = "resource" if target.name else "namespace" if target.namespace else "cluster"
        if target.subresource or target.legacy_watch:
            raise paths.not_found()
        if request.method not in ("GET", "HEAD"):
            raise errors.MethodNotAllowed(f"the server does not allow this method on the requested resource "
                                          f"({request.method})")
        request["verb"] = "get" if target.name else "list"
        if not target.name and lists.parse_options(request.query).watch:
            request["verb"] = "watch"
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource "
                                          "(watch)")
        nodes = target.resource.kind == "NodeMetrics"
        accept = request.headers.get("Accept")
        bodies.check_acceptable(accept)
        as_table = bodies.wants_table(accept)
        include = tables.include_mode(request.query.get("includeObject")) if as_table else ""
        if target.name:
            body = await (self._node(target.name) if nodes else self._pod(target.namespace, target.name))
            return bodies.json_response(tables.table(target.resource, [body], {}, include) if as_table else body)
        query = request.query
        selected = await read_objects(self.objects, self.registry.get("", "v1", "nodes" if nodes else "pods"),
                                      target.namespace, query.get("labelSelector", ""), query.get("fieldSelector", ""))
        batch = await self.scraper.current()
        items: list[dict[str, Any]] = []
        if nodes:
            for node in selected:
                found = batch.get(node["metadata"]["name"])
                if found is not None and found.node is not None:
                    items.append(node_metrics(node, found.node))
        else:
            usage = _pod_usage(batch)
            for pod in selected:
                meta = pod["metadata"]
                containers = usage.get((meta.get("namespace", ""), meta["name"]))
                if containers:
                    items.append(pod_metrics(pod, containers))
        if as_table:
            return bodies.json_response(tables.table(target.resource, items, {}, include))
        return bodies.json_response({"kind": f"{target.resource.kind}List", "apiVersion": f"{GROUP}/{VERSION}",
                                     "metadata": {}, "items": items})

    async def _node(self, name: str) -> dict[str, Any]:
        missing = errors.NotFound.for_object("nodemetrics", name, GROUP)
        try:
            node = await self.objects.get(self.registry.get("", "v1", "nodes"), "", name)
        except errors.NotFound:
            raise missing from None
        found = (await self.scraper.current()).get(name)
        if found is None or found.node is None:
            raise missing
        return {"kind": "NodeMetrics", "apiVersion": f"{GROUP}/{VERSION}", **node_metrics(node, found.node)}

    async def _pod(self, namespace: str, name: str) -> dict[str, Any]:
        missing = errors.NotFound.for_object("podmetrics", f"{namespace}/{name}", GROUP)
        try:
            pod = await self.objects.get(self.registry.get("", "v1", "pods"), namespace, name)
        except errors.NotFound:
            raise missing from None
        containers = _pod_usage(await self.scraper.current()).get((namespace, name))
        if not containers:
            raise missing
        return {"kind": "PodMetrics", "apiVersion": f"{GROUP}/{VERSION}", **pod_metrics(pod, containers)}


def _pod_usage(batch: dict[str, NodeBatch]) -> dict[tuple[str, str], list[tuple[str, Usage]]]:
    usage: dict[tuple[str, str], list[tuple[str, Usage]]] = {}
    for node in batch.values():
        usage.update(node.pods)
    return usage


APP_KEY = web.AppKey("metrics_api", MetricsAPI)


def add_routes(app: web.Application, context: Any) -> None:
    """Serve metrics.k8s.io on ``app`` and list it in discovery; call before the generic REST
    routes, which would otherwise catch ``/apis/metrics.k8s.io/...``."""
    context.registry.add(NODE_METRICS)
    context.registry.add(POD_METRICS)
    api = MetricsAPI(context, lambda: app.get(proxy.KUBELET_CLIENT) or proxy.KubeletClient())
    app.router.add_route("*", f"/apis/{GROUP}/{VERSION}/{{rest:.+}}", api.handle)

    async def close(_app: web.Application) -> None:
        await api.scraper.close()

    app.on_cleanup.append(close)
    app[APP_KEY] = api
