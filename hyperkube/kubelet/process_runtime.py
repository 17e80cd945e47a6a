"""The process runtime: every container is a process, supervised through a shim (see shim.py).

State lives on disk under ``<root-dir>/pods``, and nowhere else that matters::

    pods/<pod uid>/containers/<name>/<attempt>/spec.json   what the shim runs
                                              /state.json  shim pid and its start time
                                              /container.log  CRI-format log lines
                                              /exit.json   how it ended (written by the shim)

A kubelet that restarts builds the same picture from these files: a container whose shim is
alive (same pid *and* same start time in /proc, so a recycled pid is not mistaken for it) is
adopted, one with ``exit.json`` has ended, and a shim that vanished without one was killed.
Containers started by this kubelet are its children and are reaped with ``Popen.poll``;
adopted ones are watched through /proc.

Blocking work (fork/exec, file writes, directory scans) runs in threads, never on the loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperkube.kubelet.runtime import EXITED, RUNNING, ContainerSpec, ContainerStatus, Runtime
from hyperkube.kubelet.volumes import cleanup_mounts


def _proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), or None if no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    if fields and fields[0] == b"Z":
        return None  # a zombie has ended
    return fields[19].decode() if len(fields) > 19 else None


@dataclass
class _Attempt:
    directory: Path
    attempt: int
    image: str
    started_at: float
    shim_pid: int
    shim_start: str | None
    process: subprocess.Popen[bytes] | None = None  # our child, or None when adopted
    ended: ContainerStatus | None = None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


class ProcessRuntime(Runtime):
    name = "process"

    def __init__(self, root_dir: str | os.PathLike[str], *, max_log_bytes: int = 10 << 20) -> None:
        self.root = Path(root_dir) / "pods"
        self.max_log_bytes = max_log_bytes
        self._attempts: dict[tuple[str, str], _Attempt] = {}
        self._loaded: set[str] = set()

    # -- sandboxes ----------------------------------------------------------------------------

    def _pod_dir(self, pod_uid: str) -> Path:
        return self.root / pod_uid

    async def run_sandbox(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        record = {"uid": meta["uid"], "namespace": meta.get("namespace"), "name": meta.get("name")}

        def write() -> None:
            directory = self._pod_dir(meta["uid"])
            (directory / "containers").mkdir(parents=True, exist_ok=True)
            _write_json(directory / "pod.json", record)

        await asyncio.to_thread(write)
        await self._load(meta["uid"])

    async def stop_sandbox(self, pod_uid: str, grace_seconds: float) -> None:
        await self._load(pod_uid)
        names = [name for (uid, name) in self._attempts if uid == pod_uid]
        await asyncio.gather(*(self.stop_container(pod_uid, name, grace_seconds) for name in names))

    async def remove_sandbox(self, pod_uid: str) -> None:
        await self.stop_sandbox(pod_uid, 0)
        for key in [key for key in self._attempts if key[0] == pod_uid]:
            del self._attempts[key]
        self._loaded.discard(pod_uid)
        await asyncio.to_thread(cleanup_mounts, self.root.parent, pod_uid)
        await asyncio.to_thread(shutil.rmtree, self._pod_dir(pod_uid), True)

    async def list_sandboxes(self) -> list[str]:
        def scan() -> list[str]:
            try:
                return [entry.name for entry in os.scandir(self.root) if entry.is_dir()]
            except FileNotFoundError:
                return []

        return await asyncio.to_thread(scan)

    async def _load(self, pod_uid: str) -> None:
        """Adopt what an earlier kubelet left for this pod: each container's newest attempt."""
        if pod_uid in self._loaded:
            return
        self._loaded.add(pod_uid)

        def scan() -> list[tuple[str, _Attempt]]:
            found = []
            base = self._pod_dir(pod_uid) / "containers"
            if not base.is_dir():
                return found
            for container in base.iterdir():
                attempts = sorted((int(p.name) for p in container.iterdir() if p.name.isdigit()), reverse=True)
                for number in attempts:
                    state = _read_json(container / str(number) / "state.json")
                    if state is None:
                        continue
                    found.append((container.name, _Attempt(
                        container / str(number), number, state.get("image", ""), state["startedAt"],
                        state["shimPid"], state.get("shimStart"))))
                    break
            return found

        for name, attempt in await asyncio.to_thread(scan):
            self._attempts.setdefault((pod_uid, name), attempt)

    # -- containers ---------------------------------------------------------------------------

    async def start_container(self, pod: dict[str, Any], spec: ContainerSpec, attempt: int) -> ContainerStatus:
        uid = pod["metadata"]["uid"]
        await self._load(uid)
        directory = self._pod_dir(uid) / "containers" / spec.name / str(attempt)
        shim_spec = {"command": spec.command, "env": spec.env, "cwd": spec.working_dir,
                     "log": str(directory / "container.log"), "exit": str(directory / "exit.json"),
                     "maxLogBytes": self.max_log_bytes, "limits": spec.limits,
                     "id": f"{uid}-{spec.name}-{attempt}"}
        if spec.stdin:
            shim_spec["stdin"] = str(directory / "stdin")

        def launch() -> tuple[subprocess.Popen[bytes], float, str | None]:
            if directory.exists():
                shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            _write_json(directory / "spec.json", shim_spec)
            started = time.time()
            process = subprocess.Popen(
                [sys.executable, "-m", "hyperkube.kubelet.shim", str(directory / "spec.json")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True, env={**os.environ, "PYTHONSAFEPATH": "1"},
                cwd="/")
            _write_json(directory / "state.json", {"shimPid": process.pid, "shimStart": _proc_start_time(process.pid),
                                                   "startedAt": started, "image": spec.image})
            return process, started, _proc_start_time(process.pid)

        process, started, shim_start = await asyncio.to_thread(launch)
        record = _Attempt(directory, attempt, spec.image, started, process.pid, shim_start, process)
        self._attempts[(uid, spec.name)] = record
        return self._running(spec.name, record)

    def _running(self, name: str, record: _Attempt) -> ContainerStatus:
        return ContainerStatus(name, record.attempt, RUNNING, record.started_at, pid=record.shim_pid,
                               image=record.image, container_id=f"process://{record.shim_pid}")

    def _alive(self, record: _Attempt) -> bool:
        if record.process is not None:
            return record.process.poll() is None
        start = _proc_start_time(record.shim_pid)
        return start is not None and start == record.shim_start

    async def container_status(self, pod_uid: str, name: str) -> ContainerStatus | None:
        await self._load(pod_uid)
        record = self._attempts.get((pod_uid, name))
        if record is None:
            return None
        if record.ended is not None:
            return record.ended
        if self._alive(record):
            return self._running(name, record)
        record.ended = await asyncio.to_thread(self._ended, name, record)
        return record.ended

    def _ended(self, name: str, record: _Attempt) -> ContainerStatus:
        result = _read_json(record.directory / "exit.json")
        if result is None:  # the shim died without a word: it was SIGKILLed with its container
            result = {"exitCode": 137, "signal": 9, "finishedAt": time.time(), "reason": "Error"}
            _write_json(record.directory / "exit.json", result)
        code = int(result.get("exitCode", 1))
        reason = result.get("reason") or ("Completed" if code == 0 else "Error")
        return ContainerStatus(name, record.attempt, EXITED, result.get("startedAt", record.started_at),
                               finished_at=result.get("finishedAt"), exit_code=code, reason=reason,
                               message=result.get("message", ""), image=record.image,
                               container_id=f"process://{record.shim_pid}")

    async def stop_container(self, pod_uid: str, name: str, grace_seconds: float) -> None:
        record = self._attempts.get((pod_uid, name))
        if record is None or record.ended is not None or not self._alive(record):
            return
        try:
            os.kill(record.shim_pid, signal.SIGTERM)  # the shim forwards it to the container
        except ProcessLookupError:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(grace_seconds, 0)
        await self._wait_gone(record, deadline)
        if self._alive(record):
            try:
                os.killpg(record.shim_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await self._wait_gone(record, None)
        await self.container_status(pod_uid, name)

    async def _wait_gone(self, record: _Attempt, deadline: float | None) -> None:
        """Poll (the shim may not be our child) until it is gone or the deadline passes."""
        loop = asyncio.get_running_loop()
        while True:
            if not self._alive(record) or (deadline is not None and loop.time() >= deadline):
                return
            await asyncio.sleep(0.05)

    def stdin_path(self, pod_uid: str, name: str, attempt: int) -> str | None:
        """The FIFO the shim feeds to the container's stdin (``stdin: true`` containers)."""
        path = self._pod_dir(pod_uid) / "containers" / name / str(attempt) / "stdin"
        return str(path) if path.exists() else None

    def log_path(self, pod_uid: str, name: str, attempt: int) -> str | None:
        return str(self._pod_dir(pod_uid) / "containers" / name / str(attempt) / "container.log")

    def is_running(self, pod_uid: str, name: str, attempt: int) -> bool:
        record = self._attempts.get((pod_uid, name))
        return record is not None and record.attempt == attempt and record.ended is None and self._alive(record)

    def process_group(self, pod_uid: str, name: str) -> int | None:
        record = self._attempts.get((pod_uid, name))
        if record is None or record.ended is not None or not self._alive(record):
            return None
        return record.shim_pid

    def latest_attempt(self, pod_uid: str, name: str) -> int | None:
        record = self._attempts.get((pod_uid, name))
        return record.attempt if record else None

    async def exec(self, pod: dict[str, Any], spec: ContainerSpec, command: list[str], *,
                   stdin: bool, tty: bool) -> Any:
        return await asyncio.create_subprocess_exec(
            *command, env=spec.env, cwd=spec.working_dir or None,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
