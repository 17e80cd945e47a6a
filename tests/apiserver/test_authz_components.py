"""The scheduler and the controller-manager under their bootstrap identities
(``system:kube-scheduler``, ``system:kube-controller-manager``) with RBAC on: a Deployment becomes
scheduled pods behind a Service, a deleted Deployment takes its ReplicaSet and pods with it (the garbage collector), a
deleted namespace is emptied and removed; and not one of their requests is refused."""

from __future__ import annotations

import aiohttp

from hyperkube.client import Client, Config
from hyperkube.controllers.manager import ControllerManager, ManagerOptions
from hyperkube.scheduler.scheduler import Scheduler, SchedulerConfig
from tests.apiserver._authz import ADMIN, As, secure_server, user
from tests.kubelet._harness import wait_for
from tests.scheduler._objects import node

TOKENS = {"admin": ADMIN, "scheduler": user("system:kube-scheduler"),
          "controllers": user("system:kube-controller-manager")}
NS = "/api/v1/namespaces/default"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


async def test_scheduler_and_controllers_need_nothing_they_are_not_given(tmp_path) -> None:
    async with secure_server(str(tmp_path), TOKENS) as server, aiohttp.ClientSession() as session, \
            Client(Config(server=server.url, token="scheduler")) as scheduler_client, \
            Client(Config(server=server.url, token="controllers")) as controllers_client:
        admin = As(session, server.url, "admin")
        status, out = await admin.post("/api/v1/nodes", node("n1"))
        assert status == 201, out
        scheduler = Scheduler(scheduler_client, SchedulerConfig())
        manager = ControllerManager(controllers_client, ManagerOptions(leader_elect=True, retry_period=0.2))
        await scheduler.start()
        await manager.start()
        try:
            labels = {"app": "web"}
            status, out = await admin.post(DEPLOYMENTS, {
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
                    "metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
            assert status == 201, out
            status, out = await admin.post(f"{NS}/services", {
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"selector": labels, "ports": [{"port": 80}]}})
            assert status == 201, out

            async def scheduled() -> bool:
                _, pods = await admin.get(f"{NS}/pods?labelSelector=app%3Dweb")
                return len(pods["items"]) == 2 and all(p["spec"].get("nodeName") == "n1" for p in pods["items"])

            await wait_for(scheduled)

            async def sliced() -> bool:
                _, slices = await admin.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
                                            "?labelSelector=kubernetes.io%2Fservice-name%3Dweb")
                return bool(slices["items"])

            await wait_for(sliced)
            status, _ = await admin.delete(f"{DEPLOYMENTS}/web")
            assert status == 200

            async def collected() -> bool:
                _, sets = await admin.get("/apis/apps/v1/namespaces/default/replicasets")
                _, pods = await admin.get(f"{NS}/pods")  # bound pods wait for a kubelet to finish deleting
                return not sets["items"] and all(p["metadata"].get("deletionTimestamp") for p in pods["items"])

            await wait_for(collected)
            status, _ = await admin.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                                "metadata": {"name": "scratch"}})
            await admin.post("/api/v1/namespaces/scratch/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                       "metadata": {"name": "x"}})
            status, _ = await admin.delete("/api/v1/namespaces/scratch")
            assert status == 200

            async def namespace_gone() -> bool:
                status, _ = await admin.get("/api/v1/namespaces/scratch")
                return status == 404

            await wait_for(namespace_gone)
        finally:
            await manager.stop()
            await scheduler.stop()
        async with session.get(server.url + "/metrics", headers={"Authorization": "Bearer admin"}) as response:
            metrics = await response.text()
        refused = [line for line in metrics.splitlines()
                   if line.startswith("apiserver_request_total") and 'code="403"' in line]
        assert refused == []
