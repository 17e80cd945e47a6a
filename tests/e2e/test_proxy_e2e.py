"""``hyperkube proxy`` as a process, in front of real pods on three real kubelets.

Three ``hyperkube kubelet`` processes with node IPs 127.0.0.2, .3 and .4 each run one process
pod: an HTTP server that binds ``$(POD_IP)`` (downward API) and answers with its pod name. One
NodePort Service selects them. The endpoints controller is not part of this test, so the test
writes the EndpointSlice from the pods' status, as that controller would. The proxy binds its
NodePorts on 127.0.0.2 (node-a's address).
"""

from __future__ import annotations

import json
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from tests.e2e._cluster import Cluster, assert_not_refused, start_process
from tests.e2e.test_kubelet_e2e import kill_everything, start_kubelet, wait

SERVER = """
import http.server, os
name = os.environ["POD_NAME"].encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", str(len(name))); self.end_headers()
        self.wfile.write(name)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((os.environ["POD_IP"], int(os.environ["PORT"])), H).serve_forever()
"""


def pod(name: str, node: str, port: int) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 2, "containers": [{
                "name": "http", "image": "python", "command": [sys.executable, "-c", SERVER],
                "ports": [{"containerPort": port}],
                "env": [{"name": "PORT", "value": str(port)},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]}}


def endpoint_slice(cluster: Cluster, port: int, names: list[str]) -> dict:
    endpoints = []
    for name in names:
        status = json.loads(cluster.kubectl("get", "pod", name, "-o", "json").stdout)["status"]
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        endpoints.append({"addresses": [status["podIP"]], "conditions": {"ready": ready},
                          "targetRef": {"kind": "Pod", "name": name, "namespace": "default"}})
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
            "endpoints": endpoints, "ports": [{"name": "", "port": port, "protocol": "TCP"}]}


def start_proxy(cluster: Cluster, *extra: str) -> tuple[subprocess.Popen, int, list[str]]:
    command = [sys.executable, "-m", "hyperkube", "proxy", "--kubeconfig", str(cluster.kubeconfig_for("proxy")),
               "--hostname-override", "node-a", "--bind-address", "127.0.0.2",
               "--healthz-bind-address", "127.0.0.1:0", "--shutdown-grace", "2", "--proxy-mode", "userspace", *extra]
    return start_process(command, r"healthz and metrics serving on [\d.]+:(\d+)", "proxy")


def fetch(host: str, port: int) -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/", timeout=5) as response:
        return response.read().decode()


def refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_proxy_process_balances_real_pods_on_three_kubelets(cluster: Cluster, tmp_path):
    nodes = {"node-a": "127.0.0.2", "node-b": "127.0.0.3", "node-c": "127.0.0.4"}
    pod_port, svc_port = random.randint(20000, 29999), random.randint(30000, 39999)
    kubelets: list = []
    proxy = None
    try:
        for node, ip in nodes.items():
            kubelets.append((start_kubelet(cluster, tmp_path / node, node, "--node-ip", ip)[0], tmp_path / node))
        names = [f"web-{n[-1]}" for n in nodes]
        for name, node in zip(names, nodes, strict=True):
            cluster.kubectl("apply", "-f", "-", input=json.dumps(pod(name, node, pod_port)))
        for name in names:
            wait(lambda n=name: cluster.kubectl("get", "pod", n, "-o", "jsonpath={.status.phase}").stdout == "Running")
        for name, ip in zip(names, nodes.values(), strict=True):
            assert wait(lambda i=ip, n=name: _try(lambda: fetch(i, pod_port))) == name  # the pod serves its IP
        cluster.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"type": "NodePort", "selector": {"app": "web"},
                     "ports": [{"port": svc_port, "targetPort": pod_port}]}}))
        cluster.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "nobody"},
            "spec": {"selector": {"app": "none"}, "ports": [{"port": svc_port}]}}))
        service = json.loads(cluster.kubectl("get", "service", "web", "-o", "json").stdout)
        cluster_ip, node_port = service["spec"]["clusterIP"], service["spec"]["ports"][0]["nodePort"]
        nobody_ip = cluster.kubectl("get", "service", "nobody", "-o", "jsonpath={.spec.clusterIP}").stdout
        cluster.kubectl("apply", "-f", "-", input=json.dumps(endpoint_slice(cluster, pod_port, names)))
        cluster.kubectl("annotate", "node", "node-a", "net.experimental.kubernetes.io/proxy-mode=userspace")

        proxy, health_port, log = start_proxy(cluster)
        assert "userspace mode" in "".join(log)
        wait(lambda: _try(lambda: fetch(cluster_ip, svc_port)))
        turns = [fetch(cluster_ip, svc_port) for _ in range(6)]
        assert sorted(turns[:3]) == sorted(names) and turns[3:] == turns[:3]  # round robin, in turn
        assert sorted(fetch("127.0.0.2", node_port) for _ in range(3)) == sorted(names)  # NodePort too
        assert refused(nobody_ip, svc_port)  # no endpoints: refused at once

        # a pod goes away: out of the rotation
        cluster.kubectl("delete", "pod", names[1], "--timeout=30s")
        cluster.kubectl("apply", "-f", "-", input=json.dumps(endpoint_slice(cluster, pod_port, [names[0], names[2]])))
        wait(lambda: {fetch(cluster_ip, svc_port) for _ in range(4)} == {names[0], names[2]}, within=5)

        # session affinity holds a client to one pod
        cluster.kubectl("patch", "service", "web", "-p", '{"spec":{"sessionAffinity":"ClientIP"}}')
        time.sleep(1.0)
        first = fetch(cluster_ip, svc_port)
        assert [fetch(cluster_ip, svc_port) for _ in range(5)] == [first] * 5

        with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        assert re.search(r"kubeproxy_connections_total (\d+)", metrics).group(1) != "0"
        with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/healthz", timeout=5) as response:
            assert response.status == 200

        proxy.send_signal(signal.SIGTERM)  # graceful: exits 0 and stops listening
        assert proxy.wait(15) == 0
        assert refused(cluster_ip, svc_port)
        assert_not_refused("kube-proxy", log)  # its own identity, system:kube-proxy, was enough
    finally:
        if proxy is not None and proxy.poll() is None:
            proxy.kill()
            proxy.wait(10)
        for process, root in kubelets:
            kill_everything(process, root)


def _try(call):
    try:
        return call()
    except OSError:
        return None
