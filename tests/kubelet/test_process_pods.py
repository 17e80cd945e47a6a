"""Pods bound to the node run as real processes; their status and logs are what a user sees."""

from __future__ import annotations

import os

import aiohttp

from tests.kubelet._harness import get_pod, phase, pod, python, wait_for


async def test_pod_runs_as_a_process_and_succeeds_with_its_logs(client, kubelet_factory):
    kubelet = await kubelet_factory()
    await client.create("v1/pods", pod("hello", python("main", "import os; print('hello from', os.getpid(), flush=True); "
                                                               "import sys; print('oops', file=sys.stderr)"),
                                       restartPolicy="Never"))
    done = await wait_for(lambda: _phase_in(client, "hello", "Succeeded"))
    status = done["status"]
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"
    assert status["podIP"] == "127.0.0.1" and status["hostIP"] == "127.0.0.1"
    assert {c["type"]: c["status"] for c in status["conditions"]}["PodScheduled"] == "True"
    url = f"http://127.0.0.1:{kubelet.port}/containerLogs/default/hello/main"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            text = await response.text()
        assert response.status == 200
        assert text.startswith("hello from ") and "oops\n" in text
        async with session.get(url, params={"timestamps": "true", "tailLines": "1"}) as response:
            line = await response.text()
        assert line.count("\n") == 1 and line[:4].isdigit() and "T" in line.split(" ")[0]


async def _phase_in(client, name, *phases):
    current = await get_pod(client, name)
    return current if phase(current) in phases else None


async def test_failed_container_reports_its_exit_code(client, kubelet_factory):
    await kubelet_factory()
    await client.create("v1/pods", pod("boom", python("main", "raise SystemExit(3)"), restartPolicy="Never"))
    failed = await wait_for(lambda: _phase_in(client, "boom", "Failed"))
    terminated = failed["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3 and terminated["reason"] == "Error"


async def test_running_pod_is_ready_then_deletion_stops_the_process(client, kubelet_factory, tmp_path):
    marker = tmp_path / "pid"
    await kubelet_factory()
    code = f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    await client.create("v1/pods", pod("sleeper", python("main", code), terminationGracePeriodSeconds=5))
    running = await wait_for(lambda: _phase_in(client, "sleeper", "Running"))
    conditions = {c["type"]: c["status"] for c in running["status"]["conditions"]}
    assert conditions["Ready"] == "True" and conditions["ContainersReady"] == "True"
    assert running["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    pid = int(await wait_for(lambda: _read(marker)))
    os.kill(pid, 0)
    await client.delete("v1/pods", "sleeper", namespace="default")
    await wait_for(lambda: _gone(client, "sleeper"))
    assert not _alive(pid)


async def _read(path):
    return path.read_text() if path.exists() and path.read_text() else None


async def _gone(client, name):
    try:
        await get_pod(client, name)
    except Exception:  # noqa: BLE001
        return True
    return False


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


async def test_logs_are_rotated_by_size_and_previous_serves_the_last_attempt(client, kubelet_factory):
    import aiohttp

    kubelet = await kubelet_factory(container_log_max_bytes=2000, backoff_initial=0.2)
    code = "import sys\nfor i in range(200): print('line %03d' % i)\nsys.exit(1)"
    await client.create("v1/pods", pod("chatty", python("main", code), restartPolicy="OnFailure"))

    async def restarted():
        current = await get_pod(client, "chatty")
        statuses = (current.get("status") or {}).get("containerStatuses") or []
        return statuses and statuses[0]["restartCount"] >= 1

    await wait_for(restarted)
    url = f"http://127.0.0.1:{kubelet.port}/containerLogs/default/chatty/main"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params={"previous": "true"}) as response:
            text = await response.text()
        async with session.get(url, params={"previous": "true", "tailLines": "2"}) as response:
            tail = await response.text()
    lines = text.splitlines()
    assert lines[-1] == "line 199" and len(lines) < 200 and len(text) <= 4000  # older lines rotated away
    assert tail == "line 198\nline 199\n"


async def test_sigterm_to_the_shim_reaches_the_container(client, kubelet_factory, tmp_path):
    """What scripts/up does to stop a cluster's pods: SIGTERM to every shim."""
    import json
    import signal

    kubelet = await kubelet_factory()
    await client.create("v1/pods", pod("stoppable", python("main", "import time; time.sleep(600)"),
                                       restartPolicy="Never"))
    await wait_for(lambda: _phase_in(client, "stoppable", "Running"))
    state = next((tmp_path / "kubelet-node-1" / "pods").glob("*/containers/main/0/state.json"))
    os.kill(json.loads(state.read_text())["shimPid"], signal.SIGTERM)
    failed = await wait_for(lambda: _phase_in(client, "stoppable", "Failed"))
    assert failed["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 143
    assert kubelet.port
