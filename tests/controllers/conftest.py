"""Controllers against a real in-process API server (no kubelet: tests write pod status).

``controllers(*names)`` starts a ControllerManager running just those controllers on the
test's loop; ``kube`` is a hyperkube client for the test's own reads and writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from hyperkube.client import Client, Config
from hyperkube.controllers.manager import ControllerManager, ManagerOptions
from hyperkube.machinery.durations import now_rfc3339
from tests.apiserver._server import server  # noqa: F401

PODS = "v1/pods"


@pytest.fixture
async def kube(server) -> AsyncIterator[Client]:  # noqa: F811
    async with Client(Config(server=server.url)) as client:
        yield client


@pytest.fixture
async def controllers(server) -> AsyncIterator[Callable[..., Awaitable[ControllerManager]]]:  # noqa: F811
    started: list[tuple[Client, ControllerManager]] = []

    async def start(*names: str, **options: Any) -> ControllerManager:
        client = Client(Config(server=server.url))
        manager = ControllerManager(client, ManagerOptions(controllers=list(names) or "*", **options))
        await manager.start()
        started.append((client, manager))
        return manager

    yield start
    for client, manager in started:
        await manager.stop()
        await client.close()


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy (its value), or fail after ``within`` seconds."""
    last: Any = None
    async with asyncio.timeout(within):
        while True:
            last = await check()
            if last:
                return last
            await asyncio.sleep(interval)


async def pods_of(kube: Client, namespace: str = "default", selector: str | None = None) -> list[dict[str, Any]]:
    result = await kube.list(PODS, namespace=namespace, label_selector=selector)
    return result.get("items") or []


async def mark_ready(kube: Client, pod: dict[str, Any], ready: bool = True) -> None:
    """What a kubelet would report: Running, with the Ready condition."""
    status = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now_rfc3339()}]}
    await kube.patch_status(PODS, pod["metadata"]["name"], {"status": status},
                            namespace=pod["metadata"]["namespace"])


async def mark_all_ready(kube: Client, namespace: str = "default", selector: str | None = None) -> int:
    count = 0
    for pod in await pods_of(kube, namespace, selector):
        conditions = (pod.get("status") or {}).get("conditions") or []
        if pod["metadata"].get("deletionTimestamp"):
            continue
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            await mark_ready(kube, pod)
            count += 1
    return count


class FakeKubelet:
    """Marks every pod Running and Ready shortly after it appears (what kubelets would do),
    until stopped; ``paused`` holds pods unready."""

    def __init__(self, kube: Client, namespace: str = "default") -> None:
        self.kube = kube
        self.namespace = namespace
        self.paused = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FakeKubelet:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        from hyperkube.client import NotFound

        while True:
            if not self.paused:
                try:
                    await mark_all_ready(self.kube, self.namespace)
                except NotFound:
                    pass
            await asyncio.sleep(0.05)
