#!/usr/bin/env python3
"""Kubelet costs: pod startup latency on the process runtime, and hollow-node density.

Everything runs as real processes on 127.0.0.1 in a tmp dir: a ``hyperkube apiserver``, a
``hyperkube kubelet`` (process runtime), and later a ``hyperkube kubelet --hollow-nodes N``.

- startup: ``--pods`` pods (``sleep``) are created one after another; a watch records when
  each first shows Ready=True; latency = Ready seen - create sent (p50, p99). Beside it, the
  bare cost of starting the same command with ``subprocess.Popen`` (spawn p50).
- density: ``--hollow-nodes`` hollow nodes x ``--pods-per-node`` pods, all Running; the
  hollow process's RSS divided by the node count.

    scripts/bench_kubelet.py [--pods 100] [--hollow-nodes 100] [--pods-per-node 30]

Final line: ``kubelet: startup_p50_ms=A startup_p99_ms=B spawn_p50_ms=C hollow_mb_per_node=D``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from hyperkube.client import Client, Config

SLEEP = shutil.which("sleep") or "/bin/sleep"


def start(command: list[str], pattern: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    found: list[int] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            match = re.search(pattern, line)
            if match and not found:
                found.append(int(match.group(1)))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(60) or not found:
        process.kill()
        raise SystemExit(f"{command[3]} did not start: no line matching {pattern!r} within 60 s")
    return process, found[0]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pod(name: str, node: str, command: list[str]) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "busybox", "command": command}]}}


def ready(obj: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


async def startup(client: Client, count: int) -> list[float]:
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        async with client.watch("v1/pods", namespace="default", field_selector="spec.nodeName=bench") as events:
            async for event in events:
                name = event.object["metadata"]["name"]
                if name in sent and name not in seen and ready(event.object):
                    seen[name] = time.perf_counter()
                    if len(seen) == count:
                        done.set()
                        return

    watcher = asyncio.get_running_loop().create_task(watch())
    await asyncio.sleep(0.5)
    for i in range(count):
        name = f"start-{i}"
        sent[name] = time.perf_counter()
        await client.create("v1/pods", pod(name, "bench", [SLEEP, "600"]))
    async with asyncio.timeout(300):
        await done.wait()
    watcher.cancel()
    return [(seen[n] - sent[n]) * 1000 for n in sent]


async def hollow(client: Client, kubeconfig: str, home: Path, nodes: int, per_node: int) -> float:
    process, _ = start([sys.executable, "-m", "hyperkube", "kubelet", "--kubeconfig", kubeconfig,
                        "--hostname-override", "hollow", "--hollow-nodes", str(nodes), "--root-dir",
                        str(home / "hollow"), "-v", "1"], r"node hollow-(\d+) registered")
    try:
        async with asyncio.timeout(300):
            while True:
                listed = await client.list("v1/nodes", label_selector="kubernetes.io/os=linux")
                if sum(1 for n in listed["items"] if n["metadata"]["name"].startswith("hollow-")) >= nodes:
                    break
                await asyncio.sleep(0.5)
        total = nodes * per_node
        for start_at in range(0, total, 50):
            await asyncio.gather(*(client.create("v1/pods", pod(f"h-{i}", f"hollow-{i % nodes}", ["x"]))
                                   for i in range(start_at, min(start_at + 50, total))))
        async with asyncio.timeout(600):
            while True:
                pods = (await client.list("v1/pods", namespace="default",
                                          field_selector="status.phase=Running"))["items"]
                if sum(1 for p in pods if p["metadata"]["name"].startswith("h-")) >= total:
                    break
                await asyncio.sleep(1)
        await asyncio.sleep(2)
        return rss_mb(process.pid) / nodes
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def spawn_p50(count: int) -> float:
    costs = []
    for _ in range(count):
        started = time.perf_counter()
        child = subprocess.Popen([SLEEP, "600"], start_new_session=True)
        costs.append((time.perf_counter() - started) * 1000)
        child.kill()
        child.wait()
    return statistics.median(costs)


async def main(args: argparse.Namespace) -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        api, port = start([sys.executable, "-m", "hyperkube", "apiserver", "--insecure-port", "0", "--secure-port", "0",
                           "--data-dir", str(home / "data")], r"Serving insecurely on [\d.]+:(\d+)")
        url = f"http://127.0.0.1:{port}"
        kubeconfig = home / "kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "b",
            "clusters": [{"name": "b", "cluster": {"server": url}}],
            "users": [{"name": "b", "user": {}}], "contexts": [{"name": "b", "context": {"cluster": "b", "user": "b"}}]}))
        kubelet = None
        root = home / "kubelet"
        try:
            kubelet, _ = start([sys.executable, "-m", "hyperkube", "kubelet", "--kubeconfig", str(kubeconfig),
                                "--hostname-override", "bench", "--port", "0", "--root-dir", str(root)],
                               r"kubelet serving on [\d.]+:(\d+)")
            async with Client(Config(server=url)) as client:
                latencies = await startup(client, args.pods)
                kubelet.send_signal(signal.SIGKILL)
                kubelet.wait()
                kubelet = None
                _kill_containers(root)
                per_node = await hollow(client, str(kubeconfig), home, args.hollow_nodes, args.pods_per_node)
        finally:
            if kubelet is not None:
                kubelet.kill()
                kubelet.wait()
            _kill_containers(root)
            api.send_signal(signal.SIGTERM)
            api.wait(20)
    print(f"startup: {len(latencies)} pods, p50 {percentile(latencies, 0.5):.0f} ms, "
          f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms", file=sys.stderr)
    print(f"kubelet: startup_p50_ms={percentile(latencies, 0.5):.0f} startup_p99_ms={percentile(latencies, 0.99):.0f} "
          f"spawn_p50_ms={spawn_p50(50):.2f} hollow_mb_per_node={per_node:.2f}")


def _kill_containers(root: Path) -> None:
    for state in root.glob("pods/*/containers/*/*/state.json"):
        try:
            os.killpg(json.loads(state.read_text())["shimPid"], signal.SIGKILL)
        except (ProcessLookupError, PermissionError, ValueError, KeyError):
            pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--hollow-nodes", type=int, default=100)
    parser.add_argument("--pods-per-node", type=int, default=30)
    asyncio.run(main(parser.parse_args()))
