"""The pod status computation on its own (pure functions): phases, readiness gates."""

from __future__ import annotations

import time

from hyperkube.kubelet.runtime import EXITED, RUNNING, ContainerStatus
from hyperkube.kubelet.status import ContainerView, phase_of, pod_status


def _view(name: str, state: str, code: int | None = None, ready: bool = False) -> ContainerView:
    now = time.time()
    current = ContainerStatus(name, 0, state, now, finished_at=now if state == EXITED else None, exit_code=code)
    return ContainerView({"name": name, "image": "x"}, current, ready=ready)


def test_phases_follow_restart_policy():
    never = {"spec": {"restartPolicy": "Never"}}
    assert phase_of(never, [], [_view("a", EXITED, 0), _view("b", EXITED, 0)]) == "Succeeded"
    assert phase_of(never, [], [_view("a", EXITED, 0), _view("b", EXITED, 1)]) == "Failed"
    assert phase_of(never, [], [_view("a", EXITED, 0), _view("b", RUNNING)]) == "Running"
    assert phase_of({"spec": {}}, [], [_view("a", EXITED, 0)]) == "Running"  # Always restarts it
    assert phase_of(never, [], [ContainerView({"name": "a"})]) == "Pending"


def test_readiness_gates_hold_ready_until_their_condition_is_true():
    pod = {"metadata": {"name": "p"}, "spec": {"readinessGates": [{"conditionType": "example.com/lb"}]}}
    views = [_view("a", RUNNING, ready=True)]
    status = pod_status(pod, [], views, node_ip="127.0.0.1", start_time=time.time(), qos_class="BestEffort",
                        api_status={"conditions": []})
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["ContainersReady"]["status"] == "True" and conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "ReadinessGatesNotReady"
    gate = {"type": "example.com/lb", "status": "True"}
    status = pod_status(pod, [], views, node_ip="127.0.0.1", start_time=time.time(), qos_class="BestEffort",
                        api_status={"conditions": [gate]})
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True" and conditions["example.com/lb"]["status"] == "True"
