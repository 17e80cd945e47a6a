"""Fixtures for client tests: small aiohttp apps that answer as a Kubernetes API server would."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp import web

from hyperkube.client import AppTransport, Client, ConnectError, RetryPolicy


def status(code: int, reason: str, message: str, **details: Any) -> web.Response:
    """A Kubernetes Status failure, as the API server writes it."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return web.json_response(body, status=code)


def watch_lines(*events: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


class Cuttable(AppTransport):
    """A network link the test can cut: requests then fail as if the server were unreachable;
    :meth:`drop` breaks the open connections (and so any watch streaming over them)."""

    cut = False

    async def send(self, method: str, path: str, **kwargs: Any):
        if self.cut:
            raise ConnectError("network partition")
        return await super().send(method, path, **kwargs)

    async def drop(self) -> None:
        await self.reset()


class Sleeps(list):
    """Stands in for asyncio.sleep in RetryPolicy: records each wait instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def serve(sleeps):
    """``client = await serve(app)``: a Client talking HTTP to ``app`` on 127.0.0.1."""
    clients: list[Client] = []

    async def start(app: web.Application, **kwargs: Any) -> Client:
        kwargs.setdefault("retry", RetryPolicy(sleep=sleeps))
        client = Client(transport=AppTransport(app), **kwargs)
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()
