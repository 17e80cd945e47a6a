"""Node registration and heartbeat, hollow (fake runtime) nodes, and the kubelet's HTTP server."""

from __future__ import annotations

import json

import aiohttp

from tests.kubelet._harness import get_pod, phase, pod, python, wait_for
from tests.kubelet.test_process_pods import _phase_in


async def test_node_registers_with_host_capacity_conditions_and_a_lease(client, kubelet_factory):
    kubelet = await kubelet_factory("worker-a", node_labels={"tier": "edge"}, max_pods=42,
                                    taints=[{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])

    async def reported():
        node = await client.get("v1/nodes", "worker-a")
        return node if (node.get("status") or {}).get("conditions") else None

    node = await wait_for(reported)
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "worker-a" and labels["kubernetes.io/os"] == "linux"
    assert labels["tier"] == "edge" and "kubernetes.io/arch" in labels
    assert node["spec"]["taints"] == [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]
    status = node["status"]
    assert set(status["capacity"]) >= {"cpu", "memory", "pods", "ephemeral-storage"}
    assert status["capacity"]["pods"] == "42" and int(status["capacity"]["cpu"]) >= 1
    assert status["allocatable"]["memory"].endswith("Ki")
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Ready"] == "True"
    assert {"MemoryPressure", "DiskPressure", "PIDPressure"} <= set(conditions)
    assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == kubelet.port
    assert status["nodeInfo"]["containerRuntimeVersion"].startswith("process://")
    lease = await wait_for(lambda: client.get("coordination.k8s.io/v1/leases", "worker-a",
                                              namespace="kube-node-lease"))
    assert lease["spec"]["holderIdentity"] == "worker-a" and lease["spec"]["renewTime"]


async def test_fake_runtime_reports_pods_running_without_processes(client, kubelet_factory):
    await kubelet_factory("hollow-0", runtime="fake")
    await client.create("v1/pods", pod("ghost", {"name": "c", "image": "nginx"}, node="hollow-0"))
    running = await wait_for(lambda: _phase_in(client, "ghost", "Running"))
    status = running["status"]["containerStatuses"][0]
    assert status["ready"] is True and status["containerID"].startswith("fake://")
    await client.delete("v1/pods", "ghost", namespace="default")

    async def gone():
        try:
            await get_pod(client, "ghost")
        except Exception:  # noqa: BLE001
            return True
        return False

    await wait_for(gone)


async def test_pod_that_does_not_fit_is_rejected(client, kubelet_factory):
    await kubelet_factory()
    huge = python("main", "pass", resources={"requests": {"cpu": "100000"}})
    await client.create("v1/pods", pod("huge", huge))
    failed = await wait_for(lambda: _phase_in(client, "huge", "Failed"))
    assert failed["status"]["reason"] == "OutOfcpu" and "cpu" in failed["status"]["message"]


async def test_server_healthz_pods_logs_follow_and_exec(client, kubelet_factory):
    kubelet = await kubelet_factory(read_only_port=0)
    code = "import time\nfor i in range(3):\n    print('line', i, flush=True); time.sleep(0.2)"
    await client.create("v1/pods", pod("talk", python("main", code, env=[{"name": "GREETING", "value": "hi"}]),
                                       restartPolicy="Never"))
    await wait_for(lambda: _phase_in(client, "talk", "Running", "Succeeded"))
    base = f"http://127.0.0.1:{kubelet.port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/healthz") as response:
            assert await response.text() == "ok"
        async with session.get(f"http://127.0.0.1:{kubelet.server.read_only_port}/pods") as response:
            names = [p["metadata"]["name"] for p in (await response.json())["items"]]
        assert names == ["talk"]
        async with session.get(base + "/containerLogs/default/talk/main", params={"follow": "true"}) as response:
            followed = await response.text()
        assert followed == "line 0\nline 1\nline 2\n"
        async with session.get(base + "/containerLogs/default/talk/main", params={"limitBytes": "4"}) as response:
            assert await response.text() == "line"
        async with session.get(base + "/containerLogs/default/nope/main") as response:
            assert response.status == 404
        await wait_for(lambda: _phase_in(client, "talk", "Succeeded"))
        frames = await _exec(session, base + "/exec/default/talk/main",
                             ["sh", "-c", "echo $GREETING; echo err >&2; exit 3"])
        assert frames[1] == b"hi\n" and frames[2] == b"err\n"
        status = json.loads(frames[3])
        assert status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"][0]["message"] == "3"
        frames = await _exec(session, base + "/exec/default/talk/main", ["cat"], stdin=b"echoed")
        assert frames[1] == b"echoed" and json.loads(frames[3])["status"] == "Success"
    assert phase(await get_pod(client, "talk")) == "Succeeded"


async def _exec(session, url, command, stdin: bytes | None = None) -> dict[int, bytes]:
    params = [("command", c) for c in command] + [("stdout", "true"), ("stderr", "true")]
    if stdin is not None:
        params.append(("stdin", "true"))
    frames: dict[int, bytes] = {}
    async with session.ws_connect(url, params=params, protocols=("v5.channel.k8s.io",)) as ws:
        assert ws.protocol == "v5.channel.k8s.io"
        if stdin is not None:
            await ws.send_bytes(b"\x00" + stdin)
            await ws.send_bytes(b"\xff\x00")
        async for message in ws:
            if message.type != aiohttp.WSMsgType.BINARY:
                break
            frames[message.data[0]] = frames.get(message.data[0], b"") + message.data[1:]
            if message.data[0] == 3:
                break
    return frames


