"""A real ``hyperkube kubelet`` process on a real ``hyperkube apiserver``, driven by the real kubectl:
``kubectl logs [-f]`` and ``kubectl exec [-i]`` go through the API server's proxy to the kubelet.
Every test kills the kubelet and every container process it started."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e._cluster import Cluster, assert_not_refused, start_process


def start_kubelet(cluster: Cluster, root: Path, node: str, *extra: str) -> tuple[subprocess.Popen, int]:
    """A kubelet on ``node`` as ``system:node:<node>``, serving TLS with its own certificate (for
    the node IP of ``--node-ip`` in ``extra`` too) on an ephemeral port."""
    node_ips = [extra[i + 1] for i, flag in enumerate(extra[:-1]) if flag == "--node-ip"]
    command = [sys.executable, "-m", "hyperkube", "kubelet", *cluster.kubelet_args(node, node_ips),
               "--hostname-override", node, "--port", "0", "--root-dir", str(root), *extra]
    process, port, log = start_process(command, r"kubelet serving (?:securely )?on [\d.]+:(\d+)", "kubelet")
    LOGS[process.pid] = log
    return process, port


#: pid -> stderr lines of each kubelet start_kubelet started, checked by kill_everything
LOGS: dict[int, list[str]] = {}


def kill_everything(process: subprocess.Popen | None, root: Path) -> None:
    """Kill the kubelet and its containers; then fail if the API server refused the kubelet
    anything (its own identity, with the Node authorizer, must be enough)."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(10)
    for state in root.glob("pods/*/containers/*/*/state.json"):
        try:
            os.killpg(json.loads(state.read_text())["shimPid"], signal.SIGKILL)
        except (ProcessLookupError, PermissionError, ValueError, KeyError):
            pass
    if process is not None:
        assert_not_refused(f"kubelet {process.args[process.args.index('--hostname-override') + 1]}",
                           LOGS.pop(process.pid, []))


def wait(check, within: float = 30.0):
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last value {value!r}")
        time.sleep(0.2)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


POD = """apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 3
  containers:
  - name: main
    image: python
    command: ["{python}", "-c", "import os, time\\nopen('{marker}', 'a').write(str(os.getpid()) + ' ')\\nprint('started', flush=True)\\ntime.sleep(600)"]
"""


def test_kubectl_pod_runs_survives_kill_9_of_the_kubelet_and_stops_on_delete(cluster: Cluster, tmp_path):
    root, marker = tmp_path / "root", tmp_path / "pids"
    process = None
    try:
        process, port = start_kubelet(cluster, root, "e2e-node")
        cluster.kubectl("apply", "-f", "-", input=POD.format(name="e2e-web", node="e2e-node", python=sys.executable,
                                                            marker=marker))
        wait(lambda: cluster.kubectl("get", "pod", "e2e-web", "-o", "jsonpath={.status.phase}").stdout == "Running")
        table = cluster.kubectl("get", "pods", "e2e-web").stdout
        assert "1/1" in table and "Running" in table
        node = json.loads(cluster.kubectl("get", "node", "e2e-node", "-o", "json").stdout)
        assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == port
        url = f"https://127.0.0.1:{port}/containerLogs/default/e2e-web/main"  # the kubelet's own TLS port
        assert wait(lambda: cluster.urlopen(url).read()) == b"started\n"
        anonymous = ssl.create_default_context(cafile=cluster.pki.ca.cert)
        with pytest.raises(urllib.error.HTTPError) as refused:  # no client certificate: refused
            urllib.request.urlopen(url, context=anonymous, timeout=10)
        assert refused.value.code == 401
        pids = wait(lambda: marker.exists() and marker.read_text()).split()

        process.kill()  # kill -9: the pod's process keeps running
        process.wait(10)
        assert alive(int(pids[0]))
        process, port = start_kubelet(cluster, root, "e2e-node")
        wait(lambda: json.loads(cluster.kubectl("get", "node", "e2e-node", "-o", "json").stdout)["status"][
            "daemonEndpoints"]["kubeletEndpoint"]["Port"] == port)
        time.sleep(1.5)  # the restarted kubelet has synced its pods by now; it must not start a second one
        assert marker.read_text().split() == pids
        restarts = cluster.kubectl("get", "pod", "e2e-web", "-o",
                                   "jsonpath={.status.containerStatuses[0].restartCount}").stdout
        assert restarts == "0"

        cluster.kubectl("delete", "pod", "e2e-web", "--timeout=30s")
        assert not alive(int(pids[0]))
    finally:
        kill_everything(process, root)


