"""`hyperkube controller-manager` (part 2 controllers) as a process against a `hyperkube
apiserver` process, driven with the real kubectl: `kubectl delete namespace` empties and
removes a namespace, every namespace gets its default ServiceAccount, and a Service's
Endpoints and EndpointSlice list a pod once its status says Ready."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e._cluster import Cluster, running_component

CONTENT = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: doomed}
data: {a: b}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: doomed}
stringData: {password: x}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: doomed}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: "nginx:1"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: doomed}
spec: {selector: {app: web}, ports: [{port: 80}]}
"""


@pytest.fixture(scope="module")
def controller_manager(cluster: Cluster) -> Iterator[subprocess.Popen]:
    with running_component(cluster, "controller-manager", "--controllers",
                           "namespace,endpoint,endpointslice,serviceaccount", "--no-leader-elect",
                           "--kube-api-qps", "0") as process:
        yield process


def wait_for(check: Callable[[], Any], within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.2)


def test_kubectl_delete_namespace_empties_it(cluster: Cluster, controller_manager) -> None:
    cluster.kubectl("create", "namespace", "doomed")
    cluster.kubectl("apply", "-f", "-", input=CONTENT)
    # the serviceaccount controller gives the new namespace its default account
    wait_for(lambda: cluster.kubectl("get", "serviceaccount", "default", "-n", "doomed", check=False).returncode == 0)
    result = cluster.kubectl("delete", "namespace", "doomed", "--timeout=60s", timeout=90)
    assert 'namespace "doomed" deleted' in result.stdout
    gone = cluster.kubectl("get", "namespace", "doomed", check=False)
    assert gone.returncode != 0 and 'namespaces "doomed" not found' in gone.stderr
    for kind in ("configmaps", "secrets", "deployments", "services", "serviceaccounts"):
        listed = json.loads(cluster.kubectl("get", kind, "-n", "doomed", "-o", "json").stdout)
        assert listed["items"] == [], kind


def test_endpoints_and_slices_follow_a_ready_pod(cluster: Cluster, controller_manager) -> None:
    cluster.kubectl("create", "service", "clusterip", "api", "--tcp=80:8080")
    cluster.kubectl("run", "api", "--image=nginx:1", "--labels=app=api", "--overrides",
                    json.dumps({"spec": {"nodeName": "node-1"}}))
    status = {"status": {"phase": "Running", "podIP": "10.1.2.3", "podIPs": [{"ip": "10.1.2.3"}], "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
    cluster.kubectl("patch", "pod", "api", "--subresource=status", "--type=merge", "-p", json.dumps(status))

    def endpoints() -> Any:
        found = json.loads(cluster.kubectl("get", "endpoints", "api", "-o", "json", check=False).stdout or "{}")
        return found if (found.get("subsets") or [{}])[0].get("addresses") else None

    found = wait_for(endpoints)
    assert found["subsets"][0]["addresses"][0]["ip"] == "10.1.2.3"
    assert found["subsets"][0]["ports"] == [{"name": "80-8080", "port": 8080, "protocol": "TCP"}]
    slices = json.loads(cluster.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=api",
                                        "-o", "json").stdout)["items"]
    assert [e["addresses"] for s in slices for e in s.get("endpoints") or []] == [["10.1.2.3"]]
    table = cluster.kubectl("get", "endpoints", "kubernetes").stdout
    secure_port = re.search(r"Serving securely on [\d.]+:(\d+)", "".join(cluster.log)).group(1)  # type: ignore[union-attr]
    assert f"127.0.0.1:{secure_port}" in table  # the kubernetes Service leads to the secure port
