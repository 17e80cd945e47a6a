"""pods/eviction (policy/v1 Eviction) honouring PodDisruptionBudgets, and the bindings resource."""

from __future__ import annotations

from typing import Any

from tests.apiserver._server import pod

PODS = "/api/v1/namespaces/default/pods"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


def eviction(name: str, **options: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction",
                            "metadata": {"name": name, "namespace": "default"}}
    if options:
        body["deleteOptions"] = options
    return body


async def running_pod(client, name: str, ready: bool = True, app: str = "web",
                      owner: dict[str, Any] | None = None) -> None:
    body = pod(name, {"app": app})
    if owner is not None:
        body["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner["kind"], "controller": True,
                                                "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}]
    status, created = await client.post(PODS, body)
    assert status == 201, created
    created["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]}
    status, out = await client.put(f"{PODS}/{name}/status", created)
    assert status == 200, out


def budget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


async def exists(client, name: str) -> bool:
    status, _ = await client.get(f"{PODS}/{name}")
    return status == 200


async def test_eviction_without_a_budget_deletes_the_pod(client):
    await running_pod(client, "lonely", app="other")
    status, out = await client.post(f"{PODS}/lonely/eviction", eviction("lonely"))
    assert status == 201, out
    assert out["kind"] == "Status" and out["status"] == "Success"
    assert not await exists(client, "lonely")

    status, out = await client.post(f"{PODS}/missing/eviction", eviction("missing"))
    assert status == 404
    status, out = await client.post(f"{PODS}/x/eviction", eviction("y"))
    assert status == 400 and "does not match" in out["message"]


async def test_budget_computed_from_pods_when_it_has_no_status(client):
    for name in ("w1", "w2", "w3"):
        await running_pod(client, name)
    status, _ = await client.post(PDBS, budget("pdb", minAvailable=2))
    assert status == 201

    status, out = await client.post(f"{PODS}/w1/eviction", eviction("w1"))
    assert status == 201, out
    assert not await exists(client, "w1")

    status, out = await client.post(f"{PODS}/w2/eviction", eviction("w2"))
    assert status == 429, out
    assert out["reason"] == "TooManyRequests" and out["message"] == VIOLATION
    assert out["details"]["causes"] == [{"reason": "DisruptionBudget",
                                         "message": "The disruption budget pdb needs 2 healthy pods and has 2 "
                                                    "currently"}]
    assert await exists(client, "w2")

    # dry run of an allowed eviction changes nothing; an unready pod may go while the budget is healthy
    await running_pod(client, "sick", ready=False)
    status, out = await client.post(f"{PODS}/sick/eviction?dryRun=All", eviction("sick"))
    assert status == 201 and await exists(client, "sick")
    status, out = await client.post(f"{PODS}/sick/eviction", eviction("sick"))
    assert status == 201 and not await exists(client, "sick")


async def test_percentages_and_max_unavailable_count_the_controllers_replicas(client):
    replica_set = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
                   "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": {"app": "web"}},
                                         "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    status, owner = await client.post("/apis/apps/v1/namespaces/default/replicasets", replica_set)
    assert status == 201, owner
    for name in ("p1", "p2", "p3", "p4"):
        await running_pod(client, name, owner=owner)
    await client.post(PDBS, budget("pct", maxUnavailable="25%"))  # 1 of the 4 replicas may be down
    status, out = await client.post(f"{PODS}/p1/eviction", eviction("p1"))
    assert status == 201, out
    # p1 is gone but the ReplicaSet still wants 4: three healthy, three needed
    status, out = await client.post(f"{PODS}/p2/eviction", eviction("p2"))
    assert status == 429 and out["message"] == VIOLATION
    assert out["details"]["causes"][0]["message"] == "The disruption budget pct needs 3 healthy pods and has 3 " \
                                                     "currently"

    status, _ = await client.delete(f"{PDBS}/pct")
    assert status == 200
    await client.post(PDBS, budget("half", minAvailable="50%"))  # 2 of 4 must stay
    status, out = await client.post(f"{PODS}/p2/eviction", eviction("p2"))
    assert status == 201, out
    status, out = await client.post(f"{PODS}/p3/eviction", eviction("p3"))
    assert status == 429, out


async def test_budget_status_from_the_controller_is_used_and_decremented(client):
    for name in ("s1", "s2"):
        await running_pod(client, name)
    status, created = await client.post(PDBS, budget("ctl", minAvailable=0))
    assert status == 201
    created["status"] = {"observedGeneration": created["metadata"]["generation"], "disruptionsAllowed": 1,
                         "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2}
    status, out = await client.put(f"{PDBS}/ctl/status", created)
    assert status == 200, out

    status, out = await client.post(f"{PODS}/s1/eviction", eviction("s1"))
    assert status == 201, out
    _, pdb = await client.get(f"{PDBS}/ctl")
    assert pdb["status"]["disruptionsAllowed"] == 0 and list(pdb["status"]["disruptedPods"]) == ["s1"]

    # minAvailable 0 would allow it, but the controller's status says no more
    status, out = await client.post(f"{PODS}/s2/eviction", eviction("s2"))
    assert status == 429 and out["details"]["causes"][0]["message"] == (
        "The disruption budget ctl needs 1 healthy pods and has 2 currently")


async def test_pending_pods_and_two_budgets(client):
    status, _ = await client.post(PODS, pod("pending", {"app": "web"}))
    await client.post(PDBS, budget("strict", minAvailable="100%"))
    status, out = await client.post(f"{PODS}/pending/eviction", eviction("pending"))
    assert status == 201, out  # a pending pod ignores budgets

    await running_pod(client, "r1")
    await client.post(PDBS, budget("second", maxUnavailable=0))
    status, out = await client.post(f"{PODS}/r1/eviction", eviction("r1"))
    assert status == 500 and "more than one PodDisruptionBudget" in out["message"]


async def test_second_binding_is_a_conflict(client):
    await client.post(PODS, pod("b"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}
    status, out = await client.post("/api/v1/namespaces/default/bindings", binding)
    assert status == 201, out
    _, bound = await client.get(f"{PODS}/b")
    assert bound["spec"]["nodeName"] == "n1"
    status, out = await client.post("/api/v1/namespaces/default/bindings",
                                    {**binding, "target": {"kind": "Node", "name": "n2"}})
    assert status == 409 and out["reason"] == "Conflict" and 'already assigned to node "n1"' in out["message"]
    status, out = await client.post(f"{PODS}/b/binding", {**binding, "target": {"kind": "Node", "name": "n2"}})
    assert status == 409


async def test_max_unavailable_needs_pods_with_controllers(client):
    await running_pod(client, "orphan")
    await client.post(PDBS, budget("any", maxUnavailable=1))
    status, out = await client.post(f"{PODS}/orphan/eviction", eviction("orphan"))
    assert status == 429 and out["message"] == VIOLATION
    assert out["details"]["causes"][0]["message"] == "The disruption budget any is still being processed by the server."
    assert "has no controller" in out["details"]["causes"][1]["message"]