def test_static_pod_manifest_appears_as_a_mirror_pod_and_goes_with_its_file(cluster: Cluster, tmp_path):
    root, manifests = tmp_path / "root", tmp_path / "manifests"
    manifests.mkdir()
    process = None
    try:
        process, _ = start_kubelet(cluster, root, "e2e-static", "--pod-manifest-path", str(manifests))
        (manifests / "static.yaml").write_text(
            POD.format(name="e2e-static-web", node="ignored", python=sys.executable, marker=tmp_path / "static"))
        wait(lambda: cluster.kubectl("get", "pod", "e2e-static-web-e2e-static", "-o",
                                     "jsonpath={.status.phase}", check=False).stdout == "Running")
        annotations = json.loads(cluster.kubectl("get", "pod", "e2e-static-web-e2e-static", "-o",
                                                 "jsonpath={.metadata.annotations}").stdout)
        assert "kubernetes.io/config.mirror" in annotations
        (manifests / "static.yaml").unlink()
        wait(lambda: "NotFound" in cluster.kubectl("get", "pod", "e2e-static-web-e2e-static", check=False).stderr)
    finally:
        kill_everything(process, root)


def test_kubectl_logs_follow_and_exec_through_the_api_server(cluster: Cluster, tmp_path):
    root = tmp_path / "root"
    process = None
    try:
        process, _ = start_kubelet(cluster, root, "e2e-exec")
        cluster.kubectl("apply", "-f", "-", input=POD.format(name="e2e-exec", node="e2e-exec", python=sys.executable,
                                                            marker=tmp_path / "pids"))
        wait(lambda: cluster.kubectl("get", "pod", "e2e-exec", "-o", "jsonpath={.status.phase}").stdout == "Running")
        assert wait(lambda: cluster.kubectl("logs", "e2e-exec").stdout) == "started\n"
        assert cluster.kubectl("logs", "e2e-exec", "--timestamps").stdout.split(" ", 1)[1] == "started\n"
        follower = cluster.kubectl_background("logs", "-f", "e2e-exec")
        try:
            assert follower.stdout is not None
            assert follower.stdout.readline() == "started\n"
            assert follower.poll() is None  # still following the running container
        finally:
            follower.kill()
            follower.communicate()
        result = cluster.kubectl("exec", "e2e-exec", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
        assert (result.returncode, result.stdout) == (3, "out\n")
        assert "err\n" in result.stderr
        piped = cluster.kubectl("exec", "-i", "e2e-exec", "--", "cat", input="through stdin\n")
        assert piped.stdout == "through stdin\n"
    finally:
        kill_everything(process, root)


@pytest.mark.parametrize("nodes", [3])
def test_hollow_nodes_register_and_run_pods(cluster: Cluster, tmp_path, nodes):
    # one process for every hollow node, so one identity for all of them: not one the Node
    # authorizer knows, but a user bound to the ClusterRole system:node, as kubemark does
    cluster.kubectl("create", "clusterrolebinding", "hollow-nodes", "--clusterrole", "system:node",
                    "--user", "hollow-kubelets")
    kubeconfig = cluster.user_kubeconfig("hollow-kubelets")
    process = subprocess.Popen([sys.executable, "-m", "hyperkube", "kubelet", "--kubeconfig", str(kubeconfig),
                                "--hostname-override", "hollow", "--hollow-nodes", str(nodes),
                                "--root-dir", str(tmp_path)], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        wait(lambda: all(f"hollow-{i}" in cluster.kubectl("get", "nodes").stdout for i in range(nodes)))
        cluster.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "on-hollow"},
            "spec": {"nodeName": "hollow-1", "containers": [{"name": "c", "image": "nginx"}]}}))
        wait(lambda: cluster.kubectl("get", "pod", "on-hollow", "-o", "jsonpath={.status.phase}").stdout == "Running")
        cluster.kubectl("delete", "pod", "on-hollow", "--timeout=30s")
    finally:
        process.kill()
        process.wait(10)
        cluster.kubectl("delete", "clusterrolebinding", "hollow-nodes")


