"""The EndpointSlice controller against a real API server (what kube-proxy consumes)."""

from __future__ import annotations

from typing import Any

from hyperkube.client import Client
from hyperkube.controllers.endpointslice import plan
from tests.controllers.conftest import eventually
from tests.controllers.test_endpoints import run_pod, service, set_ready

SERVICES = "v1/services"
SLICES = "discovery.k8s.io/v1/endpointslices"
MANAGED = "endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io"


async def slices_of(kube: Client, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    found = await kube.list(SLICES, namespace=namespace, label_selector=f"kubernetes.io/service-name={name},{MANAGED}")
    return found.get("items") or []


async def slices_where(kube: Client, name: str, check) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        found = await slices_of(kube, name)
        return found if check(found) else None

    return await eventually(probe)


def endpoints(slices: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["addresses"][0]: e for s in slices for e in s.get("endpoints") or []}


async def test_slice_with_conditions_labels_ports_and_owner(kube: Client, controllers) -> None:
    await controllers("endpointslice")
    svc = await kube.create(SERVICES, service("web", {"app": "web"}), namespace="default")
    a = await run_pod(kube, "a", "10.0.0.1")
    await run_pod(kube, "b", "10.0.0.2", ready=False)
    found = await slices_where(kube, "web", lambda s: len(endpoints(s)) == 2)
    assert len(found) == 1
    piece = found[0]
    assert piece["addressType"] == "IPv4"
    assert piece["metadata"]["name"].startswith("web-")
    assert piece["metadata"]["labels"] == {"team": "a", "kubernetes.io/service-name": "web",
                                           "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    assert piece["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                     "uid": svc["metadata"]["uid"], "controller": True,
                                                     "blockOwnerDeletion": True}]
    assert piece["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    by_ip = endpoints(found)
    assert by_ip["10.0.0.1"] == {"addresses": ["10.0.0.1"], "nodeName": "node-1",
                                 "conditions": {"ready": True, "serving": True, "terminating": False},
                                 "targetRef": {"kind": "Pod", "namespace": "default", "name": "a",
                                               "uid": a["metadata"]["uid"]}}
    assert by_ip["10.0.0.2"]["conditions"] == {"ready": False, "serving": False, "terminating": False}


async def test_conditions_follow_readiness_and_termination(kube: Client, controllers) -> None:
    await controllers("endpointslice")
    await kube.create(SERVICES, service("web", {"app": "web"}), namespace="default")
    pod = await run_pod(kube, "a", "10.0.0.1", ready=False)
    await slices_where(kube, "web", lambda s: endpoints(s).get("10.0.0.1", {}).get("conditions", {}).get("ready")
                       is False)
    await set_ready(kube, pod, True)
    first = await slices_where(kube, "web", lambda s: endpoints(s)["10.0.0.1"]["conditions"]["ready"] is True)
    # terminating (a pod on a node stays until its kubelet confirms): still serving, not ready
    await kube.delete("v1/pods", "a", namespace="default")
    found = await slices_where(kube, "web", lambda s: endpoints(s)["10.0.0.1"]["conditions"]["terminating"])
    assert endpoints(found)["10.0.0.1"]["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert found[0]["metadata"]["name"] == first[0]["metadata"]["name"]  # updated in place
    await kube.delete("v1/pods", "a", namespace="default", grace_period_seconds=0)
    # no endpoints: one empty placeholder slice remains
    found = await slices_where(kube, "web", lambda s: not endpoints(s))
    assert len(found) == 1 and found[0]["endpoints"] in (None, [])


async def test_at_most_max_endpoints_per_slice(kube: Client, controllers) -> None:
    await controllers("endpointslice", options={"max_endpoints_per_slice": 10})
    await kube.create(SERVICES, service("web", {"app": "web"}), namespace="default")
    for i in range(25):
        await run_pod(kube, f"p{i}", f"10.0.1.{i + 1}")
    found = await slices_where(kube, "web", lambda s: len(endpoints(s)) == 25)
    assert sorted(len(s["endpoints"]) for s in found) == [5, 10, 10]
    names = {s["metadata"]["name"] for s in found}
    for i in range(20):
        await kube.delete("v1/pods", f"p{i}", namespace="default", grace_period_seconds=0)
    found = await slices_where(kube, "web", lambda s: len(endpoints(s)) == 5 and len(s) == 1)
    assert found[0]["metadata"]["name"] in names  # the survivors' slice was kept


async def test_publish_not_ready_named_ports_and_other_services(kube: Client, controllers) -> None:
    await controllers("endpointslice")
    ports = [{"name": "http", "port": 80, "targetPort": "web"}, {"name": "metrics", "port": 9100}]
    await kube.create(SERVICES, service("web", {"app": "web"}, ports, publishNotReadyAddresses=True),
                      namespace="default")
    await run_pod(kube, "a", "10.0.0.1", ready=False, ports=[{"name": "web", "containerPort": 8080}])
    await run_pod(kube, "b", "10.0.0.2", ports=[{"name": "web", "containerPort": 8081}])
    found = await slices_where(kube, "web", lambda s: len(endpoints(s)) == 2)
    assert len(found) == 2  # two port sets, two slices
    by_port = {s["ports"][0]["port"]: s for s in found}
    assert by_port[8080]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"},
                                      {"name": "metrics", "port": 9100, "protocol": "TCP"}]
    assert endpoints([by_port[8080]])["10.0.0.1"]["conditions"]["ready"] is True
    # the selector changes: slices follow; the Service goes: its slices go
    await kube.patch(SERVICES, "web", {"spec": {"selector": {"app": "none"}}}, namespace="default")
    await slices_where(kube, "web", lambda s: len(s) == 1 and not endpoints(s))
    await kube.delete(SERVICES, "web", namespace="default")

    async def none_left() -> bool:
        return await slices_of(kube, "web") == []

    await eventually(none_left)


async def test_deleted_slice_is_recreated_and_kubernetes_slice(kube: Client, server, controllers) -> None:
    await controllers("endpointslice")
    await kube.create(SERVICES, service("web", {"app": "web"}), namespace="default")
    await run_pod(kube, "a", "10.0.0.1")
    found = await slices_where(kube, "web", lambda s: len(endpoints(s)) == 1)
    await kube.delete(SLICES, found[0]["metadata"]["name"], namespace="default")
    again = await slices_where(kube, "web", lambda s: len(endpoints(s)) == 1 and
                               s[0]["metadata"]["name"] != found[0]["metadata"]["name"])
    assert len(again) == 1

    async def master() -> dict[str, Any] | None:
        items = (await kube.list(SLICES, namespace="default", label_selector="kubernetes.io/service-name=kubernetes"))
        return (items.get("items") or [None])[0]

    piece = await eventually(master)
    port = int(server.url.rsplit(":", 1)[1])
    assert piece["metadata"]["name"] == "kubernetes"
    assert piece["endpoints"] == [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]
    assert piece["ports"] == [{"name": "https", "port": port, "protocol": "TCP"}]


def test_plan_keeps_endpoints_in_place_and_fills_slices_being_written() -> None:
    svc = {"metadata": {"name": "web", "namespace": "default", "uid": "u"}, "spec": {}}
    ports = [{"name": "", "port": 80, "protocol": "TCP"}]

    def ep(i: int, ready: bool = True) -> dict[str, Any]:
        return {"addresses": [f"10.0.0.{i}"], "conditions": {"ready": ready},
                "targetRef": {"kind": "Pod", "uid": f"p{i}"}}

    labels = {"x": "y"}
    full = {"metadata": {"name": "s1", "labels": labels}, "addressType": "IPv4", "ports": ports,
            "endpoints": [ep(1), ep(2), ep(3)]}
    partial = {"metadata": {"name": "s2", "labels": labels}, "addressType": "IPv4", "ports": ports,
               "endpoints": [ep(4)]}
    desired = {("IPv4", (("", 80, "TCP", ""),)): (ports, {f"p{i}": ep(i, i != 2) for i in (1, 2, 3, 4, 5, 6)})}
    create, update, delete = plan(svc, labels, desired, [full, partial], max_per_slice=3)
    assert delete == [] and create == []
    assert [(u["metadata"]["name"], [e["addresses"][0][-1] for e in u["endpoints"]]) for u in update] == [
        ("s1", ["1", "2", "3"]), ("s2", ["4", "5", "6"])]
    # nothing changed: nothing written
    desired = {("IPv4", (("", 80, "TCP", ""),)): (ports, {f"p{i}": ep(i) for i in (1, 2, 3, 4)})}
    assert plan(svc, labels, desired, [full, partial], max_per_slice=3) == ([], [], [])


async def test_mirroring_of_selectorless_service_endpoints(kube: Client, controllers) -> None:
    await controllers("endpointslicemirroring")
    await kube.create(SERVICES, service("db", None, [{"name": "pg", "port": 5432}]), namespace="default")
    endpoints = await kube.create("v1/endpoints", {"metadata": {"name": "db", "labels": {"team": "b"}}, "subsets": [
        {"addresses": [{"ip": "192.0.2.1"}], "notReadyAddresses": [{"ip": "192.0.2.2"}],
         "ports": [{"name": "pg", "port": 5432}]}]}, namespace="default")
    label = "kubernetes.io/service-name=db,endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io"

    async def mirrored() -> list[dict[str, Any]] | None:
        items = (await kube.list(SLICES, namespace="default", label_selector=label))["items"]
        return items if items and len(items[0].get("endpoints") or []) == 2 else None

    found = await eventually(mirrored)
    piece = found[0]
    assert piece["ports"] == [{"name": "pg", "port": 5432, "protocol": "TCP"}]
    assert piece["metadata"]["labels"]["team"] == "b"
    assert piece["metadata"]["ownerReferences"][0]["uid"] == endpoints["metadata"]["uid"]
    assert {e["addresses"][0]: e["conditions"]["ready"] for e in piece["endpoints"]} == {
        "192.0.2.1": True, "192.0.2.2": False}
    # the Endpoints say skip-mirror: the slices go
    await kube.patch("v1/endpoints", "db", {"metadata": {"labels": {
        "endpointslice.kubernetes.io/skip-mirror": "true"}}}, namespace="default")

    async def none_left() -> bool:
        return (await kube.list(SLICES, namespace="default", label_selector=label))["items"] == []

    await eventually(none_left)
