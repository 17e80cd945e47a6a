"""The real kubectl's ``port-forward`` (SPDY/3.1 inside a WebSocket) through the API server to a real
kubelet and a process pod serving HTTP."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import sys
import threading
import urllib.request

from tests.e2e._cluster import Cluster, stop
from tests.e2e.test_kubelet_e2e import kill_everything, start_kubelet, wait

SERVER = """
import hashlib, http.server, os
big = bytes(range(256)) * 4096 * 2  # 2 MiB
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = big if self.path == "/big" else b"hello from " + os.environ["HOSTNAME"].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", {port}), H).serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_kubectl_port_forward(cluster: Cluster, tmp_path):
    root = tmp_path / "root"
    pod_port = _free_port()
    kubelet = forward = None
    try:
        kubelet, _ = start_kubelet(cluster, root, "pf-node")
        manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pf-web"}, "spec": {
            "nodeName": "pf-node", "terminationGracePeriodSeconds": 1, "containers": [{
                "name": "web", "image": "python", "env": [{"name": "HOSTNAME", "value": "pf-web"}],
                "command": [sys.executable, "-c", SERVER.format(port=pod_port)],
                "ports": [{"containerPort": pod_port}],
                "readinessProbe": {"tcpSocket": {"port": pod_port}, "periodSeconds": 1}}]}}
        import json

        cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        wait(lambda: "true" in cluster.kubectl("get", "pod", "pf-web", "-o",
                                               "jsonpath={.status.containerStatuses[0].ready}").stdout)
        forward = cluster.kubectl_background("port-forward", "pod/pf-web", f":{pod_port}")
        assert forward.stdout is not None
        line = forward.stdout.readline()
        match = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) ->", line)
        assert match, line + (forward.stderr.read() if forward.poll() is not None and forward.stderr else "")
        local = int(match.group(1))
        for _ in range(3):  # a new SPDY stream pair per connection
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as response:
                assert response.read() == b"hello from pf-web"
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/big", timeout=30) as response:
            body = response.read()
        assert hashlib.sha256(body).hexdigest() == hashlib.sha256(bytes(range(256)) * 4096 * 2).hexdigest()
        results: list[bytes] = []

        def fetch() -> None:
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as response:
                results.append(response.read())

        threads = [threading.Thread(target=fetch) for _ in range(4)]  # concurrent connections
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert results == [b"hello from pf-web"] * 4
    finally:
        if forward is not None:
            stop(forward)
        kill_everything(kubelet, root)


def test_port_forward_to_a_closed_port_reports_the_error(cluster: Cluster, tmp_path):
    root = tmp_path / "root"
    kubelet = forward = None
    try:
        kubelet, _ = start_kubelet(cluster, root, "pf-node2")
        manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pf-idle"}, "spec": {
            "nodeName": "pf-node2", "terminationGracePeriodSeconds": 1, "containers": [{
                "name": "idle", "image": "python", "command": [sys.executable, "-c", "import time; time.sleep(600)"]}]}}
        import json

        cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        wait(lambda: cluster.kubectl("get", "pod", "pf-idle", "-o", "jsonpath={.status.phase}").stdout == "Running")
        closed = _free_port()
        forward = cluster.kubectl_background("port-forward", "pod/pf-idle", f":{closed}")
        assert forward.stdout is not None
        match = re.search(r"127\.0\.0\.1:(\d+)", forward.stdout.readline())
        assert match
        with socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=10) as sock:
            sock.settimeout(10)
            assert sock.recv(10) == b""  # the connection is closed, not hung
        stderr = _read_until(forward, "error forwarding port")
        assert f"error forwarding port {closed} to pod" in stderr
    finally:
        if forward is not None:
            stop(forward)
        kill_everything(kubelet, root)


def _read_until(process: subprocess.Popen, text: str) -> str:
    assert process.stderr is not None
    seen: list[str] = []
    done = threading.Event()

    def pump() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            seen.append(line)
            if text in line:
                done.set()
                return

    threading.Thread(target=pump, daemon=True).start()
    done.wait(15)
    return "".join(seen)
