"""Real processes end to end (API server, controller-manager, scheduler, two kubelets, the real
kubectl): a node whose kubelet is killed goes NotReady and its pod is replaced on the other
node once the pod's toleration runs out; a PersistentVolumeClaim is provisioned by the
local-path provisioner, bound, and used by a pod that writes into it. Short timings come
from flags, as a user would set them."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from tests.e2e._cluster import Cluster, running_component
from tests.e2e.test_kubelet_e2e import kill_everything, start_kubelet, wait

FAST_NODE = ("--node-status-update-frequency", "1", "--node-lease-duration-seconds", "4")

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: survivor}
spec:
  replicas: 1
  selector: {matchLabels: {app: survivor}}
  template:
    metadata: {labels: {app: survivor}}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - {name: sleep, image: python, command: [%(python)s, -c, "import time; time.sleep(600)"]}
"""


def _pods(cluster: Cluster, selector: str) -> list[dict]:
    return json.loads(cluster.kubectl("get", "pods", "-l", selector, "-o", "json").stdout)["items"]


def _ready_status(cluster: Cluster, node: str) -> str:
    return cluster.kubectl("get", "node", node, "-o",
                           'jsonpath={.status.conditions[?(@.type=="Ready")].status}').stdout


def test_killed_kubelet_node_goes_unknown_and_its_pod_moves(cluster: Cluster, tmp_path) -> None:
    import sys

    kubelets: dict[str, tuple] = {}
    with contextlib.ExitStack() as stack:
        stack.enter_context(running_component(
            cluster, "controller-manager", "--controllers", "nodelifecycle,deployment,replicaset",
            "--no-leader-elect", "--node-monitor-grace-period", "4s", "--node-monitor-period", "1s",
            "--node-eviction-rate", "10"))
        stack.enter_context(running_component(cluster, "scheduler", "--no-leader-elect"))
        try:
            for node in ("fail-a", "fail-b"):
                kubelets[node] = (start_kubelet(cluster, tmp_path / node, node, *FAST_NODE)[0], tmp_path / node)
            wait(lambda: all(_ready_status(cluster, n) == "True" for n in kubelets))
            cluster.kubectl("cordon", "fail-b")  # the pod starts on fail-a
            cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT % {"python": json.dumps(sys.executable)})
            wait(lambda: [p for p in _pods(cluster, "app=survivor")
                          if p["spec"].get("nodeName") == "fail-a" and p["status"].get("phase") == "Running"])
            cluster.kubectl("uncordon", "fail-b")

            process, _root = kubelets["fail-a"]
            process.kill()  # kill -9: no goodbye to the API server
            process.wait(10)
            wait(lambda: _ready_status(cluster, "fail-a") == "Unknown", within=20)
            taints = json.loads(cluster.kubectl("get", "node", "fail-a", "-o", "jsonpath={.spec.taints}").stdout)
            assert {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"} in [
                {k: t[k] for k in ("key", "effect")} for t in taints]
            assert _ready_status(cluster, "fail-b") == "True"

            def replaced() -> bool:
                pods = _pods(cluster, "app=survivor")
                moved = [p for p in pods if p["spec"].get("nodeName") == "fail-b"
                         and p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
                evicted = [p for p in pods if p["spec"].get("nodeName") == "fail-a"]
                return bool(moved) and all(p["metadata"].get("deletionTimestamp") for p in evicted)

            wait(replaced, within=30)
        finally:
            for process, root in kubelets.values():
                kill_everything(process, root)


CLAIM = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  storageClassName: local-path
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  nodeName: vol-node
  restartPolicy: Never
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
  containers:
  - name: write
    image: python
    volumeMounts: [{name: data, mountPath: %(mount)s}]
    command: [%(python)s, -c, "import os; open(os.environ['VOLUME'] + '/hello.txt', 'w').write('written by a pod')"]
    env: [{name: VOLUME, value: %(mount)s}]
"""


def test_local_path_claim_is_provisioned_bound_and_written_by_a_pod(cluster: Cluster, tmp_path) -> None:
    import sys

    storage = tmp_path / "local-path"
    kubelet = None
    root = tmp_path / "vol-node"
    with running_component(cluster, "controller-manager", "--controllers", "persistentvolume-binder",
                           "--no-leader-elect", "--local-path-dir", str(storage)):
        try:
            kubelet, _ = start_kubelet(cluster, root, "vol-node")
            mount = json.dumps(str(tmp_path / "mnt" / "data"))  # no mount namespace: a symlink on the host
            cluster.kubectl("apply", "-f", "-", input=CLAIM % {"python": json.dumps(sys.executable), "mount": mount})
            wait(lambda: cluster.kubectl("get", "pvc", "data", "-o", "jsonpath={.status.phase}").stdout == "Bound")
            volume = cluster.kubectl("get", "pvc", "data", "-o", "jsonpath={.spec.volumeName}").stdout
            pv = json.loads(cluster.kubectl("get", "pv", volume, "-o", "json").stdout)
            assert pv["spec"]["claimRef"]["name"] == "data" and pv["status"]["phase"] == "Bound"
            host_dir = Path(pv["spec"]["hostPath"]["path"])
            assert storage in host_dir.parents
            wait(lambda: cluster.kubectl("get", "pod", "writer", "-o",
                                         "jsonpath={.status.phase}").stdout in ("Succeeded", "Failed"))
            phase = cluster.kubectl("get", "pod", "writer", "-o", "jsonpath={.status.phase}").stdout
            assert phase == "Succeeded", cluster.kubectl("logs", "writer", check=False).stdout
            assert (host_dir / "hello.txt").read_text() == "written by a pod"
        finally:
            kill_everything(kubelet, root)
