"""Readiness, liveness and startup probes decide readiness and restarts."""

from __future__ import annotations

import socket

from tests.kubelet._harness import get_pod, pod, python, wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _container(client, name):
    current = await get_pod(client, name)
    statuses = (current.get("status") or {}).get("containerStatuses") or []
    return statuses[0] if statuses else {}


async def test_readiness_follows_an_exec_probe(client, kubelet_factory, tmp_path):
    flag = tmp_path / "ready"
    await kubelet_factory()
    probe = {"exec": {"command": ["test", "-e", str(flag)]}, "periodSeconds": 1, "failureThreshold": 1}
    await client.create("v1/pods", pod("gated", python("main", "import time; time.sleep(600)", readinessProbe=probe),
                                       terminationGracePeriodSeconds=1))

    async def running_not_ready():
        status = await _container(client, "gated")
        return "running" in status.get("state", {}) and status.get("ready") is False

    await wait_for(running_not_ready)
    flag.write_text("")

    async def ready():
        current = await get_pod(client, "gated")
        conditions = {c["type"]: c["status"] for c in current["status"]["conditions"]}
        return conditions.get("Ready") == "True" and current["status"]["containerStatuses"][0]["ready"]

    await wait_for(ready)
    flag.unlink()
    await wait_for(lambda: _not_ready(client))


async def _not_ready(client):
    status = await _container(client, "gated")
    return status.get("ready") is False


async def test_http_and_tcp_probes_against_a_served_port(client, kubelet_factory):
    port = _free_port()
    await kubelet_factory()
    server = python("web", "import http.server, sys; http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, "
                           f"port={port}, bind='127.0.0.1')",
                    ports=[{"name": "http", "containerPort": port}],
                    readinessProbe={"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
                    livenessProbe={"tcpSocket": {"port": port}, "periodSeconds": 1})
    await client.create("v1/pods", pod("served", server, terminationGracePeriodSeconds=1))

    async def ready():
        status = await _container(client, "served")
        return status.get("ready") is True

    await wait_for(ready)
    assert (await _container(client, "served"))["restartCount"] == 0


async def test_failing_liveness_probe_restarts_the_container(client, kubelet_factory):
    await kubelet_factory(backoff_initial=0.5)
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2}
    await client.create("v1/pods", pod("sick", python("main", "import time; time.sleep(600)", livenessProbe=probe),
                                       terminationGracePeriodSeconds=1))

    async def restarted():
        status = await _container(client, "sick")
        return status if status.get("restartCount", 0) >= 1 else None

    status = await wait_for(restarted)
    assert status["lastState"]["terminated"]["exitCode"] == 143


async def test_startup_probe_holds_readiness_until_it_succeeds(client, kubelet_factory, tmp_path):
    flag = tmp_path / "booted"
    await kubelet_factory()
    probe = {"exec": {"command": ["test", "-e", str(flag)]}, "periodSeconds": 1, "failureThreshold": 30}
    await client.create("v1/pods", pod("booting", python("main", "import time; time.sleep(600)", startupProbe=probe),
                                       terminationGracePeriodSeconds=0))

    async def running_not_started():
        status = await _container(client, "booting")
        return "running" in status.get("state", {}) and status.get("started") is False and not status["ready"]

    await wait_for(running_not_started)
    flag.write_text("")

    async def started():
        status = await _container(client, "booting")
        return status.get("started") is True and status.get("ready") is True

    await wait_for(started)
