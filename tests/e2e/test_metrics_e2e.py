"""``kubectl top`` end to end: a ``hyperkube apiserver`` process serving metrics.k8s.io from a real
``hyperkube kubelet`` (process runtime) running a pod that uses some CPU; the real kubectl's
``top node``/``top pod`` and ours show its numbers."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.e2e._cluster import Cluster
from tests.e2e.test_kubelet_e2e import kill_everything, start_kubelet, wait

#: about 300 millicores: 30 ms of work, 70 ms of sleep, over and over
BUSY = ("import time\\nwhile True:\\n    end = time.monotonic() + 0.03\\n    while time.monotonic() < end: pass\\n"
        "    time.sleep(0.07)")
#: a pod using much memory and no CPU
IDLE = "import time\\nheld = bytes(range(256)) * (1 << 18)\\ntime.sleep(3600)"
POD = """apiVersion: v1
kind: Pod
metadata: {{name: busy, labels: {{app: busy}}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: python
    command: ["{python}", "-c", "{busy}"]
    resources: {{requests: {{cpu: 100m}}}}
"""


def hyperkube_kubectl(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hyperkube", "kubectl", *args], capture_output=True, text=True,
                          env=cluster.env(), timeout=60)


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


@pytest.fixture(scope="module")
def busy_node(cluster: Cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("metrics-kubelet")
    process = None
    try:
        process, _port = start_kubelet(cluster, root, "metrics-node")
        cluster.kubectl("apply", "-f", "-", input=POD.format(node="metrics-node", python=sys.executable, busy=BUSY))
        cluster.kubectl("apply", "-f", "-", input=POD.format(node="metrics-node", python=sys.executable, busy=IDLE)
                        .replace("busy", "idle"))
        for name in ("busy", "idle"):
            wait(lambda n=name: cluster.kubectl("get", "pod", n, "-o", "jsonpath={.status.phase}").stdout == "Running")
        yield "metrics-node"
    finally:
        kill_everything(process, root)


def test_real_kubectl_top_node_and_pod_show_numbers(cluster: Cluster, busy_node: str) -> None:
    nodes = rows(wait(lambda: cluster.kubectl("top", "node", check=False).stdout))
    assert nodes[0] == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    [row] = [r for r in nodes[1:] if r[0] == busy_node]
    assert re.fullmatch(r"\d+m", row[1]) and re.fullmatch(r"\d+%", row[2])
    assert re.fullmatch(r"\d+Mi", row[3]) and int(row[3][:-2]) > 0 and re.fullmatch(r"\d+%", row[4])

    pods = rows(wait(lambda: cluster.kubectl("top", "pod", "busy", check=False).stdout))
    assert pods[0] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    name, cpu, memory = pods[1]
    assert name == "busy" and int(cpu[:-1]) >= 50 and int(memory[:-2]) > 0  # ~300m, Python's few Mi

    containers = rows(cluster.kubectl("top", "pod", "-l", "app=busy", "--containers").stdout)
    assert containers[0] == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert containers[1][:2] == ["busy", "main"]
    everywhere = rows(cluster.kubectl("top", "pod", "-A", "--no-headers").stdout)
    assert ["default", "busy"] in [r[:2] for r in everywhere]


@pytest.mark.parametrize("args", [("node",), ("node", "metrics-node"), ("pod",), ("pod", "busy"),
                                  ("pod", "-A", "--containers"), ("pod", "-l", "app=busy", "--no-headers")])
def test_our_kubectl_top_prints_what_kubectl_prints(cluster: Cluster, busy_node: str, args: tuple[str, ...]) -> None:
    """Both read the same batch of metrics (the API server keeps one for 10 s), so the output is
    the same to the byte; a batch boundary between the two runs just means trying again."""
    wait(lambda: cluster.kubectl("top", "pod", "busy", check=False).returncode == 0)
    for _attempt in range(3):
        theirs = cluster.kubectl("top", *args).stdout
        ours = hyperkube_kubectl(cluster, "top", *args)
        assert ours.returncode == 0, ours.stderr
        if ours.stdout == theirs:
            break
    assert ours.stdout == theirs
    assert "busy" in theirs or "metrics-node" in theirs


#: the flags our CLI does not offer yet (``--sort-by``, ``--sum``, ``--show-capacity``,
#: ``--field-selector``): top() called directly, against the real kubectl given them
DIRECT = """
import sys
from hyperkube.kubectl.session import Flags, run
from hyperkube.kubectl.top import top
kind, options = sys.argv[1], eval(sys.argv[2])
run(Flags(), lambda session: top(session, kind, [], **options))
"""


@pytest.mark.parametrize(("args", "options"), [
    (("pod", "--sort-by", "cpu"), {"sort_by": "cpu"}),
    (("pod", "--sort-by", "memory", "-A", "--sum"), {"sort_by": "memory", "all_namespaces": True, "sum": True}),
    (("pod", "--field-selector", "metadata.name=idle", "--containers"), {"field_selector": "metadata.name=idle",
                                                                         "containers": True}),
    (("node", "--show-capacity", "--sort-by", "memory"), {"show_capacity": True, "sort_by": "memory"}),
])
def test_sorting_sums_and_capacity_print_as_kubectl_does(cluster: Cluster, busy_node: str, args: tuple[str, ...],
                                                         options: dict) -> None:
    wait(lambda: cluster.kubectl("top", "pod", "idle", check=False).returncode == 0)
    full = {"all_namespaces": False, "selector": None, "containers": False, "no_headers": False, **options}
    for _attempt in range(3):
        theirs = cluster.kubectl("top", *args).stdout
        ours = subprocess.run([sys.executable, "-c", DIRECT, args[0], repr(full)], capture_output=True, text=True,
                              env=cluster.env(), timeout=60)
        assert ours.returncode == 0, ours.stderr
        if ours.stdout == theirs:
            break
    assert ours.stdout == theirs
