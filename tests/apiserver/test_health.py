"""Health endpoints against a real aiohttp server, with one check that can be made to fail."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from hyperkube.apiserver import health


class Toggle:
    def __init__(self) -> None:
        self.healthy = True

    async def __call__(self) -> None:
        if not self.healthy:
            raise ConnectionError("store at /tmp/x unreachable")


@pytest.fixture
def etcd() -> Toggle:
    return Toggle()


@pytest.fixture
async def base_url(etcd: Toggle) -> AsyncIterator[str]:
    app = web.Application()

    async def informers() -> None:
        return None

    health.add_routes(app, {"etcd": etcd, "poststarthook/start-informers": informers})
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def fetch(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, resp.headers["Content-Type"], await resp.text()


@pytest.mark.parametrize("endpoint", ["healthz", "livez", "readyz"])
async def test_healthy(base_url: str, endpoint: str) -> None:
    status, content_type, body = await fetch(f"{base_url}/{endpoint}")
    assert (status, body) == (200, "ok") and content_type.startswith("text/plain")
    status, _, body = await fetch(f"{base_url}/{endpoint}?verbose")
    assert status == 200
    assert body == ("[+]ping ok\n[+]etcd ok\n[+]poststarthook/start-informers ok\n"
                    f"{endpoint} check passed\n")


async def test_failing_check_withholds_the_reason(base_url: str, etcd: Toggle) -> None:
    etcd.healthy = False
    for query in ("", "?verbose"):
        status, _, body = await fetch(f"{base_url}/readyz{query}")
        assert status == 500
        assert body == ("[+]ping ok\n[-]etcd failed: reason withheld\n[+]poststarthook/start-informers ok\n"
                        "readyz check failed\n")
        assert "unreachable" not in body
    status, _, body = await fetch(f"{base_url}/readyz/etcd")
    assert status == 500 and body.startswith("internal server error")
    status, _, body = await fetch(f"{base_url}/readyz/ping")
    assert (status, body) == (200, "ok")
    etcd.healthy = True
    assert (await fetch(f"{base_url}/readyz/etcd"))[0] == 200


async def test_exclude_and_per_check_paths(base_url: str, etcd: Toggle) -> None:
    etcd.healthy = False
    status, _, body = await fetch(f"{base_url}/livez?verbose&exclude=etcd")
    assert status == 200
    assert "[+]etcd excluded: ok" in body and body.endswith("livez check passed\n")
    status, _, body = await fetch(f"{base_url}/healthz/poststarthook/start-informers")
    assert (status, body) == (200, "ok")
    status, _, _ = await fetch(f"{base_url}/healthz/nope")
    assert status == 404
