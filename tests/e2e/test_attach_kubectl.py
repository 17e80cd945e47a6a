"""The real kubectl's ``attach -i`` to a ``stdin: true`` process container on a real kubelet: what
kubectl reads from its stdin reaches the container, and a ``stdinOnce`` container sees the end
of its input when the session ends."""

from __future__ import annotations

import json
import sys

from tests.e2e._cluster import Cluster
from tests.e2e.test_kubelet_e2e import kill_everything, start_kubelet, wait

UPPER = "import sys\nfor line in sys.stdin:\n    print(line.upper(), end='', flush=True)\nprint('bye', flush=True)"


def test_kubectl_attach_feeds_stdin_and_ends_a_stdin_once_container(cluster: Cluster, tmp_path) -> None:
    root = tmp_path / "root"
    kubelet = None
    try:
        kubelet, _ = start_kubelet(cluster, root, "attach-node")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "upper"}, "spec": {
            "nodeName": "attach-node", "restartPolicy": "Never", "containers": [{
                "name": "main", "image": "python", "stdin": True, "stdinOnce": True,
                "command": [sys.executable, "-u", "-c", UPPER]}]}}
        cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
        wait(lambda: cluster.kubectl("get", "pod", "upper", "-o", "jsonpath={.status.phase}").stdout == "Running")
        result = cluster.kubectl("attach", "-i", "upper", "-c", "main", input="hello\nworld\n", timeout=60)
        assert "HELLO\nWORLD\n" in result.stdout
        wait(lambda: cluster.kubectl("get", "pod", "upper", "-o", "jsonpath={.status.phase}").stdout == "Succeeded")
        assert cluster.kubectl("logs", "upper").stdout == "HELLO\nWORLD\nbye\n"
    finally:
        kill_everything(kubelet, root)
