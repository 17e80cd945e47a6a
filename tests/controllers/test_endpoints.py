"""The Endpoints controller against a real API server (pod readiness written through /status)."""

from __future__ import annotations

from typing import Any

from hyperkube.client import Client, NotFound
from hyperkube.machinery.durations import now_rfc3339
from tests.controllers.conftest import eventually

PODS = "v1/pods"
SERVICES = "v1/services"
ENDPOINTS = "v1/endpoints"


def service(name: str, selector: dict[str, str] | None, ports: list[dict[str, Any]] | None = None,
            **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"team": "a"}},
                            "spec": {"ports": ports or [{"name": "http", "port": 80, "targetPort": 8080}], **spec}}
    if selector is not None:
        body["spec"]["selector"] = selector
    return body


async def run_pod(kube: Client, name: str, ip: str, *, labels: dict[str, str] | None = None, ready: bool = True,
                  node: str | None = "node-1", ports: list[dict[str, Any]] | None = None,
                  namespace: str = "default", **spec: Any) -> dict[str, Any]:
    """A pod as a kubelet would report it: Running with an IP, Ready or not."""
    container: dict[str, Any] = {"name": "c", "image": "nginx"}
    if ports:
        container["ports"] = ports
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": "web"}},
            "spec": {"containers": [container], **({"nodeName": node} if node else {}), **spec}}
    pod = await kube.create(PODS, body, namespace=namespace)
    await set_ready(kube, pod, ready, ip)
    return pod


async def set_ready(kube: Client, pod: dict[str, Any], ready: bool, ip: str | None = None) -> None:
    status: dict[str, Any] = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now_rfc3339()}]}
    if ip:
        status.update(podIP=ip, podIPs=[{"ip": ip}])
    await kube.patch_status(PODS, pod["metadata"]["name"], {"status": status}, namespace=pod["metadata"]["namespace"])


async def endpoints_where(kube: Client, name: str, check, namespace: str = "default") -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        try:
            found = await kube.get(ENDPOINTS, name, namespace=namespace)
        except NotFound:
            return None
        return found if check(found) else None

    return await eventually(probe)


def ips(endpoints: dict[str, Any], field: str = "addresses") -> list[str]:
    return sorted(a["ip"] for s in endpoints.get("subsets") or [] for a in s.get(field) or [])


async def test_ready_and_not_ready_addresses_with_target_refs(kube: Client, controllers) -> None:
    await controllers("endpoint")
    await kube.create(SERVICES, service("web", {"app": "web"}), namespace="default")
    a = await run_pod(kube, "a", "10.0.0.1")
    await run_pod(kube, "b", "10.0.0.2", ready=False, node="node-2")
    await run_pod(kube, "other", "10.0.0.3", labels={"app": "other"})
    found = await endpoints_where(kube, "web", lambda e: ips(e) == ["10.0.0.1"] and ips(e, "notReadyAddresses"))
    assert found["metadata"]["labels"] == {"team": "a"}
    subset = found["subsets"][0]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert subset["addresses"] == [{"ip": "10.0.0.1", "nodeName": "node-1", "targetRef": {
        "kind": "Pod", "namespace": "default", "name": "a", "uid": a["metadata"]["uid"]}}]
    assert [(x["ip"], x["nodeName"]) for x in subset["notReadyAddresses"]] == [("10.0.0.2", "node-2")]


async def test_endpoints_follow_readiness(kube: Client, controllers) -> None:
    await controllers("endpoint")
    await kube.create(SERVICES, service("web", {"app": "web"}), namespace="default")
    pod = await run_pod(kube, "a", "10.0.0.1", ready=False)
    await endpoints_where(kube, "web", lambda e: ips(e, "notReadyAddresses") == ["10.0.0.1"])
    for ready in (True, False, True):
        await set_ready(kube, pod, ready)  # informer event -> sync at once (no polling, no resync)
        field = "addresses" if ready else "notReadyAddresses"
        await endpoints_where(kube, "web", lambda e, f=field: ips(e, f) == ["10.0.0.1"])
    # a deleted pod leaves; the object stays, empty
    await kube.delete(PODS, "a", namespace="default", grace_period_seconds=0)
    await endpoints_where(kube, "web", lambda e: not e.get("subsets"))


async def test_named_target_port_resolved_per_pod(kube: Client, controllers) -> None:
    """Pods exposing the name on different numbers land in different subsets; a pod without
    the name has no endpoint."""
    await controllers("endpoint")
    ports = [{"name": "http", "port": 80, "targetPort": "web"}]
    await kube.create(SERVICES, service("web", {"app": "web"}, ports), namespace="default")
    await run_pod(kube, "a", "10.0.0.1", ports=[{"name": "web", "containerPort": 8080}])
    await run_pod(kube, "b", "10.0.0.2", ports=[{"name": "web", "containerPort": 9090}])
    await run_pod(kube, "c", "10.0.0.3", ports=[{"name": "other", "containerPort": 7070}])
    found = await endpoints_where(kube, "web", lambda e: len(e.get("subsets") or []) == 2)
    by_port = {s["ports"][0]["port"]: ips({"subsets": [s]}) for s in found["subsets"]}
    assert by_port == {8080: ["10.0.0.1"], 9090: ["10.0.0.2"]}


