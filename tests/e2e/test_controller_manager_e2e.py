"""`hyperkube controller-manager` as a process against a `hyperkube apiserver` process, driven
with the real kubectl: a deployment's ReplicaSet and pods, scale, rollout status once pods are
ready (the test plays the kubelet through the pods' /status), rollout restart and undo, and
deletion with cascade. Leader election holds the Lease kube-system/kube-controller-manager."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e._cluster import Cluster, running_component

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: "nginx:1"}]}
"""


@pytest.fixture(scope="module")
def controller_manager(cluster: Cluster) -> Iterator[subprocess.Popen]:
    with running_component(cluster, "controller-manager", "--leader-elect", "--leader-elect-lease-duration", "4",
                           "--leader-elect-renew-deadline", "3", "--leader-elect-retry-period", "1",
                           "--kube-api-qps", "0") as process:
        yield process


class Kubelet:
    """Plays the kubelet: reports every pod Running and Ready through /status (HTTPS, as the admin)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Kubelet:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(5)

    def _run(self) -> None:
        while not self.stopped.is_set():
            with self.cluster.urlopen("/api/v1/namespaces/default/pods") as response:
                pods = json.load(response)["items"]
            for pod in pods:
                conditions = (pod.get("status") or {}).get("conditions") or []
                if pod["metadata"].get("deletionTimestamp") or any(
                        c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                    continue
                body = json.dumps({"status": {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True",
                     "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]}}).encode()
                try:
                    self.cluster.urlopen(f"/api/v1/namespaces/default/pods/{pod['metadata']['name']}/status",
                                         body, method="PATCH",
                                         headers={"Content-Type": "application/merge-patch+json"}).close()
                except OSError:
                    pass  # deleted meanwhile
            self.stopped.wait(0.1)


def wait_until(check, within: float = 30.0):
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.2)


def names(cluster: Cluster, *args: str) -> list[str]:
    out = cluster.kubectl("get", *args, "-o", "jsonpath={.items[*].metadata.name}").stdout.split()
    return sorted(out)


def test_deployment_lifecycle_with_kubectl(cluster: Cluster, controller_manager: subprocess.Popen) -> None:
    holder = wait_until(lambda: cluster.kubectl("get", "lease", "-n", "kube-system", "kube-controller-manager",
                                                "-o", "jsonpath={.spec.holderIdentity}", check=False).stdout)
    assert holder
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT)
    [rs] = wait_until(lambda: names(cluster, "rs", "-l", "app=web"))
    assert rs.startswith("web-")
    pods = wait_until(lambda: (p := names(cluster, "pods", "-l", "app=web")) and len(p) == 2 and p)
    assert all(p.startswith(rs + "-") for p in pods)

    cluster.kubectl("scale", "deployment/web", "--replicas=3")
    wait_until(lambda: len(names(cluster, "pods", "-l", "app=web")) == 3)

    with Kubelet(cluster):
        out = cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeout=90).stdout
        assert 'deployment "web" successfully rolled out' in out
        cluster.kubectl("set", "image", "deployment/web", "c=nginx:2")
        out = cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeout=90).stdout
        assert "successfully rolled out" in out
        images = cluster.kubectl("get", "pods", "-l", "app=web", "-o",
                                 "jsonpath={.items[*].spec.containers[0].image}").stdout.split()
        assert set(images) == {"nginx:2"} and len(images) == 3
        cluster.kubectl("rollout", "undo", "deployment/web")
        cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
        history = cluster.kubectl("rollout", "history", "deployment/web").stdout
        assert "2" in history and "3" in history
        cluster.kubectl("rollout", "restart", "deployment/web")
        cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
    assert len(names(cluster, "rs", "-l", "app=web")) == 3  # revisions 2 (nginx:2), 3 (undo), 4 (restart)
    ready = cluster.kubectl("get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}").stdout
    assert ready == "3"

    cluster.kubectl("delete", "deployment", "web", "--cascade=background", timeout=60)
    wait_until(lambda: not names(cluster, "rs", "-l", "app=web") and not names(cluster, "pods", "-l", "app=web"))
    assert controller_manager.poll() is None


def test_cascade_orphan_and_foreground_with_kubectl(cluster: Cluster, controller_manager: subprocess.Popen) -> None:
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.replace("web", "keep"))
    [rs] = wait_until(lambda: names(cluster, "rs", "-l", "app=keep"))
    wait_until(lambda: len(names(cluster, "pods", "-l", "app=keep")) == 2)
    cluster.kubectl("delete", "deployment", "keep", "--cascade=orphan", timeout=60)
    owners = cluster.kubectl("get", "rs", rs, "-o", "jsonpath={.metadata.ownerReferences}").stdout
    assert json.loads(owners or "[]") == []  # the ReplicaSet stays, no longer owned
    assert len(names(cluster, "pods", "-l", "app=keep")) == 2
    # foreground: kubectl waits until the RS is gone, and its pods went first
    cluster.kubectl("delete", "rs", rs, "--cascade=foreground", timeout=60)
    assert names(cluster, "pods", "-l", "app=keep") == []
    assert names(cluster, "rs", "-l", "app=keep") == []
