#!/usr/bin/env python3
"""Benchmark the userspace proxy against a direct connection and haproxy, to the same backends.

Runs a real ``hyperkube apiserver`` and ``hyperkube proxy`` (processes), three HTTP backends
(one process, asyncio, on 127.0.0.1), a Service (cluster IP from the API server) with an
EndpointSlice naming the backends, and haproxy (Debian's package, installed with apt-get when
missing and we are root; ``mode tcp``, ``balance roundrobin``, one thread like the proxy).
This process is the load generator:

- short requests: a new TCP connection per HTTP request, ``--concurrency`` at once, for
  ``--seconds``; requests/s;
- latency: one request at a time (new connection each); p50 and p99;
- bulk: one connection downloading ``--bulk-mb`` MB (the backend sends it with sendfile); MB/s.

"direct" connects to the backends in turn, itself. Final line:
``proxy: rps_vs_haproxy=X bulk_vs_direct=Y added_p50_ms=Z`` (targets: X >= 0.5, Y >= 0.7, Z <= 0.3).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BACKENDS = r"""
import asyncio, os, sys
bulk = open(sys.argv[1], "rb")
size = os.fstat(bulk.fileno()).st_size

async def handle(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"GET /bulk"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
            await writer.drain()
            await asyncio.get_running_loop().sendfile(writer.transport, bulk, 0, size)
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()

async def main():
    servers = [await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024) for _ in range(3)]
    print(" ".join(str(s.sockets[0].getsockname()[1]) for s in servers), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""

SHORT = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


def _started(command: list[str], pattern: str, timeout: float = 60) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            match = re.search(pattern, line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout) or not found:
        process.kill()
        raise SystemExit(f"{command[:4]} did not start")
    return process, found[0]


def _stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _haproxy() -> str | None:
    path = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing haproxy with apt-get ...", file=sys.stderr)
        subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                       "--no-install-recommends haproxy", shell=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        path = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    return path


async def _request(host: str, port: int, payload: bytes = SHORT) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(payload)
    total = 0
    while chunk := await reader.read(1 << 20):
        total += len(chunk)
    writer.close()
    return total


async def short_rps(targets, concurrency: int, seconds: float) -> float:
    cycle = itertools.cycle(targets)
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            host, port = next(cycle)
            await _request(host, port)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def latency(targets, count: int) -> tuple[float, float]:
    cycle = itertools.cycle(targets)
    samples = []
    for _ in range(count):
        host, port = next(cycle)
        started = time.perf_counter()
        await _request(host, port)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def bulk(target, megabytes: int) -> float:
    started = time.perf_counter()
    total = await _request(*target, payload=b"GET /bulk HTTP/1.1\r\nHost: bench\r\n\r\n")
    elapsed = time.perf_counter() - started
    if total < megabytes << 20:
        raise SystemExit(f"bulk transfer short: {total} bytes")
    return total / elapsed / 1e6


async def setup_service(url: str, ports: list[int], port: int) -> str:
    from hyperkube.client import Client, Config

    async with Client(Config(server=url)) as client:
        service = await client.create("v1/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "bench"},
            "spec": {"selector": {"app": "bench"}, "ports": [{"port": port}]}}, namespace="default")
        for i, backend in enumerate(ports):
            await client.create("discovery.k8s.io/v1/endpointslices", {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": f"bench-{i}", "labels": {"kubernetes.io/service-name": "bench"}},
                "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
                "ports": [{"name": "", "port": backend, "protocol": "TCP"}]}, namespace="default")
        return service["spec"]["clusterIP"]


async def wait_connect(host: str, port: int, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            await _request(host, port)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def measure(name: str, targets, args) -> dict[str, float]:
    await short_rps(targets, args.concurrency, 0.5)  # warm up
    rps = await short_rps(targets, args.concurrency, args.seconds)
    p50, p99 = await latency(targets, args.latency_samples)
    mbs = max([await bulk(targets[0], args.bulk_mb) for _ in range(5)])
    print(f"{name:>9}: {rps:8.0f} req/s   p50 {p50:6.3f} ms   p99 {p99:6.3f} ms   bulk {mbs:8.1f} MB/s", flush=True)
    return {"rps": rps, "p50": p50, "mbs": mbs}


def _start_backends(work: Path, megabytes: int) -> tuple[subprocess.Popen, list[int]]:
    blob = work / "bulk.bin"
    with open(blob, "wb") as handle:
        handle.truncate(megabytes << 20)
    backends = subprocess.Popen([sys.executable, "-c", BACKENDS, str(blob)], stdout=subprocess.PIPE, text=True)
    return backends, [int(p) for p in backends.stdout.readline().split()]  # type: ignore[union-attr]


async def main(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    processes: list[subprocess.Popen] = []
    try:
        backends, ports = await asyncio.to_thread(_start_backends, work, args.bulk_mb)
        processes.append(backends)
        direct = [("127.0.0.1", p) for p in ports]

        api, api_port = _started([sys.executable, "-m", "hyperkube", "apiserver", "--insecure-port", "0",
                                  "--data-dir", str(work / "data")], r"Serving insecurely on [\d.]+:(\d+)")
        processes.append(api)
        url = f"http://127.0.0.1:{api_port}"
        await asyncio.sleep(0.5)
        service_port = 18080
        cluster_ip = await setup_service(url, ports, service_port)
        proxy, _ = _started([sys.executable, "-m", "hyperkube", "proxy", "--master", url, "--hostname-override",
                             "bench", "--healthz-bind-address", "127.0.0.1:0", "--proxy-mode", "userspace"], r"serving on [\d.]+:(\d+)")
        processes.append(proxy)
        await wait_connect(cluster_ip, service_port)

        results = {"direct": await measure("direct", direct, args),
                   "proxy": await measure("proxy", [(cluster_ip, service_port)], args)}
        haproxy_bin = _haproxy()
        if haproxy_bin:
            haproxy_port = 18081
            config = work / "haproxy.cfg"
            config.write_text("global\n  nbthread 1\n  maxconn 4000\ndefaults\n  mode tcp\n  timeout connect 5s\n"
                              "  timeout client 60s\n  timeout server 60s\n"
                              f"listen bench\n  bind 127.0.0.1:{haproxy_port}\n  balance roundrobin\n"
                              + "".join(f"  server b{i} 127.0.0.1:{p}\n" for i, p in enumerate(ports)))
            haproxy = await asyncio.to_thread(subprocess.Popen, [haproxy_bin, "-db", "-f", str(config)],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes.append(haproxy)
            await wait_connect("127.0.0.1", haproxy_port)
            results["haproxy"] = await measure("haproxy", [("127.0.0.1", haproxy_port)], args)
        else:
            print("haproxy: not installed and cannot be installed here; rps_vs_haproxy is against direct")
        reference = results.get("haproxy", results["direct"])
        print(f"proxy: rps_vs_haproxy={results['proxy']['rps'] / reference['rps']:.2f} "
              f"bulk_vs_direct={results['proxy']['mbs'] / results['direct']['mbs']:.2f} "
              f"added_p50_ms={results['proxy']['p50'] - results['direct']['p50']:.3f}")
    finally:
        for process in reversed(processes):
            _stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-samples", type=int, default=500)
    parser.add_argument("--bulk-mb", type=int, default=256)
    asyncio.run(main(parser.parse_args()))