async def test_publish_not_ready_addresses_and_terminating_pods(kube: Client, controllers) -> None:
    await controllers("endpoint")
    await kube.create(SERVICES, service("web", {"app": "web"}, publishNotReadyAddresses=True, clusterIP="None"),
                      namespace="default")
    await run_pod(kube, "a", "10.0.0.1", ready=False, hostname="a", subdomain="web")
    found = await endpoints_where(kube, "web", lambda e: ips(e) == ["10.0.0.1"])
    assert found["subsets"][0]["addresses"][0]["hostname"] == "a"
    assert found["metadata"]["labels"] == {"team": "a", "service.kubernetes.io/headless": ""}
    # without publishNotReadyAddresses a terminating pod is gone from Endpoints
    await kube.create(SERVICES, service("plain", {"app": "web"}), namespace="default")
    await endpoints_where(kube, "plain", lambda e: ips(e, "notReadyAddresses") == ["10.0.0.1"])
    await kube.delete(PODS, "a", namespace="default")  # on a node: stays Terminating (grace period)
    await endpoints_where(kube, "plain", lambda e: not e.get("subsets"))
    found = await endpoints_where(kube, "web", lambda e: ips(e) == ["10.0.0.1"])


async def test_service_changes_and_deletion(kube: Client, controllers) -> None:
    await controllers("endpoint")
    await kube.create(SERVICES, service("web", {"app": "web"}), namespace="default")
    await run_pod(kube, "a", "10.0.0.1")
    await run_pod(kube, "b", "10.0.0.2", labels={"app": "api"})
    await endpoints_where(kube, "web", lambda e: ips(e) == ["10.0.0.1"])
    await kube.patch(SERVICES, "web", {"spec": {"selector": {"app": "api"}}}, namespace="default")
    await endpoints_where(kube, "web", lambda e: ips(e) == ["10.0.0.2"])
    # a pod relabelled into the Service joins it
    await kube.patch(PODS, "a", {"metadata": {"labels": {"app": "api"}}}, namespace="default")
    await endpoints_where(kube, "web", lambda e: ips(e) == ["10.0.0.1", "10.0.0.2"])
    # someone else's edit is put back
    await kube.patch(ENDPOINTS, "web", {"subsets": None}, namespace="default")
    await endpoints_where(kube, "web", lambda e: ips(e) == ["10.0.0.1", "10.0.0.2"])
    await kube.delete(SERVICES, "web", namespace="default")

    async def gone() -> bool:
        try:
            await kube.get(ENDPOINTS, "web", namespace="default")
        except NotFound:
            return True
        return False

    await eventually(gone)


async def test_selectorless_service_is_left_alone_and_kubernetes_lists_the_apiserver(kube: Client, server,
                                                                                     controllers) -> None:
    manual = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "external"},
              "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 5432}]}]}
    await kube.create(SERVICES, service("external", None), namespace="default")
    await kube.create(ENDPOINTS, manual, namespace="default")
    await controllers("endpoint")
    found = await endpoints_where(kube, "kubernetes", lambda e: bool(e.get("subsets")))
    port = int(server.url.rsplit(":", 1)[1])
    assert found["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                                 "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]
    assert found["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    external = await kube.get(ENDPOINTS, "external", namespace="default")
    assert ips(external) == ["192.0.2.10"]


async def test_addresses_beyond_capacity_are_truncated(kube: Client, server) -> None:
    from hyperkube.client import Config, EventRecorder, InformerFactory
    from hyperkube.controllers.base import ControllerContext
    from hyperkube.controllers.endpoints import EndpointsController

    for i in range(4):
        await run_pod(kube, f"p{i}", f"10.0.0.{i + 1}")
    await kube.create(SERVICES, service("web", {"app": "web"}), namespace="default")
    async with Client(Config(server=server.url)) as client:
        factory = InformerFactory(client)
        controller = EndpointsController(ControllerContext(client, factory, EventRecorder(client, "test")),
                                         max_addresses=3)
        factory.start()
        await factory.wait_for_sync()
        await controller.sync("default/web")
        found = await kube.get(ENDPOINTS, "web", namespace="default")
        assert len(ips(found)) == 3
        assert found["metadata"]["annotations"]["endpoints.kubernetes.io/over-capacity"] == "truncated"
        await factory.stop()
