"""``hyperkube scheduler`` processes against a ``hyperkube apiserver`` process, seen through kubectl."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from tests.e2e._cluster import Cluster, assert_not_refused, stop


class SchedulerProcess:
    def __init__(self, kubeconfig: Path, *flags: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "hyperkube", "scheduler", "--kubeconfig",
                                         str(kubeconfig), *flags],
                                        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.log: list[str] = []
        self.times: list[float] = []  # when each line arrived (monotonic)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.times.append(time.monotonic())
            self.log.append(line)

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.log)

    def when(self, text: str) -> float:
        return next(t for t, line in zip(self.times, self.log, strict=False) if text in line)

    def stop(self) -> None:
        stop(self.process)


def wait_for(check, within: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: {check}")
        time.sleep(interval)


def node_yaml(name: str, cpu: str = "2") -> str:
    capacity = {"cpu": cpu, "memory": "4Gi", "pods": "110"}
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                           "status": {"capacity": capacity, "allocatable": capacity,
                                      "conditions": [{"type": "Ready", "status": "True"}]}})


def pod_yaml(name: str, cpu: str = "100m") -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                           "spec": {"containers": [{"name": "c", "image": "busybox",
                                                    "resources": {"requests": {"cpu": cpu}}}]}})


def node_of(cluster: Cluster, name: str) -> str:
    return cluster.kubectl("get", "pod", name, "-o", "jsonpath={.spec.nodeName}").stdout


def events(cluster: Cluster, reason: str) -> list[dict]:
    listed = json.loads(cluster.kubectl("get", "events", "--field-selector", f"reason={reason}", "-o", "json").stdout)
    return listed["items"]


def test_scheduler_binds_pods_and_reports_what_does_not_fit(cluster: Cluster):
    for name in ("e2e-n1", "e2e-n2", "e2e-n3"):
        cluster.kubectl("apply", "-f", "-", input=node_yaml(name))
    scheduler = SchedulerProcess(cluster.kubeconfig_for("scheduler"))
    try:
        wait_for(lambda: scheduler.saw("scheduler default-scheduler started"))
        for i in range(6):
            cluster.kubectl("apply", "-f", "-", input=pod_yaml(f"e2e-web-{i}", "500m"))
        placed = [wait_for(lambda i=i: node_of(cluster, f"e2e-web-{i}")) for i in range(6)]
        assert sorted(placed) == ["e2e-n1", "e2e-n1", "e2e-n2", "e2e-n2", "e2e-n3", "e2e-n3"]
        scheduled = wait_for(lambda: [e for e in events(cluster, "Scheduled")
                                      if e["involvedObject"]["name"] == "e2e-web-0"])
        assert scheduled[0]["message"] == f"Successfully assigned default/e2e-web-0 to {placed[0]}"

        cluster.kubectl("apply", "-f", "-", input=pod_yaml("e2e-huge", "3"))
        failed = wait_for(lambda: [e for e in events(cluster, "FailedScheduling")
                                   if e["involvedObject"]["name"] == "e2e-huge"])
        assert failed[0]["message"].endswith("3 Insufficient cpu.")
        condition = cluster.kubectl("get", "pod", "e2e-huge", "-o",
                                    "jsonpath={.status.conditions[?(@.type=='PodScheduled')].reason}").stdout
        assert condition == "Unschedulable"
        assert node_of(cluster, "e2e-huge") == ""
    finally:
        scheduler.stop()
        for i in range(6):
            cluster.kubectl("delete", "pod", f"e2e-web-{i}", "--wait=false", check=False)
        cluster.kubectl("delete", "pod", "e2e-huge", "--wait=false", check=False)
    assert scheduler.process.returncode == 0
    assert_not_refused("scheduler", scheduler.log)  # system:kube-scheduler was enough


def test_standby_takes_over_when_the_leader_is_killed(cluster: Cluster):
    cluster.kubectl("apply", "-f", "-", input=node_yaml("ha-n1", cpu="64"))
    first = SchedulerProcess(cluster.kubeconfig_for("scheduler"), "--leader-elect")
    second = SchedulerProcess(cluster.kubeconfig_for("scheduler"), "--leader-elect")
    schedulers = [first, second]
    try:
        leader = wait_for(lambda: next((s for s in schedulers if s.saw("became leader")), None))
        standby = second if leader is first else first
        cluster.kubectl("apply", "-f", "-", input=pod_yaml("ha-before"))
        wait_for(lambda: node_of(cluster, "ha-before"))
        assert not standby.saw("became leader")
        assert not standby.saw("scheduler default-scheduler started")

        leader.process.send_signal(signal.SIGKILL)  # no chance to release the lease
        leader.process.wait(10)
        killed_at = time.monotonic()
        for i in range(3):
            cluster.kubectl("apply", "-f", "-", input=pod_yaml(f"ha-after-{i}"))
        for i in range(3):
            wait_for(lambda i=i: node_of(cluster, f"ha-after-{i}"), within=40)
        assert standby.when("became leader") - killed_at < 20
        names = [e["involvedObject"]["name"] for e in events(cluster, "Scheduled")
                 if e["involvedObject"]["name"].startswith("ha-")]
        for name in ("ha-before", "ha-after-0", "ha-after-1", "ha-after-2"):
            assert names.count(name) == 1, names  # bound exactly once
    finally:
        for scheduler in schedulers:
            scheduler.stop()
    for scheduler in schedulers:
        assert_not_refused("scheduler", scheduler.log)
