"""Fixtures: a real API server in process, a hyperkube client to it, and a running proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hyperkube.client import Client, Config
from hyperkube.proxy.server import ProxyConfig, ProxyServer
from tests.apiserver._server import api, server  # noqa: F401
from tests.proxy._helpers import random_loopback


@pytest.fixture
async def proxy(server) -> AsyncIterator[ProxyServer]:  # noqa: F811
    client = Client(Config(server=server.url))
    instance = ProxyServer(client, ProxyConfig(hostname="node-a", bind_address=random_loopback(),
                                               healthz_bind_address="127.0.0.1:0", shutdown_grace=1.0,
                                               proxy_mode="userspace"))
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()
        await client.close()
