"""A real API server in process, the hyperkube client on it, and kubelets that tests start.

Every kubelet a test starts is stopped with ``stop_pods=True`` at the end, which kills every
container process it started (and the shims)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from hyperkube.apiserver.app import APIServer, APIServerConfig
from hyperkube.client import Client, Config
from hyperkube.kubelet.kubelet import Kubelet, KubeletConfig

PY = sys.executable


@pytest.fixture
async def api(tmp_path) -> AsyncIterator[APIServer]:
    server = APIServer(APIServerConfig(port=0, data_dir=str(tmp_path / "api")))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def client(api: APIServer) -> AsyncIterator[Client]:
    async with Client(Config(server=api.url)) as c:
        yield c


@pytest.fixture
async def kubelet_factory(client: Client, tmp_path) -> AsyncIterator[Callable[..., Awaitable[Kubelet]]]:
    started: list[Kubelet] = []

    async def make(node: str = "node-1", **overrides: Any) -> Kubelet:
        settings: dict[str, Any] = dict(node_name=node, root_dir=str(tmp_path / f"kubelet-{node}"), port=0,
                                        backoff_initial=1.0, node_status_frequency=2.0)
        settings.update(overrides)
        kubelet = Kubelet(client, KubeletConfig(**settings))
        await kubelet.start()
        started.append(kubelet)
        return kubelet

    try:
        yield make
    finally:
        for kubelet in started:
            await kubelet.stop(stop_pods=True)


def pod(name: str, *containers: dict[str, Any], node: str = "node-1", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": list(containers), **spec}}


def python(name: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "python", "command": [PY, "-c", code], **extra}


async def wait_for(check: Callable[[], Awaitable[Any]], within: float = 30.0, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its last value."""
    last: Any = None
    async with asyncio.timeout(within):
        while True:
            try:
                last = await check()
            except Exception as error:  # noqa: BLE001 (not found yet, and the like)
                last = error
            if last and not isinstance(last, Exception):
                return last
            await asyncio.sleep(interval)


async def get_pod(client: Client, name: str, namespace: str = "default") -> dict[str, Any]:
    return await client.get("v1/pods", name, namespace=namespace)


def phase(p: dict[str, Any]) -> str:
    return (p.get("status") or {}).get("phase", "")
