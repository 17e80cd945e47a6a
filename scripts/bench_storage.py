#!/usr/bin/env python3
"""Storage benchmark: the embedded SQLite store against a real etcd, on this one machine.

    .venv/bin/python scripts/bench_storage.py [--seconds 5] [--backends sqlite,etcd]

For each backend, through the same Store interface the API server uses:

- puts/s at concurrency 1 and 64, 256-byte values, over 1,000 keys;
- put->event watch latency p50/p99 under the c=64 load: every put of the c=64 run is timed
  from the moment it is issued until a watcher on the prefix receives its event (etcd's own
  watch-latency benchmark measures the same span), so it includes the durable write itself;
  the table shows the put latency alone beside it;
- the range of a 10,000-key prefix (median of 5 reads, values included).

SQLite runs durably (the store's default synchronous mode) in a temporary directory; etcd is
started by the script itself (Debian's etcd-server, compaction off) with its data in the
same temporary directory. It prints a table (rich on a terminal, plain text otherwise), then
exactly one final line:

    storage: sqlite_puts_c64=N etcd_puts_c64=M ratio=R watch_p99_ms=W range10k_ms=T

where ratio is sqlite/etcd puts at c=64, and watch_p99_ms and range10k_ms are the SQLite
store's (the default store, which the targets are set for); etcd's are in the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from hyperkube.storage.interface import PutRequest, RangeRequest, Store, prefix_end

VALUE_SIZE = 256
KEYS = 1000
RANGE_KEYS = 10_000


@dataclass
class Result:
    backend: str
    puts_c1: float = 0.0
    puts_c64: float = 0.0
    put_p50_ms: float = 0.0
    put_p99_ms: float = 0.0
    watch_p50_ms: float = 0.0
    watch_p99_ms: float = 0.0
    watch_events: int = 0
    range10k_ms: float = 0.0
    notes: list[str] = field(default_factory=list)


def value_for(tag: str) -> bytes:
    return tag.encode().ljust(VALUE_SIZE, b".")


async def put_load(store: Store, prefix: str, concurrency: int, seconds: float,
                   issued: dict[bytes, float] | None = None, latencies: list[float] | None = None) -> float:
    """Puts/s of ``concurrency`` workers writing for ``seconds``; records issue times and put
    latencies (ms) if asked."""
    deadline = time.perf_counter() + seconds
    counts = [0] * concurrency

    async def worker(n: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            tag = f"{n}:{i}"
            value = value_for(tag)
            sent = time.perf_counter()
            if issued is not None:
                issued[value] = sent
            await store.put(PutRequest(f"{prefix}{(n * 7919 + i) % KEYS:04d}", value))
            if latencies is not None:
                latencies.append((time.perf_counter() - sent) * 1000)
            i += 1
        counts[n] = i

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return sum(counts) / (time.perf_counter() - started)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def measure(store: Store, name: str, seconds: float) -> Result:
    result = Result(name)
    await store.put(PutRequest("/bench/warmup", value_for("warmup")))
    result.puts_c1 = await put_load(store, "/bench/c1/", 1, seconds)

    # c=64 with a watcher on the same prefix measuring put->event latency.
    prefix = "/bench/c64/"
    issued: dict[bytes, float] = {}
    latencies: list[float] = []
    start_revision = await store.current_revision() + 1
    watch = store.watch(prefix, prefix_end(prefix), start_revision=start_revision)

    async def collect() -> None:
        async for response in watch:
            now = time.perf_counter()
            for event in response.events:
                sent = issued.pop(event.kv.value, None)
                if sent is not None:
                    latencies.append((now - sent) * 1000)

    collector = asyncio.ensure_future(collect())
    put_latencies: list[float] = []
    result.puts_c64 = await put_load(store, prefix, 64, seconds, issued, put_latencies)
    result.put_p50_ms = percentile(put_latencies, 0.50)
    result.put_p99_ms = percentile(put_latencies, 0.99)
    for _ in range(200):  # let the last events arrive
        if not issued:
            break
        await asyncio.sleep(0.01)
    collector.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await collector
    await watch.aclose()
    if issued:
        result.notes.append(f"{len(issued)} puts never seen by the watcher")
    result.watch_events = len(latencies)
    result.watch_p50_ms = percentile(latencies, 0.50)
    result.watch_p99_ms = percentile(latencies, 0.99)

    # 10k-key prefix, loaded in txns of 100 puts (etcd's default limit is 128 ops).
    range_prefix = "/bench/range/"
    for batch in range(0, RANGE_KEYS, 100):
        await store.txn([], [PutRequest(f"{range_prefix}{i:05d}", value_for(str(i)))
                             for i in range(batch, batch + 100)])
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        answer = await store.range(RangeRequest(range_prefix, prefix_end(range_prefix)))
        timings.append((time.perf_counter() - started) * 1000)
        if len(answer.kvs) != RANGE_KEYS:
            result.notes.append(f"range returned {len(answer.kvs)} keys, not {RANGE_KEYS}")
    result.range10k_ms = statistics.median(timings)
    return result


async def open_backend(servers: str) -> Store:
    from hyperkube.storage import open_store

    store = open_store(servers, data_dir=None, overrides=())
    if inspect.isawaitable(store):
        store = await store
    await store.start()
    return store


async def run(backends: list[str], seconds: float, workdir: Path) -> list[Result]:
    results = []
    for backend in backends:
        etcd = None
        if backend == "sqlite":
            servers = f"sqlite://{workdir / 'sqlite' / 'state.db'}"
            (workdir / "sqlite").mkdir()
        else:
            from hyperkube.storage.etcd_server import start_etcd

            etcd = await asyncio.to_thread(start_etcd, workdir / "etcd", name="bench")
            servers = etcd.url
        try:
            store = await open_backend(servers)
            try:
                results.append(await measure(store, backend, seconds))
            finally:
                await store.close()
        finally:
            if etcd is not None:
                etcd.stop()
    return results


ROWS = [("puts/s c=1", "puts_c1", "{:,.0f}"), ("puts/s c=64", "puts_c64", "{:,.0f}"),
        ("put p50 ms (c=64)", "put_p50_ms", "{:.2f}"), ("put p99 ms (c=64)", "put_p99_ms", "{:.2f}"),
        ("watch p50 ms (c=64)", "watch_p50_ms", "{:.2f}"), ("watch p99 ms (c=64)", "watch_p99_ms", "{:.2f}"),
        ("watch events timed", "watch_events", "{:,}"), ("range 10k keys ms", "range10k_ms", "{:.1f}")]


def print_table(results: list[Result]) -> None:
    headers = ["metric", *(r.backend for r in results)]
    rows = [[label, *(fmt.format(getattr(r, attr)) for r in results)] for label, attr, fmt in ROWS]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title="storage benchmark")
        for i, header in enumerate(headers):
            table.add_column(header, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
    else:
        widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
        for row in [headers, *rows]:
            print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in
                            enumerate(zip(row, widths, strict=True))))
    for r in results:
        for note in r.notes:
            print(f"note ({r.backend}): {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each put run")
    parser.add_argument("--backends", default="sqlite,etcd", help="comma-separated: sqlite, etcd")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    from hyperkube.storage.etcd_server import EtcdNotFoundError, EtcdStartError

    with tempfile.TemporaryDirectory(prefix="hyperkube-bench-") as tmp:
        try:
            results = asyncio.run(run(backends, args.seconds, Path(tmp)))
        except (EtcdNotFoundError, EtcdStartError) as error:
            print(f"bench_storage: {error}", file=sys.stderr)
            return 1
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print_table(results)
    by_name = {r.backend: r for r in results}
    sqlite, etcd = by_name.get("sqlite", Result("sqlite")), by_name.get("etcd", Result("etcd"))
    ratio = sqlite.puts_c64 / etcd.puts_c64 if etcd.puts_c64 else float("nan")
    print(f"storage: sqlite_puts_c64={sqlite.puts_c64:.0f} etcd_puts_c64={etcd.puts_c64:.0f} ratio={ratio:.1f} "
          f"watch_p99_ms={sqlite.watch_p99_ms:.2f} range10k_ms={sqlite.range10k_ms:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
