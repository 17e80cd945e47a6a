#!/usr/bin/env python3
"""Benchmark the scheduler: 10,000 pods onto 1,000 and then 5,000 nodes, default policy.

For each size a fresh ``hyperkube apiserver`` process (SQLite in a tmp dir) gets the nodes
(plain Node objects with capacity and a Ready condition: no kubelets) and the pending pods,
all created through the API before the scheduler starts. The scheduler runs in this process
against it over HTTP, as ``hyperkube scheduler`` would. Its rate is measured from its own
side: from the first pending pod its informer delivers to the last binding the API server
acknowledges.

Beside it, in the same run, the binding writes alone (the same number of pods, the same
concurrency, no scheduling at all) give the ceiling: the scheduler cannot bind faster than
the API server takes bindings. Prints a table, then the final line::

    scheduler: n1000_pods_per_s=X n5000_pods_per_s=Y binding_ceiling_per_s=Z

Usage: scripts/bench_scheduler.py [--pods 10000] [--nodes 1000,5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hyperkube.client import Client, Config
from hyperkube.scheduler import Scheduler, SchedulerConfig, vectorized

CONCURRENCY = 64


def node(name: str) -> dict[str, Any]:
    capacity = {"cpu": "32", "memory": "128Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"capacity": capacity, "allocatable": capacity,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
                                                            "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27",
                                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}


async def drive(total: int, call: Callable[[int], Awaitable[Any]]) -> float:
    """Run ``call(0..total-1)`` with CONCURRENCY in flight; returns the seconds it took."""
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            await call(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


async def run_size(url: str, apiserver_pid: int, nodes: int, pods: int) -> dict[str, float]:
    async with Client(Config(server=url), timeout=300) as client:
        await drive(nodes, lambda i: client.create("v1/nodes", node(f"node-{i}")))
        await drive(pods, lambda i: client.create("v1/pods", pod(f"sched-{i}"), namespace="default"))
        scheduler = Scheduler(client, SchedulerConfig(binds_in_flight=CONCURRENCY, event_flush_timeout=600))
        wall = time.perf_counter()
        cpu_before = (time.process_time(), cpu_seconds(apiserver_pid))
        await scheduler.start()
        try:
            while scheduler.scheduled < pods:
                await asyncio.sleep(0.05)
                if time.perf_counter() - wall > 600:
                    raise RuntimeError(f"only {scheduler.scheduled} of {pods} pods bound in 10 minutes")
            elapsed = time.perf_counter() - wall
            scheduler_cpu = (time.process_time() - cpu_before[0]) / elapsed
            apiserver_cpu = (cpu_seconds(apiserver_pid) - cpu_before[1]) / elapsed
        finally:
            await scheduler.stop()  # (writes the Scheduled events still queued: they load the server)
        assert scheduler.first_seen is not None and scheduler.last_bound is not None
        rate = pods / (scheduler.last_bound - scheduler.first_seen)
        listed = await client.list_all("v1/pods", namespace="default")
        placed = [p["spec"].get("nodeName") for p in listed["items"] if p["metadata"]["name"].startswith("sched-")]
        if len(placed) != pods or not all(placed):
            raise RuntimeError("not every pod is bound")
        per_node = {}
        for name in placed:
            per_node[name] = per_node.get(name, 0) + 1

        # the ceiling: the same number of bindings, no scheduling
        await drive(pods, lambda i: client.create("v1/pods", pod(f"bare-{i}"), namespace="default"))

        async def bind(i: int) -> None:
            body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": f"bare-{i}", "namespace": "default"},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": f"node-{i % nodes}"}}
            await client.create("v1/pods", body, namespace="default", name=f"bare-{i}", subresource="binding")

        ceiling = pods / await drive(pods, bind)
    return {"rate": rate, "ceiling": ceiling, "scheduler_cpu": scheduler_cpu, "apiserver_cpu": apiserver_cpu, "most_per_node": max(per_node.values()),
            "least_per_node": min(per_node.values()) if len(per_node) == nodes else 0}


def _drain(stream: Any) -> None:
    for _line in stream:
        pass


def start_apiserver(data_dir: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "hyperkube", "apiserver", "--insecure-port", "0", "--secure-port", "0",
                                "--data-dir", data_dir], stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        match = re.search(r"Serving insecurely on ([\d.]+:\d+)", line)
        if match:
            threading.Thread(target=_drain, args=(process.stderr,), daemon=True).start()
            return process, f"http://{match.group(1)}"
    raise RuntimeError("the API server did not start")


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--nodes", default="1000,5000", help="comma-separated cluster sizes")
    args = parser.parse_args()
    sizes = [int(n) for n in args.nodes.split(",")]
    results: dict[int, dict[str, float]] = {}
    for nodes in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as data_dir:
            apiserver, url = start_apiserver(data_dir)
            try:
                results[nodes] = asyncio.run(run_size(url, apiserver.pid, nodes, args.pods))
            finally:
                stop(apiserver)
        print(f"  {nodes} nodes done: {results[nodes]['rate']:.0f} pods/s", file=sys.stderr, flush=True)
    print(f"scheduling {args.pods} pods, default policy, {'numpy' if vectorized.ENABLED else 'per-node'} path, "
          f"{CONCURRENCY} bindings in flight")
    print(f"{'nodes':>6}  {'pods/s':>8}  {'binding ceiling/s':>17}  {'pods per node':>13}  "
          f"{'scheduler CPU':>13}  {'apiserver CPU':>13}")
    for nodes, result in results.items():
        spread = f"{result['least_per_node']:.0f}..{result['most_per_node']:.0f}"
        print(f"{nodes:>6}  {result['rate']:>8.0f}  {result['ceiling']:>17.0f}  {spread:>13}  "
              f"{result['scheduler_cpu']:>13.0%}  {result['apiserver_cpu']:>13.0%}")
    print("(CPU: share of one core each process used while scheduling)")
    ceiling = min(result["ceiling"] for result in results.values())
    fields = " ".join(f"n{nodes}_pods_per_s={result['rate']:.0f}" for nodes, result in results.items())
    print(f"scheduler: {fields} binding_ceiling_per_s={ceiling:.0f}")


if __name__ == "__main__":
    main()
