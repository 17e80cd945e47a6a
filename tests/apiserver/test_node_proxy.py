"""pods/log, exec, attach, portforward and nodes/pods/services proxy, through the API server
to a small app playing the kubelet (tests/apiserver/_kubelet.py)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.apiserver import _kubelet
from tests.apiserver._server import pod

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
async def kubelet():
    application = _kubelet.app()
    application["release"] = asyncio.Event()
    runner, port = await _kubelet.start(application)
    try:
        yield application, port
    finally:
        application["release"].set()
        await runner.cleanup()


async def bound_pod(client, name: str, node: str = "n1", phase: str = "Running", containers=("c",)) -> dict:
    body = pod(name, {"app": name})
    body["spec"]["containers"] = [{"name": c, "image": "busybox", "ports": [{"containerPort": 8080}]}
                                  for c in containers]
    body["spec"]["nodeName"] = node
    status, created = await client.post(PODS, body)
    assert status == 201, created
    created["status"] = {"phase": phase, "podIP": "127.0.0.1"}
    status, out = await client.put(f"{PODS}/{name}/status", created)
    assert status == 200, out
    return out


@pytest.fixture
async def node(client, kubelet):
    status, out = await client.post("/api/v1/nodes", _kubelet.node("n1", kubelet[1]))
    assert status == 201, out
    # nodes keep the status they are created with, as in Kubernetes; make sure of it
    out["status"] = _kubelet.node("n1", kubelet[1])["status"]
    status, out = await client.put("/api/v1/nodes/n1/status", out)
    assert status == 200, out
    return out


async def test_logs_are_proxied_with_their_options(client, node):
    await bound_pod(client, "web")
    status, text = await client.get(f"{PODS}/web/log?tailLines=5&timestamps=true&sinceSeconds=60&previous=false")
    assert status == 200
    assert text == 'log of default/web/c {"sinceSeconds": "60", "tailLines": "5", "timestamps": "true"}\n'

    status, out = await client.get(f"{PODS}/web/log?container=nope")
    assert status == 400 and out["message"] == "container nope is not valid for pod web"
    status, out = await client.get(f"{PODS}/web/log?tailLines=x")
    assert status == 400
    status, out = await client.get(f"{PODS}/ghost/log")
    assert status == 404

    await bound_pod(client, "two", containers=("a", "b"))
    status, out = await client.get(f"{PODS}/two/log")
    assert status == 400 and out["message"] == "a container name must be specified for pod two, choose one of: [a b]"
    status, text = await client.get(f"{PODS}/two/log?container=b")
    assert status == 200 and text.startswith("log of default/two/b")


async def test_follow_streams_lines_as_they_come(client, node, kubelet):
    await bound_pod(client, "tail")
    async with client.session.get(client.url + f"{PODS}/tail/log?follow=true") as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        seen = b""
        while b"line 2\n" not in seen:  # all three lines arrive while the kubelet holds the stream open
            seen += await asyncio.wait_for(response.content.readany(), 10)
        kubelet[0]["release"].set()
        seen += await response.content.read()
    assert seen.decode().splitlines()[1:] == ["line 0", "line 1", "line 2"]


async def test_unscheduled_pods_and_unknown_nodes(client, node):
    await client.post(PODS, pod("floating"))
    status, out = await client.get(f"{PODS}/floating/log")
    assert status == 400 and out["message"] == "pod floating does not have a host assigned"
    await bound_pod(client, "lost", node="n-missing")
    status, out = await client.get(f"{PODS}/lost/log")
    assert status == 404 and out["message"] == 'nodes "n-missing" not found'
    await client.post("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "dark"},
                                        "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                                                   "daemonEndpoints": {"kubeletEndpoint": {"Port": 1}}}})
    await bound_pod(client, "unreachable", node="dark")
    status, out = await client.get(f"{PODS}/unreachable/log")
    assert status == 503 and "error trying to reach" in out["message"]


async def exec_frames(ws: aiohttp.ClientWebSocketResponse) -> list[bytes]:
    frames = []
    async for message in ws:
        frames.append(message.data)
    return frames


async def test_exec_carries_the_channel_protocol_both_ways(client, node):
    await bound_pod(client, "sh")
    url = client.url + f"{PODS}/sh/exec?command=sh&command=-c&command=cat&container=c&stdin=true&stdout=true" \
                       "&stderr=true"
    async with client.session.ws_connect(url, protocols=("v5.channel.k8s.io", "v4.channel.k8s.io")) as ws:
        assert ws.protocol == "v5.channel.k8s.io"
        first = await ws.receive_bytes()
        said = json.loads(first[1:])
        assert said["path"] == "exec" and said["pod"] == "default/sh/c"
        assert said["command"] == ["sh", "-c", "cat"]
        assert said["flags"] == {"input": "1", "output": "1", "error": "1"}
        assert said["protocol"] == "v5.channel.k8s.io"
        assert await ws.receive_bytes() == b"\x02to stderr\n"
        await ws.send_bytes(b"\x00hello\n")
        assert await ws.receive_bytes() == b"\x01HELLO\n"
        await ws.send_bytes(b"\xff\x00")  # v5: stdin closed
        rest = await exec_frames(ws)
    assert rest == [_kubelet.SUCCESS]


async def test_exec_exit_code_attach_and_v4(client, node):
    await bound_pod(client, "job")
    url = client.url + f"{PODS}/job/exec?command=exit&command=3&stdout=true&tty=true"
    async with client.session.ws_connect(url, protocols=("v4.channel.k8s.io",)) as ws:
        assert ws.protocol == "v4.channel.k8s.io"
        frames = await exec_frames(ws)
    said = json.loads(frames[0][1:])
    assert said["flags"] == {"output": "1", "tty": "1"}
    status = json.loads(frames[-1][1:])
    assert status["reason"] == "NonZeroExitCode" and status["details"]["causes"][0]["message"] == "3"

    url = client.url + f"{PODS}/job/attach?container=c&stdout=true&stderr=true"
    async with client.session.ws_connect(url, protocols=("v5.channel.k8s.io",)) as ws:
        frames = await exec_frames(ws)
    assert json.loads(frames[0][1:])["path"] == "attach"
    assert frames[-1] == _kubelet.SUCCESS

    # no upgrade, no streams, no command, a finished pod: refused before any proxying
    status, out = await client.get(f"{PODS}/job/exec?command=ls&stdout=true")
    assert status == 400 and out["message"] == "Upgrade request required"
    status, out = await client.post(f"{PODS}/job/exec?command=ls")
    assert status == 400
    status, out = await client.post(f"{PODS}/job/exec?command=ls&stdout=true",
                                    headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1"})
    assert status == 400 and "not Upgrade: SPDY/3.1" in out["message"]
    await bound_pod(client, "done", phase="Succeeded")
    status, out = await client.get(f"{PODS}/done/exec?command=ls&stdout=true")
    assert status == 400 and "completed pod" in out["message"]


async def test_portforward_passes_the_protocol_and_ports(client, node):
    await bound_pod(client, "pf")
    url = client.url + f"{PODS}/pf/portforward?ports=8080"
    async with client.session.ws_connect(url, protocols=("portforward.k8s.io",)) as ws:
        assert ws.protocol == "portforward.k8s.io"
        assert await ws.receive_str() == "ports=8080"
        await ws.send_bytes(b"\x00data")
        assert await ws.receive_bytes() == b"echo:\x00data"
    await bound_pod(client, "waiting", phase="Pending")
    status, out = await client.get(f"{PODS}/waiting/portforward?ports=80")
    assert status == 400


async def test_node_pod_and_service_proxy(client, node, kubelet):
    port = kubelet[1]
    status, text = await client.get("/api/v1/nodes/n1/proxy/healthz")
    assert status == 200 and text == "ok"
    status, out = await client.request("POST", "/api/v1/nodes/n1/proxy/echo/a%20b?x=1&x=2", raw=b"payload",
                                       headers={"X-Test": "kept", "Content-Type": "text/plain"})
    assert status == 202
    assert out == {"method": "POST", "path": "/echo/a b", "query": {"x": "1"}, "body": "payload", "header": "kept"}
    status, out = await client.get("/api/v1/nodes/nope/proxy/healthz")
    assert status == 404

    await bound_pod(client, "backend")
    status, out = await client.get(f"{PODS}/backend:{port}/proxy/echo/p?q=1")
    assert status == 202 and out["path"] == "/echo/p" and out["query"] == {"q": "1"}

    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
               "spec": {"selector": {"app": "backend"}, "ports": [{"name": "http", "port": 80, "targetPort": port}]}}
    status, out = await client.post("/api/v1/namespaces/default/services", service)
    assert status == 201, out
    status, out = await client.get("/api/v1/namespaces/default/services/svc/proxy/echo/s")
    assert status == 503 and "no endpoints available" in out["message"]
    endpoint_slice = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                      "metadata": {"name": "svc-1", "labels": {"kubernetes.io/service-name": "svc"}},
                      "addressType": "IPv4", "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
                      "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]}
    status, out = await client.post("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", endpoint_slice)
    assert status == 201, out
    # a loopback address is proxied only as the IP of the pod the endpoint names, so a
    # hand-written endpoint can't point the API server at its own ports
    status, out = await client.get("/api/v1/namespaces/default/services/svc/proxy/echo/s")
    assert status == 503 and "no endpoints available" in out["message"]
    endpoint_slice["endpoints"][0]["targetRef"] = {"kind": "Pod", "name": "backend", "namespace": "default"}
    status, out = await client.put("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/svc-1",
                                   endpoint_slice)
    assert status == 200, out
    for name in ("svc", "svc:http", "svc:80", "http:svc:http"):
        status, out = await client.get(f"/api/v1/namespaces/default/services/{name}/proxy/echo/s?k=v")
        assert status == 202 and out["path"] == "/echo/s" and out["query"] == {"k": "v"}, (name, out)
    status, out = await client.get("/api/v1/namespaces/default/services/svc:nope/proxy/")
    assert status == 503
    for bad in ("backend:80@169.254.169.254", "backend:99999", "backend:x"):  # only a port number goes in a URL
        status, out = await client.get(f"{PODS}/{bad}/proxy/")
        assert status == 400 and "invalid port" in out["message"], (bad, out)
