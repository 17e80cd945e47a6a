"""A real kubelet under its node identity: the Node authorizer lets it do its whole job (register
its Node, renew its Lease, read its pod's Secret and ConfigMap, write the pod's status, record
events) with no RBAC binding at all, and nothing it did was refused."""

from __future__ import annotations

import base64
import sys

import aiohttp

from hyperkube.client import Client, Config
from hyperkube.kubelet.kubelet import Kubelet, KubeletConfig
from tests.apiserver._authz import ADMIN, As, create, secure_server, user
from tests.kubelet._harness import wait_for

TOKENS = {"admin": ADMIN, "node": user("system:node:node-1", "system:nodes")}
NS = "/api/v1/namespaces/default"


async def test_a_kubelet_runs_its_pod_with_node_authorization_only(tmp_path) -> None:
    async with secure_server(str(tmp_path / "api"), TOKENS) as server, aiohttp.ClientSession() as session:
        admin = As(session, server.url, "admin")
        await create(server, admin, f"{NS}/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {
            "name": "pw"}, "data": {"pw": base64.b64encode(b"hunter2").decode()}})
        await create(server, admin, f"{NS}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "app"}, "data": {"greeting": "hello"}})
        code = "import os, sys; sys.exit(0 if os.environ['PW'] + os.environ['GREETING'] == 'hunter2hello' else 3)"
        await create(server, admin, f"{NS}/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                                   "spec": {"nodeName": "node-1", "restartPolicy": "Never",
                                                            "containers": [{
            "name": "c", "image": "python", "command": [sys.executable, "-c", code],
            "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "pw", "key": "pw"}}},
                    {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "greeting"}}}]}]}})
        async with Client(Config(server=server.url, token="node")) as client:
            kubelet = Kubelet(client, KubeletConfig(node_name="node-1", root_dir=str(tmp_path / "kubelet"), port=0,
                                                    backoff_initial=1.0, node_status_frequency=2.0))
            await kubelet.start()
            try:
                async def succeeded() -> bool:
                    status, pod = await admin.get(f"{NS}/pods/p")
                    return (pod.get("status") or {}).get("phase") == "Succeeded"

                await wait_for(succeeded)
            finally:
                await kubelet.stop(stop_pods=True)
        status, node = await admin.get("/api/v1/nodes/node-1")
        assert status == 200 and node["status"]["conditions"]
        status, _ = await admin.get("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1")
        assert status == 200
        status, events = await admin.get(f"{NS}/events")
        assert any(e["involvedObject"].get("name") == "p" for e in events["items"])
        async with session.get(server.url + "/metrics", headers={"Authorization": "Bearer admin"}) as response:
            metrics = await response.text()
        refused = [line for line in metrics.splitlines()
                   if line.startswith("apiserver_request_total") and 'code="403"' in line]
        assert refused == []
