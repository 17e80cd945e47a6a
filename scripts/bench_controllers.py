#!/usr/bin/env python3
"""Benchmark the workload controllers: a Deployment of 3,000 replicas on 100 hollow nodes.

A real ``hyperkube apiserver`` process and a real ``hyperkube controller-manager`` process
(deployment, replicaset and garbage collector controllers; no client-side throttle). This
process plays the 100 hollow nodes: it binds each new pod to a node (round robin, through
``pods/binding``), reports it Running and Ready (``pods/status``), and finishes the deletion of
pods that are terminating on its nodes (grace 0), as a hollow kubelet does. Until the
scheduler and the kubelet land, that stand-in is the only part not run by hyperkube itself.

Measures the time from creating the Deployment to all replicas available, then a full
rolling update (new image, default 25% surge / 25% unavailable) until ``kubectl rollout
status`` would report success. Final line::

    controllers: create_pods_per_s=X rollout_s=Y

Usage: scripts/bench_controllers.py [--replicas 3000] [--nodes 100]
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
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from hyperkube.client import Client, Config, NotFound  # noqa: E402
from hyperkube.machinery.durations import now_rfc3339  # noqa: E402

PODS = "v1/pods"
DEPLOY = "apps/v1/deployments"


def start(command: list[str], pattern: str | None = None) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if pattern and not found and (match := re.search(pattern, line)):
                found.append(match.group(1))
                ready.set()
            if os.environ.get("BENCH_VERBOSE") or "Traceback" in line or line.startswith(("E", " ", "hyperkube")):
                sys.stderr.write(line)
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if pattern and (not ready.wait(60) or not found):
        raise SystemExit(f"{command[3]} did not start")
    return process, found[0] if found else ""


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


class HollowNodes:
    """Bind, report Ready, and finish deleting pods, for ``count`` nodes that run nothing."""

    def __init__(self, client: Client, count: int) -> None:
        self.client = client
        self.nodes = [f"hollow-{i}" for i in range(count)]
        self.next = 0
        self.gate = asyncio.Semaphore(64)
        self.busy: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def register(self) -> None:
        for name in self.nodes:
            await self.client.create("v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                                                  "status": {"conditions": [{"type": "Ready", "status": "True"}]}})

    async def run(self) -> None:
        resource_version = (await self.client.list(PODS, namespace="default", limit=1))["metadata"]["resourceVersion"]
        while True:
            async with self.client.watch(PODS, namespace="default", resource_version=resource_version) as events:
                async for event in events:
                    resource_version = event.object["metadata"].get("resourceVersion", resource_version)
                    if event.type != "DELETED":
                        self.handle(event.object)

    def handle(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        if name in self.busy:
            return
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
        if pod["metadata"].get("deletionTimestamp"):
            work = self.client.delete(PODS, name, namespace="default", grace_period_seconds=0) if spec.get(
                "nodeName") else None
        elif not spec.get("nodeName"):
            node = self.nodes[self.next % len(self.nodes)]
            self.next += 1
            work = self.bind_and_start(name, node)
        elif not ready:
            work = self.start_pod(name)
        else:
            work = None
        if work is not None:
            self.busy.add(name)
            task = asyncio.create_task(self.guard(name, work))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def guard(self, name: str, work: Any) -> None:
        async with self.gate:
            try:
                await work
            except NotFound:
                pass
            finally:
                self.busy.discard(name)

    async def bind_and_start(self, name: str, node: str) -> None:
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        await self.client.create(PODS, binding, namespace="default", name=name, subresource="binding")
        await self.start_pod(name)

    async def start_pod(self, name: str) -> None:
        now = now_rfc3339()
        status = {"phase": "Running", "startTime": now, "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": now}]}
        await self.client.patch_status(PODS, name, {"status": status}, namespace="default")


def rolled_out(d: dict[str, Any]) -> bool:
    st, want = d.get("status") or {}, d["spec"]["replicas"]
    return (st.get("observedGeneration", 0) >= d["metadata"]["generation"] and st.get("updatedReplicas") == want
            and st.get("replicas") == want and st.get("availableReplicas") == want)


async def wait_rolled_out(client: Client, name: str, label: str) -> None:
    last = ""
    while True:
        d = await client.get(DEPLOY, name, namespace="default")
        if rolled_out(d):
            return
        st = d.get("status") or {}
        line = f"  {label}: updated={st.get('updatedReplicas', 0)} available={st.get('availableReplicas', 0)} " \
               f"total={st.get('replicas', 0)}"
        if line != last:
            print(line, flush=True)
            last = line
        await asyncio.sleep(0.2)


async def bench(url: str, replicas: int, nodes: int) -> tuple[float, float]:
    async with Client(Config(server=url), timeout=120) as client:
        hollow = HollowNodes(client, nodes)
        await hollow.register()
        runner = asyncio.create_task(hollow.run())
        body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench"}},
                         "template": {"metadata": {"labels": {"app": "bench"}},
                                      "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}}
        started = time.perf_counter()
        await client.create(DEPLOY, body, namespace="default")
        await wait_rolled_out(client, "bench", "create")
        created = time.perf_counter() - started
        started = time.perf_counter()
        await client.patch(DEPLOY, "bench", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "nginx:2"}]}}}}, namespace="default", patch_type="strategic")
        await wait_rolled_out(client, "bench", "rollout")
        rollout = time.perf_counter() - started
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        return created, rollout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=3000)
    parser.add_argument("--nodes", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        apiserver, port = start([sys.executable, "-m", "hyperkube", "apiserver", "--insecure-port", "0", "--secure-port", "0",
                                 "--data-dir", home], r"Serving insecurely on [\d.]+:(\d+)")
        url = f"http://127.0.0.1:{port}"
        manager, _ = start([sys.executable, "-m", "hyperkube", "controller-manager", "--master", url,
                            "--no-leader-elect", "--kube-api-qps", "0",
                            "--controllers", "deployment,replicaset,garbagecollector"])
        try:
            created, rollout = asyncio.run(bench(url, args.replicas, args.nodes))
        finally:
            stop(manager)
            stop(apiserver)
    rate = args.replicas / created
    print(f"create: {args.replicas} pods available in {created:.1f}s ({rate:.0f} pods/s); "
          f"rolling update: {rollout:.1f}s")
    print(f"controllers: create_pods_per_s={rate:.1f} rollout_s={rollout:.1f}")


if __name__ == "__main__":
    main()
