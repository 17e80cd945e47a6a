#!/usr/bin/env python3
"""Benchmark ``hyperkube kubectl`` against the real kubectl on one ``hyperkube apiserver``.

Two workloads, each timed as a whole process run (what a user waits for), both tools with
a warm discovery cache:

- ``get pods`` in a namespace of 1,000 pods (a server-side Table, printed);
- ``apply -f`` of a file of 100 ConfigMaps into an empty namespace (100 GETs + 100 creates).

Each is repeated and the median taken. hyperkube's bytecode is compiled first, as pip does
on install. Prints a table, then the final line::

    kubectl: get1000_ratio=X apply100_ratio=Y

where a ratio is ours / theirs wall time (the target is <= 1.5).

Usage: scripts/bench_kubectl.py [--pods 1000] [--objects 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import yaml

BIN = Path(sys.executable).parent


def start_apiserver(home: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "hyperkube", "apiserver", "--insecure-port", "0", "--secure-port", "0",
                                "--data-dir", str(home / "data")], stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True)
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            match = re.search(r"Serving insecurely on ([\d.]+:\d+)", line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(60) or not found:
        process.kill()
        raise SystemExit("apiserver did not start")
    return process, f"http://{found[0]}"


async def seed(url: str, pods: int) -> None:
    async with aiohttp.ClientSession() as session:
        await session.post(f"{url}/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                             "metadata": {"name": "bench"}})
        semaphore = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pod-{i:04d}", "labels": {"app": "bench"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
            async with semaphore, session.post(f"{url}/api/v1/namespaces/bench/pods", json=body) as response:
                assert response.status == 201, await response.text()

        await asyncio.gather(*(one(i) for i in range(pods)))


def timed(command: list[str], env: dict[str, str], stdin: str | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--objects", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tools = {"real": [str(BIN / "kubectl")], "hyperkube": [str(BIN / "hyperkube"), "kubectl"]}
    # what an installed package has: bytecode compiled once, not at every start (this matters
    # where PYTHONDONTWRITEBYTECODE is set, as on CI machines)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent /
                                                                   "hyperkube")], check=False,
                   stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        process, url = start_apiserver(home)
        try:
            (home / "kubeconfig").write_text(yaml.safe_dump({
                "apiVersion": "v1", "kind": "Config", "current-context": "bench",
                "clusters": [{"name": "bench", "cluster": {"server": url}}],
                "users": [{"name": "bench", "user": {}}],
                "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}]}))
            env = {**os.environ, "KUBECONFIG": str(home / "kubeconfig"), "KUBECACHEDIR": str(home / "cache"),
                   "HOME": str(home)}
            asyncio.run(seed(url, args.pods))
            results: dict[str, dict[str, float]] = {tool: {} for tool in tools}
            for command in tools.values():  # warm both discovery caches
                timed([*command, "get", "pods", "-n", "bench"], env)
            for tool, command in tools.items():
                runs = [timed([*command, "get", "pods", "-n", "bench"], env) for _ in range(args.repeat)]
                results[tool]["get"] = statistics.median(runs)
            for tool, command in tools.items():
                runs = []
                for attempt in range(args.repeat):
                    namespace = f"apply-{tool}-{attempt}"
                    timed([*command, "create", "namespace", namespace], env)
                    documents = "---\n".join(yaml.safe_dump({
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"cm-{i:03d}", "namespace": namespace},
                        "data": {"key": f"value-{i}"}}) for i in range(args.objects))
                    path = home / f"{namespace}.yaml"
                    path.write_text(documents)
                    runs.append(timed([*command, "apply", "-f", str(path)], env))
                results[tool]["apply"] = statistics.median(runs)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    print(f"{'workload':<28}{'real kubectl':>14}{'hyperkube':>12}{'ratio':>8}")
    ratios = {}
    for key, label in (("get", f"get pods ({args.pods})"), ("apply", f"apply -f ({args.objects} objects)")):
        real, ours = results["real"][key], results["hyperkube"][key]
        ratios[key] = ours / real
        print(f"{label:<28}{real * 1000:>12.0f}ms{ours * 1000:>10.0f}ms{ratios[key]:>8.2f}")
    print(f"kubectl: get1000_ratio={ratios['get']:.2f} apply100_ratio={ratios['apply']:.2f}")


if __name__ == "__main__":
    main()
