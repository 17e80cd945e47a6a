"""An HPA scaling a Deployment from real metrics: ``hyperkube apiserver`` (serving metrics.k8s.io),
a ``hyperkube kubelet`` running the pods as processes, ``hyperkube scheduler`` and ``hyperkube
controller-manager`` (deployment, replicaset and HPA controllers, a 1 s sync and a 3 s
downscale stabilization set by flags). The pods burn about 300 millicores against a 100m request
while a flag file exists: the HPA scales 1 -> 2 (its max); once the file is gone the usage falls
to nothing and, after the window, it scales back to 1."""

from __future__ import annotations

import json
import sys

from tests.e2e._cluster import Cluster, running_component
from tests.e2e.test_kubelet_e2e import kill_everything, start_kubelet, wait

BURN = ("import os, time\\nwhile True:\\n    if os.path.exists('{flag}'):\\n"
        "        end = time.monotonic() + 0.03\\n        while time.monotonic() < end: pass\\n    time.sleep(0.07)")
MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: burner}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: burner}}}}
  template:
    metadata: {{labels: {{app: burner}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: python
        command: ["{python}", "-c", "{burn}"]
        resources: {{requests: {{cpu: 100m}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: burner}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: burner}}
  minReplicas: 1
  maxReplicas: 2
  metrics:
  - type: Resource
    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 50}}}}
"""


def test_hpa_scales_a_deployment_up_under_load_and_down_after_the_window(cluster: Cluster, tmp_path) -> None:
    root, flag = tmp_path / "root", tmp_path / "burn"
    flag.touch()
    kubelet = None
    try:
        kubelet, _port = start_kubelet(cluster, root, "hpa-node")
        with running_component(cluster, "scheduler", "--no-leader-elect"), \
                running_component(cluster, "controller-manager", "--no-leader-elect", "--kube-api-qps", "0",
                                  "--controllers", "deployment,replicaset,horizontalpodautoscaling",
                                  "--horizontal-pod-autoscaler-sync-period", "1",
                                  "--horizontal-pod-autoscaler-downscale-stabilization", "3"):
            cluster.kubectl("apply", "-f", "-", input=MANIFEST.format(
                python=sys.executable, burn=BURN.format(flag=flag)))

            def hpa() -> dict:
                return json.loads(cluster.kubectl("get", "hpa", "burner", "-o", "json").stdout)

            def replicas() -> int:
                return int(cluster.kubectl("get", "deployment", "burner", "-o",
                                           "jsonpath={.spec.replicas}").stdout or 0)

            def running() -> int:
                phases = cluster.kubectl("get", "pods", "-l", "app=burner", "-o",
                                         "jsonpath={.items[*].status.phase}").stdout.split()
                return phases.count("Running")

            wait(lambda: replicas() == 2, within=40)
            status = hpa()["status"]
            assert status["currentMetrics"][0]["resource"]["current"]["averageUtilization"] > 50
            assert status["desiredReplicas"] == 2
            wait(lambda: running() == 2, within=20)

            flag.unlink()  # the load stops
            wait(lambda: replicas() == 1, within=45)
            assert hpa()["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] < 50
            wait(lambda: running() == 1, within=20)
    finally:
        kill_everything(kubelet, root)
