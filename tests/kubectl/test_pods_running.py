"""``logs`` and ``exec`` against a pod a real ``hyperkube kubelet`` runs as a process."""

from __future__ import annotations

import sys

import pytest

from tests.e2e.test_kubelet_e2e import kill_everything, start_kubelet, wait

POD = """apiVersion: v1
kind: Pod
metadata: {{name: talker}}
spec:
  nodeName: kubectl-node
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: python
    command: ["{python}", "-c", "import time\\nfor i in range(3): print('line', i, flush=True)\\ntime.sleep(600)"]
  - name: side
    image: python
    command: ["{python}", "-c", "import time\\nprint('side says hi', flush=True)\\ntime.sleep(600)"]
"""


@pytest.fixture(scope="module")
def running(k, tmp_path_factory):
    root = tmp_path_factory.mktemp("kubelet")
    process = None
    try:
        process, _ = start_kubelet(k.cluster, root, "kubectl-node")
        k.ok("apply", "-f", "-", input=POD.format(python=sys.executable))
        wait(lambda: k.ok("get", "pod", "talker", "-o", "jsonpath={.status.phase}") == "Running", 60)
        wait(lambda: k.ours("logs", "talker", "-c", "main").stdout.count("\n") == 3, 30)
        yield k
    finally:
        k.ours("delete", "pod", "talker", "--wait=false")
        kill_everything(process, root)


def test_logs_match_the_real_kubectl(running):
    for args in (["logs", "talker", "-c", "main"], ["logs", "talker", "-c", "main", "--tail=1"],
                 ["logs", "talker", "side"], ["logs", "pod/talker", "-c", "side"]):
        running.same(*args)
    defaulted = running.ours("logs", "talker")
    assert defaulted.stdout == "line 0\nline 1\nline 2\n"
    assert defaulted.stderr == running.theirs("logs", "talker").stderr
    prefixed = running.ok("logs", "talker", "--all-containers", "--prefix")
    assert "[pod/talker/side] side says hi\n" in prefixed and "[pod/talker/main] line 2\n" in prefixed


def test_exec_output_stdin_and_exit_code(running):
    out = running.ours("exec", "talker", "-c", "main", "--", sys.executable, "-c", "print('inside')")
    assert (out.returncode, out.stdout) == (0, "inside\n"), out.stderr
    echoed = running.ours("exec", "-i", "talker", "-c", "side", "--", sys.executable, "-c",
                          "import sys; print(sys.stdin.read().upper())", input="hello")
    assert echoed.stdout == "HELLO\n", echoed.stderr
    failed = running.ours("exec", "talker", "-c", "main", "--", sys.executable, "-c", "raise SystemExit(3)")
    theirs = running.theirs("exec", "talker", "-c", "main", "--", sys.executable, "-c", "raise SystemExit(3)")
    assert failed.returncode == theirs.returncode == 3
    assert failed.stderr == "command terminated with exit code 3\n"


def test_port_forward_reaches_a_server_in_the_pod(running, tmp_path):
    import socket
    import subprocess
    import urllib.request

    from tests.e2e.test_kubelet_e2e import wait as wait_for
    from tests.kubectl.conftest import HYPERKUBE

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "hello.txt").write_text("hello through the tunnel\n")
    running.ok("apply", "-f", "-", input=f"""apiVersion: v1
kind: Pod
metadata: {{name: server}}
spec:
  nodeName: kubectl-node
  terminationGracePeriodSeconds: 1
  containers:
  - name: http
    image: python
    command: ["{sys.executable}", "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", "{tmp_path}"]
""")
    wait_for(lambda: running.ok("get", "pod", "server", "-o", "jsonpath={.status.phase}") == "Running", 60)
    process = subprocess.Popen([str(HYPERKUBE), "kubectl", "port-forward", "pod/server", f":{port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=running.cluster.env())
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Forwarding from 127.0.0.1:") and line.endswith(f"-> {port}\n"), line
        local = line.split()[2].rsplit(":", 1)[1]

        def fetch():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{local}/hello.txt", timeout=5) as response:
                    return response.read()
            except OSError:
                return None
        assert wait_for(fetch, 20) == b"hello through the tunnel\n"
    finally:
        process.terminate()
        process.wait(10)
        running.ours("delete", "pod", "server", "--wait=false")
