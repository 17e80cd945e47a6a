"""A store in a child process, for the kill -9 and two-process tests.

    python sqlite_child.py write URL            put forever; print "KEY REVISION" per ack
    python sqlite_child.py stream URL NAME N T  put N keys, watch "/two/" from revision 2
                                                until T events, print them as JSON lines
                                                (after "ready", waits for a line on stdin)
"""

from __future__ import annotations

import asyncio
import json
import sys

from hyperkube.storage import PutRequest, open_store, prefix_end


async def write_forever(url: str) -> None:
    store = open_store(url)
    await store.start()
    print("ready", flush=True)

    async def writer(n: int) -> None:
        i = 0
        while True:
            key = f"/kill/{n}/{i}"
            result = await store.put(PutRequest(key, f"value {n} {i}".encode()))
            sys.stdout.write(f"{key} {result.revision}\n")
            sys.stdout.flush()
            i += 1

    await asyncio.gather(*(writer(n) for n in range(16)))


async def stream(url: str, name: str, count: int, total: int) -> None:
    store = open_store(url)
    await store.start()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # both processes start writing together
    seen: list[list] = []

    async def watch() -> None:
        async for response in store.watch("/two/", prefix_end("/two/"), start_revision=2):
            seen.extend([e.kv.mod_revision, e.type, e.kv.key] for e in response.events)
            if len(seen) >= total:
                return

    async def writer(n: int) -> None:
        for i in range(n, count, 4):
            await store.put(PutRequest(f"/two/{name}/{i}", name.encode()))
            await asyncio.sleep(0.001)  # spread the writes out, so the two processes interleave

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(writer(n) for n in range(4)))
    try:
        await asyncio.wait_for(watcher, 60)
    except TimeoutError:
        revisions = sorted(item[0] for item in seen)
        missing = sorted(set(range(2, 2 + total)) - set(revisions))
        sys.exit(f"{name}: saw {len(seen)} of {total} events; missing {missing[:10]}...")
    for item in seen:
        print(json.dumps(item))
    await store.close()


if __name__ == "__main__":
    if sys.argv[1] == "write":
        asyncio.run(write_forever(sys.argv[2]))
    else:
        asyncio.run(stream(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