async def test_attach_streams_the_output_from_now_until_the_container_ends(client, kubelet_factory, tmp_path):
    go = tmp_path / "go"
    kubelet = await kubelet_factory()
    code = (f"import os, sys, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.05)\n"
            "print('out', flush=True); print('err', file=sys.stderr, flush=True); sys.exit(4)")
    await client.create("v1/pods", pod("attached", python("main", code), restartPolicy="Never"))
    await wait_for(lambda: _phase_in(client, "attached", "Running"))
    frames: dict[int, bytes] = {}
    async with aiohttp.ClientSession() as session, session.ws_connect(
            f"http://127.0.0.1:{kubelet.port}/attach/default/attached/main", params={"output": "1", "error": "1"},
            protocols=("v5.channel.k8s.io",)) as ws:
        go.write_text("")
        async for message in ws:
            if message.type != aiohttp.WSMsgType.BINARY:
                break
            frames[message.data[0]] = frames.get(message.data[0], b"") + message.data[1:]
            if message.data[0] == 3:
                break
    assert frames[1] == b"out\n" and frames[2] == b"err\n"
    assert json.loads(frames[3])["details"]["causes"][0]["message"] == "4"


async def test_stats_summary_and_metrics(client, kubelet_factory):
    kubelet = await kubelet_factory()
    code = "x = bytearray(30 << 20)\nimport time\nwhile True: sum(range(10000)); time.sleep(0.01)"
    await client.create("v1/pods", pod("busy", python("main", code), terminationGracePeriodSeconds=0))
    await wait_for(lambda: _phase_in(client, "busy", "Running"))
    base = f"http://127.0.0.1:{kubelet.port}"
    async with aiohttp.ClientSession() as session:
        async def sampled():
            async with session.get(base + "/stats/summary") as response:
                summary = await response.json()
            pods = summary["pods"]
            return pods and pods[0]["containers"] and "usageNanoCores" in pods[0]["containers"][0]["cpu"] and summary

        summary = await wait_for(sampled)
        container = summary["pods"][0]["containers"][0]
        assert summary["pods"][0]["podRef"]["name"] == "busy"
        assert container["memory"]["workingSetBytes"] > 30 << 20
        assert container["cpu"]["usageCoreNanoSeconds"] > 0
        assert summary["node"]["nodeName"] == "node-1" and summary["node"]["memory"]["availableBytes"] > 0
        async with session.get(base + "/metrics") as response:
            text = await response.text()
        assert "kubelet_running_pods 1" in text and 'kubelet_node_name{node="node-1"} 1' in text


async def test_port_forward_over_websocket(client, kubelet_factory):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubelet = await kubelet_factory()
    code = ("import socket\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('127.0.0.1', {port})); s.listen()\n"
            "while True:\n    c, _ = s.accept(); c.sendall(b'echo:' + c.recv(100)); c.close()")
    await client.create("v1/pods", pod("echo", python("main", code), terminationGracePeriodSeconds=0))
    await wait_for(lambda: _phase_in(client, "echo", "Running"))

    async def listening():
        import asyncio
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    await wait_for(listening)
    async with aiohttp.ClientSession() as session, session.ws_connect(
            f"http://127.0.0.1:{kubelet.port}/portForward/default/echo", params={"ports": str(port)},
            protocols=("v4.channel.k8s.io",)) as ws:
        first = [await ws.receive_bytes(), await ws.receive_bytes()]
        assert sorted(f[0] for f in first) == [0, 1]
        assert all(int.from_bytes(f[1:3], "little") == port for f in first)
        await ws.send_bytes(b"\x00ping")
        data = b""
        while not data.endswith(b"ping"):
            frame = await ws.receive_bytes()
            assert frame[0] == 0
            data += frame[1:]
    assert data == b"echo:ping"


async def test_exec_with_a_tty(client, kubelet_factory):
    kubelet = await kubelet_factory()
    await client.create("v1/pods", pod("terminal", python("main", "import time; time.sleep(600)"),
                                       terminationGracePeriodSeconds=0))
    await wait_for(lambda: _phase_in(client, "terminal", "Running"))
    params = [("command", "sh"), ("command", "-c"), ("command", "test -t 0 && read line && stty size && echo got $line"),
              ("stdin", "true"), ("stdout", "true"), ("tty", "true")]
    output = b""
    async with aiohttp.ClientSession() as session, session.ws_connect(
            f"http://127.0.0.1:{kubelet.port}/exec/default/terminal/main", params=params,
            protocols=("v5.channel.k8s.io",)) as ws:
        await ws.send_bytes(b"\x04" + json.dumps({"Width": 100, "Height": 40}).encode())
        await ws.send_bytes(b"\x00hello\r")
        async for message in ws:
            if message.data[0] == 3:
                status = json.loads(message.data[1:])
                break
            output += message.data[1:]
    assert status["status"] == "Success"
    assert b"40 100" in output and b"got hello" in output


async def test_exec_on_a_hollow_node_fails_clearly(client, kubelet_factory):
    kubelet = await kubelet_factory("hollow-x", runtime="fake")
    await client.create("v1/pods", pod("shell", {"name": "c", "image": "busybox"}, node="hollow-x"))
    await wait_for(lambda: _phase_in(client, "shell", "Running"))
    async with aiohttp.ClientSession() as session:
        frames = await _exec(session, f"http://127.0.0.1:{kubelet.port}/exec/default/shell/c", ["true"])
    assert "hollow node" in json.loads(frames[3])["message"] and 1 not in frames