SECRET_POD = """apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  serviceAccountName: reader
  automountServiceAccountToken: false
  volumes:
  - {{name: creds, secret: {{secretName: node-creds}}}}
  - {{name: token, projected: {{sources: [{{serviceAccountToken: {{path: token, expirationSeconds: 3600}}}}]}}}}
  containers:
  - name: main
    image: python
    volumeMounts: [{{name: creds, mountPath: "{mount}"}}, {{name: token, mountPath: "{mount}-token"}}]
    env: [{{name: GREETING, valueFrom: {{configMapKeyRef: {{name: node-settings, key: greeting}}}}}}]
    command: ["{python}", "-c", "import os\\nprint(os.environ['GREETING'], open('{mount}/password').read(),
              open('{mount}-token/token').read().count('.'))"]
"""


def test_kubelet_reads_its_pods_secret_and_configmap_and_nothing_else(cluster: Cluster, tmp_path):
    """The kubelet runs as system:node:<name>: the Node authorizer lets it read the Secret and
    ConfigMap its pod uses and request a token of its service account (a JWT, two dots), and
    refuses it a Secret no pod of its node uses."""
    root = tmp_path / "root"
    cluster.kubectl("create", "secret", "generic", "node-creds", "--from-literal=password=s3cret")
    cluster.kubectl("create", "configmap", "node-settings", "--from-literal=greeting=hello")
    cluster.kubectl("create", "secret", "generic", "not-for-nodes", "--from-literal=password=other")
    cluster.kubectl("create", "serviceaccount", "reader")
    process = None
    try:
        process, _ = start_kubelet(cluster, root, "e2e-secrets")
        cluster.kubectl("apply", "-f", "-", input=SECRET_POD.format(
            name="e2e-secrets", node="e2e-secrets", python=sys.executable, mount=tmp_path / "mnt" / "creds"))
        wait(lambda: cluster.kubectl("get", "pod", "e2e-secrets", "-o",
                                     "jsonpath={.status.phase}").stdout in ("Succeeded", "Failed"))
        assert cluster.kubectl("logs", "e2e-secrets").stdout == "hello s3cret 2\n"

        as_node = ["--kubeconfig", str(cluster.node_kubeconfig("e2e-secrets"))]
        assert cluster.kubectl(*as_node, "get", "secret", "node-creds", "-o",
                               "jsonpath={.data.password}").stdout == "czNjcmV0"
        refused = cluster.kubectl(*as_node, "get", "secret", "not-for-nodes", check=False)
        assert refused.returncode != 0
        assert 'User "system:node:e2e-secrets" cannot get resource "secrets"' in refused.stderr
        other = cluster.kubectl("--kubeconfig", str(cluster.node_kubeconfig("e2e-elsewhere")),
                                "get", "configmap", "node-settings", check=False)
        assert other.returncode != 0 and "forbidden" in other.stderr  # a node without the pod
    finally:
        kill_everything(process, root)
        cluster.kubectl("delete", "pod", "e2e-secrets", "--wait=false", check=False)
        cluster.kubectl("delete", "secret", "node-creds", "not-for-nodes", check=False)
        cluster.kubectl("delete", "configmap", "node-settings", check=False)
        cluster.kubectl("delete", "serviceaccount", "reader", check=False)
