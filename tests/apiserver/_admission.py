"""In-process API servers with a chosen admission plugin list, for the admission tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from hyperkube.apiserver import admission
from hyperkube.apiserver.app import APIServer, APIServerConfig
from tests.apiserver._server import Client

PODS = "/api/v1/namespaces/default/pods"


@contextlib.asynccontextmanager
async def serving(tmp_path: Any, **config: Any) -> AsyncIterator[tuple[APIServer, Client]]:
    instance = APIServer(APIServerConfig(port=0, data_dir=str(tmp_path), **config))
    await instance.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield instance, Client(session, instance.url)
    finally:
        await instance.stop()


@pytest.fixture
async def admitted(tmp_path: Any) -> AsyncIterator[Client]:
    """The plugins ``hyperkube apiserver`` runs by default."""
    async with serving(tmp_path, enable_admission_plugins=list(admission.DEFAULT_PLUGINS)) as (_, client):
        yield client
