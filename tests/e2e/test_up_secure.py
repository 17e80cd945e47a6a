"""``hyperkube up`` is secure by default: the real kubectl over https with the admin kubeconfig,
a ServiceAccount token that RBAC limits, anonymous requests refused by the API server and by a
kubelet, logs/exec through the API server to a TLS kubelet, ``kubectl top`` over the same
path, the cluster DNS answering a Service name, and a node port on every node's IP.

One ``up --nodes 1`` serves every test of the module (each test uses its own objects).
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import dns.resolver
import pytest
import yaml

from hyperkube.machinery import pki
from tests.e2e.test_up import Up

WEB = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: sweb, labels: {{app: sweb}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: sweb}}}}
  template:
    metadata: {{labels: {{app: sweb}}}}
    spec:
      nodeName: up-node
      containers:
        - name: web
          image: python
          command: ["{python}", "-u", "-m", "http.server", "{port}", "--bind", "$(POD_IP)"]
          env:
            - name: POD_IP
              valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}
          ports: [{{name: http, containerPort: {port}}}]
          readinessProbe:
            httpGet: {{path: /, port: http}}
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {{name: sweb}}
spec:
  type: NodePort
  selector: {{app: sweb}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    home = tmp_path_factory.mktemp("secure-up")
    cluster = Up(home, "--nodes", "1", "--dns-port", "0")
    try:
        cluster.wait_for("two Ready nodes", lambda: cluster.kubectl(
            "get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}",
            check=False).stdout.split() == ["True", "True"])
        yield cluster
    finally:
        assert cluster.stop() == 0, "".join(cluster.lines[-40:])


@pytest.fixture(scope="module")
def web(up: Up, tmp_path_factory) -> dict:
    """A web server pod on the first node behind a NodePort Service, Running and ready."""
    manifest = tmp_path_factory.mktemp("web") / "web.yaml"
    manifest.write_text(WEB.format(python=sys.executable, port=_free_port()))
    up.kubectl("apply", "-f", str(manifest))
    pod = up.wait_for("the web pod ready", lambda: next((
        p for p in json.loads(up.kubectl("get", "pods", "-l", "app=sweb", "-o", "json").stdout)["items"]
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))), None))
    return pod


def _ca(up: Up) -> Path:
    return up.home / "data" / "pki" / "ca.crt"


def _https(url: str, cafile: Path, method: str = "GET") -> tuple[int, str]:
    context = ssl.create_default_context(cafile=str(cafile))
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_admin_kubeconfig_is_https_with_embedded_credentials(up: Up):
    config = yaml.safe_load((up.home / "kubeconfig").read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    assert cluster["server"] == up.url and up.url.startswith("https://127.0.0.1:")
    assert "certificate-authority-data" in cluster and "client-key-data" in user
    assert oct((up.home / "kubeconfig").stat().st_mode & 0o777) == "0o600"
    for key in (up.home / "data" / "pki").glob("*.key"):
        assert oct(key.stat().st_mode & 0o777) == "0o600", key
    names = up.kubectl("get", "nodes", "-o", "name").stdout.split()
    assert names == ["node/up-node", "node/up-node-2"]
    up.kubectl("get", "pods", "-A")  # every namespace: the admin may
    whoami = yaml.safe_load(up.kubectl("auth", "whoami", "-o", "yaml").stdout)["status"]["userInfo"]
    assert whoami == {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
    assert "Serving insecurely" not in "".join(up.lines)
    # hyperkube's own kubectl reads the same kubeconfig
    ours = subprocess.run([sys.executable, "-m", "hyperkube", "kubectl", "get", "nodes", "-o", "name"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(up.home), "KUBECONFIG": str(up.home / "kubeconfig")})
    assert ours.stdout.split() == ["node/up-node", "node/up-node-2"], ours.stderr


def test_every_component_has_its_own_certificate(up: Up):
    directory = up.home / "data" / "pki"
    subjects = {name: pki.identity(pki.load_certificate(directory / f"{name}.crt")) for name in (
        "kube-controller-manager", "kube-scheduler", "kube-proxy", "kube-dns", "addon-manager", "hollow-nodes",
        "kubelet-up-node-client", "kubelet-up-node-2-client", "admin")}
    assert subjects == {
        "kube-controller-manager": ("system:kube-controller-manager", []),
        "kube-scheduler": ("system:kube-scheduler", []),
        "kube-proxy": ("system:kube-proxy", []),
        "kube-dns": ("system:kube-dns", []),
        "addon-manager": ("system:hyperkube:addon-manager", ["system:masters"]),
        "hollow-nodes": ("system:hyperkube:hollow-nodes", []),
        "kubelet-up-node-client": ("system:node:up-node", ["system:nodes"]),
        "kubelet-up-node-2-client": ("system:node:up-node-2", ["system:nodes"]),
        "admin": ("kubernetes-admin", ["system:masters"]),
    }
    # their kubeconfigs, for components run apart from up: the scheduler's works as the scheduler
    scheduler = up.kubectl("--kubeconfig", str(directory / "kube-scheduler.kubeconfig"), "auth", "whoami", "-o",
                           "jsonpath={.status.userInfo.username}").stdout
    assert scheduler == "system:kube-scheduler"
    serving = pki.load_certificate(directory / "kubelet-up-node-2-serving.crt")
    assert "127.0.0.2" in pki.subject_alternative_names(serving)[1]


def test_a_service_account_token_is_limited_by_rbac(up: Up, tmp_path):
    token = up.wait_for("the default ServiceAccount", lambda: up.kubectl(
        "create", "token", "default", check=False).stdout.strip())
    # a kubeconfig with only the CA and the token (a client certificate would win over the token)
    config = tmp_path / "token.kubeconfig"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "sa", "cluster": {"server": up.url, "certificate-authority": str(_ca(up))}}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "sa", "user": "sa"}}]}))
    as_sa = ("--kubeconfig", str(config))
    result = up.kubectl(*as_sa, "auth", "can-i", "create", "pods", check=False)
    assert result.stdout.strip() == "no" and result.returncode == 1
    who = yaml.safe_load(up.kubectl(*as_sa, "auth", "whoami", "-o", "yaml").stdout)["status"]["userInfo"]
    assert who["username"] == "system:serviceaccount:default:default"
    denied = up.kubectl(*as_sa, "get", "secrets", "-n", "kube-system", check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    assert up.kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"  # the admin


def test_anonymous_requests_are_refused(up: Up, web: dict):
    assert _https(f"{up.url}/version", _ca(up))[0] == 200
    code, body = _https(f"{up.url}/api/v1/pods", _ca(up))
    assert code == 403 and "system:anonymous" in body
    port = up.kubectl("get", "node", "up-node", "-o",
                      "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}").stdout
    kubelet = f"https://127.0.0.1:{port}"
    assert _https(f"{kubelet}/pods", _ca(up))[0] == 401
    name = web["metadata"]["name"]
    assert _https(f"{kubelet}/exec/default/{name}/web?command=id&output=1", _ca(up), "POST")[0] == 401
    assert _https(f"{kubelet}/containerLogs/default/{name}/web", _ca(up))[0] == 401
    with pytest.raises(OSError):  # no plain HTTP on the API server's port
        urllib.request.urlopen(up.url.replace("https://", "http://") + "/version", timeout=5).read()


def test_logs_exec_and_top_through_the_tls_kubelet(up: Up, web: dict):
    name = web["metadata"]["name"]
    logs = up.wait_for("the web server's log", lambda: up.kubectl("logs", name, check=False).stdout)
    assert "Serving HTTP on" in logs
    assert up.kubectl("exec", name, "--", sys.executable, "-c", "print('exec ok')").stdout.strip() == "exec ok"
    out = up.wait_for("kubectl top node numbers", lambda: (lambda r: r.stdout if r.returncode == 0 else "")(
        up.kubectl("top", "node", "up-node", check=False)))
    assert re.search(r"up-node\s+\d+m\s+\d+%\s+\d+Mi", out), out


def test_dns_answers_a_service_name(up: Up, web: dict):
    port = up.dns_port
    service = json.loads(up.kubectl("get", "service", "sweb", "-o", "json").stdout)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = ["127.0.0.1"], port
    answer = up.wait_for("the A record", lambda: [r.address for r in resolver.resolve(
        "sweb.default.svc.cluster.local", "A")])
    assert answer == [service["spec"]["clusterIP"]]
    kube_dns = json.loads(up.kubectl("get", "service", "kube-dns", "-n", "kube-system", "-o", "json").stdout)
    assert {p["port"] for p in kube_dns["spec"]["ports"]} == {port}
    # the kubelet tells the pod where the cluster DNS is
    env = up.kubectl("exec", web["metadata"]["name"], "--", sys.executable, "-c",
                     "import os; print(os.environ['KUBERNETES_DNS_SERVER'], os.environ['KUBERNETES_DNS_SERVER_PORT'])")
    assert env.stdout.split() == ["127.0.0.1", str(port)]


def test_a_node_port_answers_on_every_node_ip(up: Up, web: dict):
    node_port = json.loads(up.kubectl("get", "service", "sweb", "-o", "json").stdout)["spec"]["ports"][0]["nodePort"]

    def page(ip: str) -> str:
        try:
            with urllib.request.urlopen(f"http://{ip}:{node_port}/", timeout=2) as response:
                return response.read().decode()
        except OSError:
            return ""

    for ip in ("127.0.0.1", "127.0.0.2"):
        assert "Directory listing" in up.wait_for(f"the node port on {ip}", lambda ip=ip: page(ip))
    assert os.path.exists(_ca(up))


def test_a_taken_dns_port_falls_back_to_a_free_one(tmp_path):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        other = Up(tmp_path, "--dns-port", str(port))
        try:
            assert other.dns_port != port
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers, resolver.port = ["127.0.0.1"], other.dns_port
            answer = other.wait_for("the kubernetes Service's A record", lambda: [r.address for r in resolver.resolve(
                "kubernetes.default.svc.cluster.local", "A")])
            assert answer == ["127.64.0.1"]
        finally:
            assert other.stop() == 0
