#!/usr/bin/env python3
"""Benchmark the DNS add-on: zone build time, and UDP queries per second and latency.

The server runs in this process on an in-process API server (tmp SQLite) with no objects; its
zone is then replaced by a synthetic one (``--services`` ClusterIP services, and ``--headless``
headless services of ten endpoints each), so the numbers measure the DNS path, not the API.
The load generator is a child process (asyncio, raw UDP, ``--window`` queries in flight) asking
for random service names for ``--seconds``; latency is then measured one query at a time.
Final line: ``dns: qps=X p50_ms=Y p99_ms=Z build_ms=W`` (targets on a quiet machine: X >= 5000,
Y <= 1, W <= 200 for 5000 services).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LOAD = r"""
import asyncio, json, random, statistics, sys, time
import dns.message
port, names, seconds, window = int(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
wires = [dns.message.make_query(n, "A").to_wire() for n in names]

class Load(asyncio.DatagramProtocol):
    def __init__(self):
        self.answered = 0
        self.waiters = {}
    def datagram_received(self, data, addr):
        self.answered += 1
        waiter = self.waiters.pop(data[:2], None)
        if waiter and not waiter.done():
            waiter.set_result(time.perf_counter())

async def main():
    loop = asyncio.get_running_loop()
    transport, load = await loop.create_datagram_endpoint(Load, remote_addr=("127.0.0.1", port))
    end = time.perf_counter() + seconds
    sent = 0
    while time.perf_counter() < end:
        while sent - load.answered < window:
            transport.sendto(random.choice(wires))
            sent += 1
        await asyncio.sleep(0)
    qps = load.answered / seconds
    latencies = []
    for i in range(500):
        wire = bytearray(random.choice(wires)); wire[0:2] = i.to_bytes(2, "big")
        waiter = loop.create_future(); load.waiters[bytes(wire[:2])] = waiter
        started = time.perf_counter(); transport.sendto(bytes(wire))
        latencies.append((await asyncio.wait_for(waiter, 2)) - started)
    latencies.sort()
    print(json.dumps({"qps": qps, "p50_ms": latencies[len(latencies) // 2] * 1000,
                      "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000}))

asyncio.run(main())
"""


def synthetic(services: int, headless: int) -> tuple[list[dict], list[dict]]:
    svcs = [{"metadata": {"name": f"s{i}", "namespace": f"ns{i % 20}"},
             "spec": {"clusterIP": f"10.{96 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}",
                      "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}} for i in range(services)]
    svcs += [{"metadata": {"name": f"h{i}", "namespace": "db"},
              "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}} for i in range(headless)]
    slices = [{"metadata": {"name": f"h{i}-x", "namespace": "db", "labels": {"kubernetes.io/service-name": f"h{i}"}},
               "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
               "endpoints": [{"addresses": [f"10.200.{i % 250}.{j + 1}"], "hostname": f"h{i}-{j}"} for j in range(10)]}
              for i in range(headless)]
    return svcs, slices


async def main(args: argparse.Namespace) -> None:
    from hyperkube.addons.dns import DNSConfig, DNSServer, build_zone
    from hyperkube.apiserver.app import APIServer, APIServerConfig
    from hyperkube.client import Client, Config

    services, slices = synthetic(args.services, args.headless)
    started = time.perf_counter()
    zone = build_zone(services, slices)
    build_ms = (time.perf_counter() - started) * 1000
    with tempfile.TemporaryDirectory() as data:
        api = APIServer(APIServerConfig(port=0, data_dir=data))
        await api.start()
        client = Client(Config(server=api.url))
        server = DNSServer(client, DNSConfig(port=0, upstreams=[]))
        await server.start()
        server.zone = zone

        async def keep() -> None:  # the synthetic zone stays, whatever the (empty) API says
            server._dirty.clear()
        server.rebuild = keep  # type: ignore[method-assign]
        names = [f"s{i}.ns{i % 20}.svc.cluster.local" for i in range(0, args.services, max(1, args.services // 500))]
        names += [f"h{i}.db.svc.cluster.local" for i in range(args.headless)]
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", LOAD, str(server.port), json.dumps(names), str(args.seconds), str(args.window),
                stdout=subprocess.PIPE)
            out, _ = await process.communicate()
        finally:
            await server.stop()
            await client.close()
            await api.stop()
    result = json.loads(out)
    print(f"zone: {args.services} services, {args.headless} headless x 10 endpoints built in {build_ms:.0f} ms")
    print(f"dns: qps={result['qps']:.0f} p50_ms={result['p50_ms']:.2f} p99_ms={result['p99_ms']:.2f} "
          f"build_ms={build_ms:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--headless", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--window", type=int, default=32)
    asyncio.run(main(parser.parse_args()))
