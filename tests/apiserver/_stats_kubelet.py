"""A stand-in kubelet serving only ``/stats/summary``, and the Node that points at it.

Each summary is read on a clock of its own that advances ``step`` seconds per request, and
the cumulative CPU counters grow at the rates the test sets, so the rates the metrics API
computes from two summaries are exact (``250m`` is 250 millicores, not 249999999n)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

START = 1_800_000_000.0


def stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class StatsKubelet:
    """``pods``: {(namespace, name): {container: (millicores, memory bytes)}}; ``node``: the same pair."""

    def __init__(self, node_name: str, step: float = 2.0) -> None:
        self.node_name = node_name
        self.step = step
        self.node: tuple[int, int] = (1500, 2 * 1024 ** 3)
        self.pods: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
        self.requests = 0
        self.port = 0
        self._clock = START
        self._totals: dict[Any, int] = {}

    def _cpu(self, key: Any, millicores: int) -> dict[str, Any]:
        total = self._totals.get(key, 0) + int(millicores * 1_000_000 * self.step)
        self._totals[key] = total
        return {"time": stamp(self._clock), "usageCoreNanoSeconds": total}

    async def summary(self, request: web.Request) -> web.Response:
        self.requests += 1
        self._clock += self.step
        pods = []
        for (namespace, name), containers in self.pods.items():
            pods.append({"podRef": {"namespace": namespace, "name": name, "uid": f"uid-{namespace}-{name}"},
                         "containers": [{"name": c, "cpu": self._cpu((namespace, name, c), cpu),
                                         "memory": {"time": stamp(self._clock), "workingSetBytes": memory}}
                                        for c, (cpu, memory) in containers.items()]})
        node_cpu, node_memory = self.node
        return web.json_response({"node": {"nodeName": self.node_name, "cpu": self._cpu("node", node_cpu),
                                           "memory": {"time": stamp(self._clock), "workingSetBytes": node_memory}},
                                  "pods": pods})

    def node_object(self, port: int | None = None, **labels: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node_name, "labels": labels},
                "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                           "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                           "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                           "daemonEndpoints": {"kubeletEndpoint": {"Port": port or self.port}}}}


@asynccontextmanager
async def stats_kubelet(node_name: str, step: float = 2.0) -> AsyncIterator[StatsKubelet]:
    kubelet = StatsKubelet(node_name, step)
    app = web.Application()
    app.router.add_get("/stats/summary", kubelet.summary)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    kubelet.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield kubelet
    finally:
        await runner.cleanup()
