"""restartPolicy with CrashLoopBackOff, init containers, bad commands and restart safety."""

from __future__ import annotations

from tests.kubelet._harness import PY, get_pod, phase, pod, python, wait_for
from tests.kubelet.test_process_pods import _alive, _gone, _phase_in, _read


async def test_restart_policy_always_restarts_with_backoff(client, kubelet_factory):
    await kubelet_factory(backoff_initial=1.0)
    await client.create("v1/pods", pod("crash", python("main", "print('bye', flush=True); raise SystemExit(1)")))
    seen_backoff: list[dict] = []

    async def restarted_in_backoff():
        current = await get_pod(client, "crash")
        statuses = (current.get("status") or {}).get("containerStatuses") or []
        if statuses and statuses[0]["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff":
            seen_backoff.append(statuses[0])
        return seen_backoff and statuses and statuses[0]["restartCount"] >= 2

    await wait_for(restarted_in_backoff)
    status = seen_backoff[-1]
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert "back-off" in status["state"]["waiting"]["message"]
    assert phase(await get_pod(client, "crash")) == "Running"


async def test_on_failure_stops_restarting_after_success(client, kubelet_factory, tmp_path):
    counter = tmp_path / "count"
    code = (f"import os; p={str(counter)!r}; n=int(open(p).read()) if os.path.exists(p) else 0; "
            f"open(p,'w').write(str(n+1)); raise SystemExit(0 if n >= 1 else 2)")
    await kubelet_factory(backoff_initial=0.2)
    await client.create("v1/pods", pod("flaky", python("main", code), restartPolicy="OnFailure"))
    done = await wait_for(lambda: _phase_in(client, "flaky", "Succeeded"))
    status = done["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1 and status["state"]["terminated"]["exitCode"] == 0
    assert counter.read_text() == "2"


async def test_init_containers_run_first_in_order(client, kubelet_factory, tmp_path):
    trace = tmp_path / "trace"
    def step(name):
        return python(name, f"open({str(trace)!r}, 'a').write('{name} ')")
    await kubelet_factory()
    await client.create("v1/pods", pod("ordered", step("main"), initContainers=[step("first"), step("second")],
                                       restartPolicy="Never"))
    done = await wait_for(lambda: _phase_in(client, "ordered", "Succeeded"))
    assert trace.read_text() == "first second main "
    assert [s["state"]["terminated"]["exitCode"] for s in done["status"]["initContainerStatuses"]] == [0, 0]
    conditions = {c["type"]: c["status"] for c in done["status"]["conditions"]}
    assert conditions["Initialized"] == "True"


async def test_missing_command_and_unknown_image_are_reported(client, kubelet_factory):
    await kubelet_factory()
    await client.create("v1/pods", pod("nocmd", {"name": "main", "image": "example.com/unknown:1"},
                                       {"name": "ghost", "image": "x", "command": ["/no/such/binary-here"]},
                                       restartPolicy="Never"))

    async def reported():
        current = await get_pod(client, "nocmd")
        statuses = {s["name"]: s for s in (current.get("status") or {}).get("containerStatuses") or []}
        main, ghost = statuses.get("main", {}), statuses.get("ghost", {})
        if main.get("state", {}).get("waiting", {}).get("reason") == "ImageMapMissing" and \
                "terminated" in ghost.get("state", {}):
            return main, ghost
        return None

    main, ghost = await wait_for(reported)
    assert "image map" in main["state"]["waiting"]["message"]
    terminated = ghost["state"]["terminated"]
    assert terminated["reason"] == "StartError" and "/no/such/binary-here" in terminated["message"]


async def test_restarted_kubelet_adopts_its_processes(client, kubelet_factory, tmp_path):
    marker = tmp_path / "pids"
    code = f"import os, time; open({str(marker)!r}, 'a').write(str(os.getpid()) + ' '); time.sleep(600)"
    root = str(tmp_path / "shared-root")
    first = await kubelet_factory(root_dir=root)
    await client.create("v1/pods", pod("steady", python("main", code), terminationGracePeriodSeconds=3))
    await wait_for(lambda: _phase_in(client, "steady", "Running"))
    pids = (await wait_for(lambda: _read(marker))).split()
    await first.stop()  # the processes keep running
    assert _alive(int(pids[0]))
    second = await kubelet_factory(root_dir=root)

    async def synced():  # the new kubelet has looked at the pod's containers
        return any(w.shown for w in second.workers.values())

    await wait_for(synced)
    again = await get_pod(client, "steady")
    assert again["status"]["containerStatuses"][0]["restartCount"] == 0
    assert marker.read_text().split() == pids  # no second process was started
    await client.delete("v1/pods", "steady", namespace="default")
    await wait_for(lambda: _gone(client, "steady"))
    assert not _alive(int(pids[0]))


async def test_lifecycle_hooks_run_after_start_and_before_stop(client, kubelet_factory, tmp_path):
    trace = tmp_path / "trace"
    await kubelet_factory()
    container = python("main", "import time; time.sleep(600)", lifecycle={
        "postStart": {"exec": {"command": ["sh", "-c", f"echo post-start >> {trace}"]}},
        "preStop": {"exec": {"command": ["sh", "-c", f"echo pre-stop >> {trace}"]}}})
    await client.create("v1/pods", pod("hooked", container, terminationGracePeriodSeconds=5))
    await wait_for(lambda: _phase_in(client, "hooked", "Running"))
    assert trace.read_text() == "post-start\n"
    await client.delete("v1/pods", "hooked", namespace="default")
    await wait_for(lambda: _gone(client, "hooked"))
    assert trace.read_text() == "post-start\npre-stop\n"


async def test_memory_limit_stops_a_container_that_exceeds_it(client, kubelet_factory):
    """As root with cgroups: OOMKilled (137); otherwise RLIMIT_DATA makes the allocation fail."""
    await kubelet_factory()
    hog = python("main", "x = bytearray(400 << 20); x[::4096] = b'x' * len(x[::4096]); print('survived')",
                 resources={"limits": {"memory": "64Mi", "cpu": "500m"}})
    await client.create("v1/pods", pod("hog", hog, restartPolicy="Never"))
    failed = await wait_for(lambda: _phase_in(client, "hog", "Failed"))
    terminated = failed["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] != 0
    if terminated["exitCode"] == 137:
        assert terminated["reason"] == "OOMKilled"


async def test_active_deadline_fails_the_pod(client, kubelet_factory):
    await kubelet_factory()
    await client.create("v1/pods", pod("late", python("main", "import time; time.sleep(600)"),
                                       activeDeadlineSeconds=1, terminationGracePeriodSeconds=1))
    failed = await wait_for(lambda: _phase_in(client, "late", "Failed"))
    assert failed["status"]["reason"] == "DeadlineExceeded"
    assert "terminated" in failed["status"]["containerStatuses"][0]["state"]


async def test_fallback_to_logs_on_error_is_the_termination_message(client, kubelet_factory):
    await kubelet_factory()
    code = "import sys; print('first'); print('last words', file=sys.stderr); sys.exit(2)"
    await client.create("v1/pods", pod("said", python("main", code, terminationMessagePolicy="FallbackToLogsOnError"),
                                       restartPolicy="Never"))
    failed = await wait_for(lambda: _phase_in(client, "said", "Failed"))
    message = failed["status"]["containerStatuses"][0]["state"]["terminated"]["message"]
    assert "last words" in message and "first" in message


async def test_changing_the_image_restarts_the_container(client, kubelet_factory):
    image_map = {"app:v1": {"command": [PY, "-c", "import time; print('v1', flush=True); time.sleep(600)"]},
                 "app:v2": {"command": [PY, "-c", "import time; print('v2', flush=True); time.sleep(600)"]}}
    await kubelet_factory(image_map=image_map)
    await client.create("v1/pods", pod("upgrade", {"name": "main", "image": "app:v1"}, terminationGracePeriodSeconds=1))
    await wait_for(lambda: _phase_in(client, "upgrade", "Running"))
    await client.patch("v1/pods", "upgrade", {"spec": {"containers": [{"name": "main", "image": "app:v2"}]}},
                       namespace="default", patch_type="strategic")

    async def upgraded():
        current = await get_pod(client, "upgrade")
        status = current["status"]["containerStatuses"][0]
        return status["restartCount"] == 1 and "running" in status["state"] and status

    status = await wait_for(upgraded)
    assert status["image"] == "app:v2"
