"""Self-hosting: one kubelet and the shipped manifests/ bring a whole cluster up from nothing.

The top-level manifests are copied as they are, except for the two ports a shared machine
cannot give every test (the API server's 8080, the proxy's healthz 10256): those become an
ephemeral port and 0. ``$(HOME)`` in the API server's --data-dir is the kubelet's HOME, the
test's tmp dir. The kubelet starts the API server pod while nothing answers, registers, mirrors
the four static pods into kube-system, and a Deployment created with the real kubectl is
scheduled by the static scheduler pod and run.

The kubelet leaves its pods running when it stops (a restarted kubelet adopts them), so the
test ends them itself: every container shim the kubelet's state dir names, by process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from hyperkube.kubelet.process_runtime import _proc_start_time  # how the kubelet itself tells a live shim
from tests.e2e._cluster import KUBECTL, stop, write_kubeconfig

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")
NODE = "selfhosted-node"
SCRIPT = "import time\nprint('hello from a self-hosted cluster', flush=True)\ntime.sleep(600)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def _copy_manifests(target: Path, port: int) -> None:
    target.mkdir()
    for source in sorted(MANIFESTS.glob("*.yaml")):
        text = source.read_text().replace("8080", str(port)).replace("127.0.0.1:10256", "127.0.0.1:0") \
            .replace("--secure-port=6443", "--secure-port=0")
        (target / source.name).write_text(text)


def _shims(root: Path) -> list[tuple[int, str]]:
    found = []
    for state in root.glob("pods/*/containers/*/*/state.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            record = json.loads(state.read_text())
            found.append((int(record["shimPid"]), str(record["shimStart"])))
    return found


def _end_pods(root: Path) -> None:
    """SIGTERM, then SIGKILL, to the process group of every live shim the kubelet started."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        alive = [pid for pid, start in _shims(root) if _proc_start_time(pid) == start]
        for pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in alive if _proc_start_time(pid) is not None]
            time.sleep(0.1)


def test_a_kubelet_and_manifests_bring_up_a_cluster_that_runs_a_deployment(tmp_path):
    port = _free_port()
    manifests = tmp_path / "manifests"
    _copy_manifests(manifests, port)
    root = tmp_path / "kubelet"
    env = {**os.environ, "HOME": str(tmp_path)}
    kubelet = subprocess.Popen(
        [sys.executable, "-m", "hyperkube", "kubelet", "--pod-manifest-path", str(manifests), "--api-servers",
         f"http://127.0.0.1:{port}", "--port", "0", "--root-dir", str(root), "--hostname-override", NODE],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(kubelet.stderr), daemon=True).start()  # type: ignore[arg-type]
    write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    kubectl_env = {**env, "KUBECONFIG": str(tmp_path / "kubeconfig"), "KUBECACHEDIR": str(tmp_path / "cache")}

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, env=kubectl_env, timeout=60)

    def wait_for(what: str, predicate, timeout: float = 90):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                state = [kubectl("get", "all", "-A", "-o", "wide").stdout] + [kubectl(
                    "logs", "-n", "kube-system", f"{c}-{NODE}", "--tail=15").stdout for c in COMPONENTS[1:]]
                raise AssertionError(f"timed out waiting for {what}\n" + "".join(log[-40:]) + "\n".join(state))
            time.sleep(0.3)

    def pods(namespace: str) -> dict[str, dict]:
        result = kubectl("get", "pods", "-n", namespace, "-o", "json")
        return {p["metadata"]["name"]: p for p in json.loads(result.stdout)["items"]} if result.returncode == 0 else {}

    try:
        wait_for("the node Ready", lambda: kubectl(
            "get", "node", NODE, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}").stdout == "True")
        mirrors = wait_for("the four control-plane pods Ready", lambda: (lambda found: found if all(
            _ready(found.get(f"{c}-{NODE}", {})) for c in COMPONENTS) else None)(pods("kube-system")))
        for component in COMPONENTS:
            mirror = mirrors[f"{component}-{NODE}"]
            assert "kubernetes.io/config.mirror" in mirror["metadata"]["annotations"]
            assert mirror["spec"]["containers"][0]["image"] == "hyperkube"
            assert mirror["status"]["containerStatuses"][0]["restartCount"] == 0
        served = kubectl("logs", "-n", "kube-system", f"kube-apiserver-{NODE}").stdout
        assert f"127.0.0.1:{port}" in served, served

        created = kubectl("create", "deployment", "hello", "--image=python", "--", sys.executable, "-c", SCRIPT)
        assert created.returncode == 0, created.stderr
        pod = wait_for("the Deployment's pod Ready", lambda: next((
            p for p in pods("default").values() if p["metadata"]["name"].startswith("hello-") and _ready(p)), None))
        assert pod["spec"]["nodeName"] == NODE  # bound by the scheduler pod
        logs = wait_for("its log", lambda: kubectl("logs", pod["metadata"]["name"]).stdout)
        assert "hello from a self-hosted cluster" in logs
    finally:
        stop(kubelet)
        _end_pods(root)
    assert kubelet.returncode in (0, -15), "".join(log[-40:])
    assert not [pid for pid, start in _shims(root) if _proc_start_time(pid) == start]
