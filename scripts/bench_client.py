#!/usr/bin/env python3
"""Client throughput against an in-process API server (SQLite in a tmp dir, 127.0.0.1).

Measures what components pay through hyperkube.client: sequential GETs, creates, a paged
list_all, and an informer's initial sync of the same objects.

    scripts/bench_client.py [--objects 2000]

Final line: ``client: get_per_s=X create_per_s=Y list_all_ms=Z informer_sync_ms=W``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time

from hyperkube.apiserver.app import APIServer, APIServerConfig
from hyperkube.client import Client, Config, Informer

CONFIGMAPS = "v1/configmaps"


async def main(objects: int) -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as data_dir:
        server = APIServer(APIServerConfig(port=0, data_dir=data_dir))
        await server.start()
        try:
            async with Client(Config(server=server.url)) as client:
                started = time.perf_counter()
                for start in range(0, objects, 50):
                    await asyncio.gather(*(client.create(
                        CONFIGMAPS, {"metadata": {"name": f"cm-{i}"}, "data": {"i": str(i)}}, namespace="default")
                        for i in range(start, min(start + 50, objects))))
                create_per_s = objects / (time.perf_counter() - started)

                gets = min(objects, 1000)
                started = time.perf_counter()
                for i in range(gets):
                    await client.get(CONFIGMAPS, f"cm-{i}", namespace="default")
                get_per_s = gets / (time.perf_counter() - started)

                started = time.perf_counter()
                listed = await client.list_all(CONFIGMAPS, namespace="default", page_size=500)
                list_all_ms = (time.perf_counter() - started) * 1000
                assert len(listed["items"]) == objects

                informer = Informer(client, CONFIGMAPS, namespace="default")
                started = time.perf_counter()
                informer.start()
                await informer.wait_for_sync()
                informer_sync_ms = (time.perf_counter() - started) * 1000
                assert len(informer.cache) == objects
                await informer.stop()
        finally:
            await server.stop()
    print(f"client: get_per_s={get_per_s:.0f} create_per_s={create_per_s:.0f} "
          f"list_all_ms={list_all_ms:.0f} informer_sync_ms={informer_sync_ms:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=2000)
    asyncio.run(main(parser.parse_args().objects))
