"""``/metrics``: the API server's Prometheus metrics, with its own text exposition.

The hot path is one middleware call per request: a perf_counter, then a dict lookup and a few
integer increments keyed by a label tuple. Everything runs on the event loop, so there are no
locks; the exposition copies the small tables and renders them when ``/metrics`` is scraped.

Series, named as kube-apiserver names them:

- ``apiserver_request_total`` (counter) and ``apiserver_request_duration_seconds``
  (histogram), by verb, group, version, resource, subresource, scope, component (and code for
  the counter). Handlers set ``request["verb"]`` (Kubernetes verb: get, list, create, ...),
  ``request["resource"]`` (a Resource or its plural), optionally ``request["subresource"]``
  and ``request["scope"]``. Verbs are reported the Kubernetes way (LIST, WATCH, POST, PUT,
  ...). A non-resource request counts by its route pattern in ``subresource`` (as Kubernetes
  counts ``/healthz``), so random paths cannot blow up the number of series.
- ``apiserver_storage_operation_duration_seconds`` (histogram by operation), fed by
  :meth:`Metrics.observe_storage`.
- ``apiserver_longrunning_requests`` and ``apiserver_registered_watchers`` (gauges), fed by
  :meth:`Metrics.watch_opened` / :meth:`Metrics.watch_closed`.
- ``apiserver_current_inflight_requests`` and the ``process_*`` / ``python_info`` basics.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import platform
import resource as rlimit
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

REQUEST_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0,
                   8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0)
STORAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5,
                   2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_VERBS = {"get": "GET", "list": "LIST", "watch": "WATCH", "create": "POST", "update": "PUT", "patch": "PATCH",
          "delete": "DELETE", "deletecollection": "DELETE", "apply": "APPLY", "connect": "CONNECT"}
_REQUEST_LABELS = ("verb", "group", "version", "resource", "subresource", "scope", "component")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Histogram:
    """Per-bucket (non-cumulative) counts plus sum and count, keyed by a label tuple."""

    __slots__ = ("buckets", "series")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.series: dict[tuple[str, ...], list[float]] = {}  # [bucket counts..., +Inf, sum]

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        counts = self.series.get(labels)
        if counts is None:
            counts = self.series[labels] = [0] * (len(self.buckets) + 2)
        counts[bisect.bisect_left(self.buckets, value)] += 1
        counts[-1] += value

    def render(self, name: str, help_text: str, label_names: tuple[str, ...], out: list[str]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} histogram")
        for labels, counts in list(self.series.items()):
            base = _labels(label_names, labels)
            sep = "," if base else ""
            running = 0
            for bound, count in zip(self.buckets, counts, strict=False):
                running += count
                out.append(f'{name}_bucket{{{base}{sep}le="{bound:g}"}} {running}')
            running += counts[len(self.buckets)]
            out.append(f'{name}_bucket{{{base}{sep}le="+Inf"}} {running}')
            out.append(f"{name}_sum{_braced(base)} {_number(counts[-1])}")
            out.append(f"{name}_count{_braced(base)} {running}")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: Iterable[str], values: Iterable[Any]) -> str:
    return ",".join(f'{n}="{_escape(str(v))}"' for n, v in zip(names, values, strict=True))


def _braced(labels: str) -> str:
    return f"{{{labels}}}" if labels else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _counter(name: str, help_text: str, label_names: tuple[str, ...], series: dict[tuple, float],
             out: list[str], kind: str = "counter") -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")
    for labels, value in list(series.items()):
        out.append(f"{name}{_braced(_labels(label_names, labels))} {_number(value)}")


def _gauge(name: str, help_text: str, value: float, out: list[str]) -> None:
    _counter(name, help_text, (), {(): value}, out, kind="gauge")


def _request_labels(request: web.Request) -> tuple[str, ...]:
    """(verb, group, version, resource, subresource, scope, component) of one request."""
    resource = request.get("resource")
    raw_verb = request.get("verb")
    verb = _VERBS.get(raw_verb, str(raw_verb).upper()) if raw_verb else request.method
    if resource is None:
        route = request.match_info.route
        info = route.get_info() if route is not None else {}
        path = info.get("path") or info.get("formatter") or "other"
        if request.match_info.http_exception is not None:
            path = "other"
        return (verb, "", "", "", path, "", "apiserver")
    if isinstance(resource, str):
        group, version, plural = request.get("group", ""), request.get("version", ""), resource
    else:
        group, version, plural = resource.group, resource.version, resource.plural
    scope = request.get("scope")
    if not scope:
        match = request.match_info
        scope = "resource" if "name" in match else "namespace" if "namespace" in match else "cluster"
    return (verb, group, version, plural, request.get("subresource") or "", scope, "apiserver")


class Metrics:
    """The server's metrics; one instance per API server process."""

    def __init__(self) -> None:
        self.start_time = time.time()
        self.requests: dict[tuple[str, ...], int] = {}
        self.request_duration = Histogram(REQUEST_BUCKETS)
        self.storage_duration = Histogram(STORAGE_BUCKETS)
        self.longrunning: dict[tuple[str, ...], int] = {}
        self.watchers: dict[tuple[str, ...], int] = {}
        self.inflight = 0

    # --- hot path
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        self.inflight += 1
        code = 500
        try:
            response = await handler(request)
            code = response.status
            return response
        except web.HTTPException as error:
            code = error.status
            raise
        except asyncio.CancelledError:
            code = 499  # the client went away mid-request (nginx's "client closed request")
            raise
        except Exception as error:
            code = getattr(error, "code", 500) if isinstance(getattr(error, "code", None), int) else 500
            raise
        finally:
            self.inflight -= 1
            self.observe_request(request, code, time.perf_counter() - started)

    def observe_request(self, request: web.Request, code: int, seconds: float) -> None:
        labels = _request_labels(request)
        key = (*labels, str(code))
        self.requests[key] = self.requests.get(key, 0) + 1
        self.request_duration.observe(labels, seconds)

    def observe_storage(self, operation: str, seconds: float) -> None:
        """Record one store call (``get``, ``list``, ``create``, ``update``, ``delete``, ``txn`` ...)."""
        self.storage_duration.observe((operation,), seconds)

    def watch_opened(self, kind: str = "", group: str = "", resource: str = "") -> None:
        key = ("WATCH", group, resource)
        self.longrunning[key] = self.longrunning.get(key, 0) + 1
        if kind:
            self.watchers[(group, kind)] = self.watchers.get((group, kind), 0) + 1

    def watch_closed(self, kind: str = "", group: str = "", resource: str = "") -> None:
        key = ("WATCH", group, resource)
        self.longrunning[key] = self.longrunning.get(key, 0) - 1
        if kind:
            self.watchers[(group, kind)] = self.watchers.get((group, kind), 0) - 1

    @property
    def open_watches(self) -> int:
        return sum(self.longrunning.values())

    # --- exposition
    def render(self) -> str:
        out: list[str] = []
        _counter("apiserver_request_total",
                 "Counter of apiserver requests broken out for each verb, group, version, resource, "
                 "subresource, scope, component, and HTTP response code.",
                 (*_REQUEST_LABELS, "code"), self.requests, out)
        self.request_duration.render(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, group, version, resource, "
            "subresource, scope and component.", _REQUEST_LABELS, out)
        self.storage_duration.render(
            "apiserver_storage_operation_duration_seconds",
            "Latency of storage operations in seconds, by operation.", ("operation",), out)
        _counter("apiserver_longrunning_requests",
                 "Gauge of all active long-running apiserver requests (watches) by verb, group and resource.",
                 ("verb", "group", "resource"), self.longrunning, out, kind="gauge")
        _counter("apiserver_registered_watchers", "Number of currently registered watchers for a given kind.",
                 ("group", "kind"), self.watchers, out, kind="gauge")
        _gauge("apiserver_current_inflight_requests", "Number of requests currently being served.",
               self.inflight, out)
        self._process(out)
        return "\n".join(out) + "\n"

    def _process(self, out: list[str]) -> None:
        times = os.times()
        _counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", (),
                 {(): round(times.user + times.system, 3)}, out)
        _gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
               round(self.start_time, 3), out)
        resident, virtual = _memory()
        _gauge("process_resident_memory_bytes", "Resident memory size in bytes.", resident, out)
        _gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", virtual, out)
        try:
            open_fds = len(os.listdir("/proc/self/fd"))
        except OSError:
            open_fds = -1
        if open_fds >= 0:
            _gauge("process_open_fds", "Number of open file descriptors.", open_fds, out)
        _gauge("process_max_fds", "Maximum number of open file descriptors.",
               rlimit.getrlimit(rlimit.RLIMIT_NOFILE)[0], out)
        _counter("python_info", "Python platform information.", ("implementation", "version"),
                 {(platform.python_implementation(), platform.python_version()): 1}, out, kind="gauge")

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(body=self.render().encode(), headers={"Content-Type": CONTENT_TYPE})

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/metrics", self.handle)


def _memory() -> tuple[int, int]:
    """(resident, virtual) bytes from /proc (procfs, no disk I/O); maxrss where /proc is absent."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            virtual_pages, resident_pages = statm.read().split()[:2]
        return int(resident_pages) * _PAGE_SIZE, int(virtual_pages) * _PAGE_SIZE
    except OSError:
        return rlimit.getrusage(rlimit.RUSAGE_SELF).ru_maxrss * 1024, 0
