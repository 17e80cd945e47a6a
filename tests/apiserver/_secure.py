"""An API server with its secure port on (generated PKI in a tmp dir), and HTTPS clients that
present a given identity: the fixtures of the TLS and authentication tests."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from hyperkube.apiserver.app import APIServer, APIServerConfig
from hyperkube.machinery import pki
from tests.apiserver._server import Client


def client_context(ca_file: str, identity: pki.CertKey | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if identity is not None:
        context.load_cert_chain(identity.cert, identity.key)
    return context


@asynccontextmanager
async def https_client(server: APIServer, identity: pki.CertKey | None = None, *, token: str | None = None,
                       context: ssl.SSLContext | None = None) -> AsyncIterator[Client]:
    """A JSON client of the secure port trusting the server's CA, presenting ``identity`` (a
    client certificate) and/or a bearer ``token``."""
    context = context or client_context(server.serving.client_ca_file or server.serving.cluster.ca.cert, identity)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context), headers=headers) as session:
        yield Client(session, server.secure_url)


async def whoami(client: Client) -> tuple[int, Any]:
    status, body = await client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                      {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    return status, (body.get("status") or {}).get("userInfo") if isinstance(body, dict) and status == 201 else body


@asynccontextmanager
async def secure_server(tmp_path, **config: Any) -> AsyncIterator[APIServer]:
    options: dict[str, Any] = {"port": None, "secure_port": 0, "data_dir": str(tmp_path)}
    options.update(config)
    instance = APIServer(APIServerConfig(**options))
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


@pytest.fixture
async def secure(tmp_path) -> AsyncIterator[APIServer]:
    async with secure_server(tmp_path) as instance:
        yield instance


@pytest.fixture
async def admin(secure: APIServer) -> AsyncIterator[Client]:
    async with https_client(secure, secure.serving.cluster.admin) as client:
        yield client
