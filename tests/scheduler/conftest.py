"""A real in-process API server, a hyperkube Client to it over HTTP, and schedulers built on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from hyperkube.apiserver.app import APIServer
from hyperkube.client import Client, Config
from hyperkube.scheduler import Scheduler, SchedulerConfig
from tests.apiserver._server import server  # noqa: F401  (the shared in-process API server)


@pytest.fixture
async def client(server: APIServer) -> AsyncIterator[Client]:  # noqa: F811 (the fixture)
    async with Client(Config(server=server.url)) as instance:
        yield instance


@pytest.fixture
async def start_scheduler(client: Client) -> AsyncIterator[Callable[..., Any]]:
    """``await start_scheduler(policy=..., backoff_initial=...)`` -> a running Scheduler."""
    running: list[Scheduler] = []

    async def start(**settings: Any) -> Scheduler:
        scheduler = Scheduler(client, SchedulerConfig(**settings))
        await scheduler.start()
        running.append(scheduler)
        return scheduler

    yield start
    for scheduler in running:
        await scheduler.stop()


async def eventually(check: Callable[[], Any], within: float = 15.0, interval: float = 0.05) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(interval)
