"""SQLite across processes: acknowledged writes survive kill -9; two processes sharing one
file each see the same event stream, in order, with no gap and no duplicate."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from hyperkube.storage import open_store

CHILD = str(Path(__file__).with_name("sqlite_child.py"))


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    child = subprocess.Popen([sys.executable, CHILD, "write", url], stdout=subprocess.PIPE, text=True)
    acknowledged: dict[str, int] = {}
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        while len(acknowledged) < 3000:
            line = child.stdout.readline()
            assert line, "the writer died before it was killed"
            key, revision = line.split()
            acknowledged[key] = int(revision)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        for line in child.stdout:  # acks printed before the kill count too
            if len(line.split()) == 2 and line.endswith("\n"):
                key, revision = line.split()
                acknowledged[key] = int(revision)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()

    async def check() -> None:
        store = open_store(url)
        await store.start()
        try:
            for key, revision in acknowledged.items():
                kv = await store.get(key)
                assert kv is not None, f"acknowledged write {key} at revision {revision} was lost"
                assert kv.mod_revision == revision
                _, n, i = key.rsplit("/", 2)
                assert kv.value == f"value {n} {i}".encode()
            assert await store.current_revision() >= max(acknowledged.values())
        finally:
            await store.close()

    asyncio.run(check())


def test_two_processes_on_one_file_see_the_same_event_stream(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    per_process = 400
    total = 2 * per_process
    children = [subprocess.Popen([sys.executable, CHILD, "stream", url, name, str(per_process), str(total)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for name in ("a", "b")]
    outputs = []
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            out, _ = child.communicate(timeout=90)
            assert child.returncode == 0
            outputs.append([json.loads(line) for line in out.splitlines()])
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    first, second = outputs
    assert [item[0] for item in first] == list(range(2, 2 + total))  # in order, no gap, no duplicate
    assert first == second
    writers = {key.split("/")[2] for _, _, key in first}
    assert writers == {"a", "b"}
