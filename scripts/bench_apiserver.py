#!/usr/bin/env python3
"""Benchmark the API server: one run against a real ``hyperkube apiserver`` process on SQLite.

Measures pod creates/s and gets/s at concurrency 1 and 64, a list of 10,000 pods as JSON and
as a Table, and watch latency (write sent -> event received) with 100 concurrent watchers.
Beside it, a bare aiohttp JSON echo endpoint in its own process is the ceiling for what this
machine and this client can do. Prints a table, then the final line::

    apiserver: create_per_s=X get_per_s=Y list10k_ms=Z watch_p99_ms=W echo_per_s=E

Usage: scripts/bench_apiserver.py [--pods 10000] [--watchers 100]
(the API server and the echo server run as separate processes; the load comes from this one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

import aiohttp

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PODS = "/api/v1/namespaces/default/pods"
SENT_MARK = b'"bench/sent":"'


def pod(name: str, stamp: float | None = None) -> bytes:
    metadata: dict = {"name": name, "labels": {"app": "bench", "tier": "web"}}
    if stamp is not None:
        metadata["annotations"] = {"bench/sent": repr(stamp)}
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
                       "spec": {"containers": [{"name": "c", "image": "nginx:1.27",
                                                "ports": [{"containerPort": 80}]}]}}).encode()


# ---- the echo ceiling ---------------------------------------------------------------------------------

def serve_echo() -> None:
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/echo", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


# ---- load driver -----------------------------------------------------------------------------------

async def drive(total: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> tuple[float, list[float]]:
    """Run ``call(i)`` for i in range(total) with ``concurrency`` workers; (per second, latencies)."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started), latencies


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


async def expect(response: aiohttp.ClientResponse, status: int) -> bytes:
    body = await response.read()
    if response.status != status:
        raise RuntimeError(f"{response.method} {response.url} -> {response.status}: {body[:300]!r}")
    return body


async def bench(url: str, echo_url: str, pods: int, watchers: int) -> None:
    rows: list[tuple[str, str]] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        headers = {"Content-Type": "application/json"}

        async def create(prefix: str) -> Callable[[int], Awaitable[None]]:
            async def call(i: int) -> None:
                async with session.post(url + PODS, data=pod(f"{prefix}-{i}"), headers=headers) as response:
                    await expect(response, 201)
            return call

        async def get(i: int) -> None:
            async with session.get(url + f"{PODS}/c1-{i % 200}") as response:
                await expect(response, 200)

        rate1, _ = await drive(500, 1, await create("c1"))
        rows.append(("create c=1", f"{rate1:,.0f}/s"))
        rate64, lat64 = await drive(5000, 64, await create("c64"))
        rows.append(("create c=64", f"{rate64:,.0f}/s (p99 {p99(lat64) * 1000:.1f} ms)"))
        get1, _ = await drive(2000, 1, get)
        rows.append(("get c=1", f"{get1:,.0f}/s"))
        get64, get_lat = await drive(20000, 64, get)
        rows.append(("get c=64", f"{get64:,.0f}/s (p99 {p99(get_lat) * 1000:.1f} ms)"))

        existing = 500 + 5000
        if pods > existing:
            await drive(pods - existing, 64, await create("fill"))

        async def timed_list(accept: str) -> float:
            best = []
            for _ in range(5):
                started = time.perf_counter()
                async with session.get(url + PODS, headers={"Accept": accept}) as response:
                    body = await expect(response, 200)
                best.append((time.perf_counter() - started) * 1000)
            count = len(json.loads(body).get("items") or json.loads(body).get("rows") or [])
            assert count >= pods, count
            return statistics.median(best)

        list_json = await timed_list("application/json")
        list_table = await timed_list(TABLE)
        rows.append((f"list {pods} pods (JSON)", f"{list_json:.0f} ms"))
        rows.append((f"list {pods} pods (Table)", f"{list_table:.0f} ms"))

        # watch latency: every watcher sees every pod; latency = received - sent (from the annotation)
        async with session.get(url + "/api/v1/namespaces/kube-public/pods") as response:
            rv = json.loads(await expect(response, 200))["metadata"]["resourceVersion"]
        samples: list[float] = []
        events = 300

        async def watcher(ready: asyncio.Event) -> None:
            async with session.get(url + f"/api/v1/namespaces/kube-public/pods?watch=true&resourceVersion={rv}",
                                   timeout=aiohttp.ClientTimeout(total=120)) as response:
                ready.set()
                seen = 0
                while seen < events:
                    line = await response.content.readline()
                    if not line:
                        break
                    # the load generator shares the machine: find the stamp without decoding the event
                    start = line.index(SENT_MARK) + len(SENT_MARK)
                    sent = float(line[start:line.index(b'"', start)])
                    samples.append(time.time() - sent)
                    seen += 1

        readies = [asyncio.Event() for _ in range(watchers)]
        tasks = [asyncio.create_task(watcher(ready)) for ready in readies]
        await asyncio.gather(*(ready.wait() for ready in readies))
        await asyncio.sleep(0.5)

        async def watched_create(i: int) -> None:
            async with session.post(url + "/api/v1/namespaces/kube-public/pods", data=pod(f"w-{i}", time.time()),
                                    headers=headers) as response:
                await expect(response, 201)
            await asyncio.sleep(0.01)

        await drive(events, 4, watched_create)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        watch_p99 = p99(samples) * 1000
        rows.append((f"watch latency, {watchers} watchers", f"p50 {statistics.median(samples) * 1000:.1f} ms, "
                     f"p99 {watch_p99:.1f} ms ({len(samples)} events)"))

        body = pod("echo")

        async def echo(i: int) -> None:
            async with session.post(echo_url, data=body, headers=headers) as response:
                await expect(response, 200)

        echo_rate, _ = await drive(20000, 64, echo)
        rows.append(("bare aiohttp echo c=64", f"{echo_rate:,.0f}/s"))

    width = max(len(name) for name, _ in rows)
    print(f"{'measure'.ljust(width)}  result")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    slo = "held" if p99(lat64) <= 1.0 else "MISSED"
    print(f"SLO (p99 of mutating calls <= 1 s at c=64): {slo}")
    print(f"apiserver: create_per_s={rate64:.0f} get_per_s={get64:.0f} list10k_ms={list_json:.0f} "
          f"watch_p99_ms={watch_p99:.1f} echo_per_s={echo_rate:.0f}")


def _drain(stream) -> None:
    for line in stream:
        sys.stderr.write(line)


def start_apiserver(data_dir: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "hyperkube", "apiserver", "--insecure-port", "0", "--secure-port", "0",
                                "--data-dir", data_dir], stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        match = re.search(r"Serving insecurely on ([\d.]+:\d+)", line)
        if match:
            import threading

            threading.Thread(target=_drain, args=(process.stderr,), daemon=True).start()
            return process, f"http://{match.group(1)}"
    raise RuntimeError("the API server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        serve_echo()
        return
    with tempfile.TemporaryDirectory(prefix="bench-apiserver-") as data_dir:
        apiserver, url = start_apiserver(data_dir)
        echo = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--echo-server"], stdout=subprocess.PIPE,
                                text=True)
        try:
            assert echo.stdout is not None
            echo_url = f"http://127.0.0.1:{echo.stdout.readline().strip()}/echo"
            asyncio.run(bench(url, echo_url, args.pods, args.watchers))
        finally:
            for process in (apiserver, echo):
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    main()
