"""The runtime interface (CRI-like) and the fake runtime that hollow nodes use.

A runtime knows pod sandboxes (by pod UID) and, inside them, container *attempts*: attempt N
of container ``c`` is its N-th start, so ``restartCount`` is the newest attempt's number and
``previous`` logs are attempt N-1's. The pod worker decides *what* should run; the runtime
only does it and reports what it sees, so a restarted kubelet rebuilds everything from the
runtime's ``list_sandboxes`` and ``container_status``.

Times are Unix seconds (floats); the status manager formats them.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

RUNNING, EXITED = "running", "exited"


@dataclass
class ContainerSpec:
    """What to run, resolved from the pod spec (env expanded, image mapped to a command)."""

    name: str
    command: list[str]
    env: dict[str, str]
    working_dir: str | None = None
    image: str = ""
    limits: dict[str, int] = field(default_factory=dict)  # memoryBytes, cpuMillis
    stdin: bool = False  # keep a stdin open that ``attach -i`` writes to
    stdin_once: bool = False  # ...and close it when the first attach session ends


@dataclass
class ContainerStatus:
    name: str
    attempt: int
    state: str  # RUNNING or EXITED
    started_at: float
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    pid: int | None = None
    image: str = ""
    container_id: str = ""


@dataclass
class ExecResult:
    """An exec'd process: its pipes, for the channel protocol."""

    process: Any  # asyncio.subprocess.Process, or None for the fake runtime
    output: bytes = b""
    exit_code: int = 0


class Runtime(ABC):
    """Sandboxes and containers. Every method is a coroutine and never blocks the loop."""

    name = "runtime"
    version = "0.1.0"

    @abstractmethod
    async def run_sandbox(self, pod: dict[str, Any]) -> None: ...

    @abstractmethod
    async def stop_sandbox(self, pod_uid: str, grace_seconds: float) -> None:
        """Stop every container of the pod (SIGTERM, then SIGKILL after the grace period)."""

    @abstractmethod
    async def remove_sandbox(self, pod_uid: str) -> None:
        """Forget the pod and delete what is stored for it (logs included)."""

    @abstractmethod
    async def list_sandboxes(self) -> list[str]:
        """UIDs of the pods this runtime holds (after a restart: what it adopted)."""

    @abstractmethod
    async def start_container(self, pod: dict[str, Any], spec: ContainerSpec, attempt: int) -> ContainerStatus: ...

    @abstractmethod
    async def stop_container(self, pod_uid: str, name: str, grace_seconds: float) -> None: ...

    @abstractmethod
    async def container_status(self, pod_uid: str, name: str) -> ContainerStatus | None:
        """The newest attempt of the container, or None when it never started."""

    @abstractmethod
    def log_path(self, pod_uid: str, name: str, attempt: int) -> str | None: ...

    @abstractmethod
    async def exec(self, pod: dict[str, Any], spec: ContainerSpec, command: list[str], *,
                   stdin: bool, tty: bool) -> Any:
        """Start ``command`` beside the container; returns an asyncio subprocess (or None)."""

    def is_running(self, pod_uid: str, name: str, attempt: int) -> bool:
        """Whether that attempt still runs (``logs -f`` follows until it does not)."""
        return False

    def process_group(self, pod_uid: str, name: str) -> int | None:
        """The process group of the container's running attempt (for /stats), if it has one."""
        return None

    async def close(self) -> None:  # noqa: B027 (optional hook)
        """Release what the runtime holds in this process (processes keep running)."""


@dataclass
class _FakeContainer:
    status: ContainerStatus


@dataclass
class _FakePod:
    containers: dict[str, _FakeContainer] = field(default_factory=dict)


class FakeRuntime(Runtime):
    """Hollow nodes: containers 'run' at once and forever, with no process and no files.

    A few dicts per pod, so a hundred hollow kubelets fit in one small process.
    """

    name = "fake"

    def __init__(self) -> None:
        self.pods: dict[str, _FakePod] = {}

    async def run_sandbox(self, pod: dict[str, Any]) -> None:
        self.pods.setdefault(pod["metadata"]["uid"], _FakePod())

    async def stop_sandbox(self, pod_uid: str, grace_seconds: float) -> None:
        for name in list(self.pods.get(pod_uid, _FakePod()).containers):
            await self.stop_container(pod_uid, name, grace_seconds)

    async def remove_sandbox(self, pod_uid: str) -> None:
        self.pods.pop(pod_uid, None)

    async def list_sandboxes(self) -> list[str]:
        return list(self.pods)

    async def start_container(self, pod: dict[str, Any], spec: ContainerSpec, attempt: int) -> ContainerStatus:
        sandbox = self.pods.setdefault(pod["metadata"]["uid"], _FakePod())
        status = ContainerStatus(spec.name, attempt, RUNNING, time.time(), image=spec.image,
                                 container_id=f"fake://{pod['metadata']['uid']}/{spec.name}/{attempt}")
        sandbox.containers[spec.name] = _FakeContainer(status)
        return status

    async def stop_container(self, pod_uid: str, name: str, grace_seconds: float) -> None:
        container = self.pods.get(pod_uid, _FakePod()).containers.get(name)
        if container and container.status.state == RUNNING:
            container.status.state = EXITED
            container.status.exit_code = 0
            container.status.reason = "Completed"
            container.status.finished_at = time.time()

    async def container_status(self, pod_uid: str, name: str) -> ContainerStatus | None:
        container = self.pods.get(pod_uid, _FakePod()).containers.get(name)
        return container.status if container else None

    def log_path(self, pod_uid: str, name: str, attempt: int) -> str | None:
        return None

    async def exec(self, pod: dict[str, Any], spec: ContainerSpec, command: list[str], *,
                   stdin: bool, tty: bool) -> Any:
        await asyncio.sleep(0)
        return None
