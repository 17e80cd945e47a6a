"""managedFields on every write: POST and PUT record an Update entry for their manager (the
``fieldManager`` parameter, else the User-Agent's product), a PUT without managedFields keeps
the stored ones, /status writes keep theirs, and server-side apply then conflicts with them."""

from __future__ import annotations

from typing import Any

from tests.apiserver._server import pod

PODS = "/api/v1/namespaces/default/pods"
APPLY = {"Content-Type": "application/apply-patch+yaml"}


def managers(obj: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"], e.get("subresource", "")): e["fieldsV1"]
            for e in obj["metadata"].get("managedFields", [])}


async def test_create_records_the_creator_with_defaults(client):
    status, created = await client.post(PODS + "?fieldManager=kubectl-create", pod("a", {"app": "a"}))
    assert status == 201
    [(key, fields)] = managers(created).items()
    assert key == ("kubectl-create", "Update", "")
    entry = created["metadata"]["managedFields"][0]
    assert entry["apiVersion"] == "v1" and entry["fieldsType"] == "FieldsV1" and entry["time"]
    container = fields["f:spec"]["f:containers"]['k:{"name":"c"}']
    assert "f:image" in container and "f:name" in container
    assert "f:terminationMessagePath" in container  # defaults belong to the creator, as in Kubernetes
    assert "f:app" in fields["f:metadata"]["f:labels"]
    assert "f:status" not in fields


async def test_manager_defaults_to_the_user_agent_product(client):
    status, created = await client.post(PODS, pod("ua"), headers={"User-Agent": "my-tool/1.2 (linux)"})
    assert status == 201
    assert list(managers(created)) == [("my-tool", "Update", "")]


async def test_put_records_the_updater_and_keeps_other_owners(client):
    _, created = await client.post(PODS + "?fieldManager=creator", pod("b", {"app": "b"}))
    body = {**created, "metadata": {k: v for k, v in created["metadata"].items() if k != "managedFields"}}
    body["metadata"]["labels"] = {"app": "b", "extra": "x"}
    status, updated = await client.put(PODS + "/b?fieldManager=kubectl-replace", body)
    assert status == 200
    owners = managers(updated)
    assert set(owners) == {("creator", "Update", ""), ("kubectl-replace", "Update", "")}
    assert owners[("kubectl-replace", "Update", "")] == {"f:metadata": {"f:labels": {"f:extra": {}}}}
    assert "f:app" in owners[("creator", "Update", "")]["f:metadata"]["f:labels"]

    # an unchanged PUT writes nothing
    status, again = await client.put(PODS + "/b?fieldManager=kubectl-replace", {
        **updated, "metadata": {k: v for k, v in updated["metadata"].items() if k != "managedFields"}})
    assert status == 200 and again["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]

    # [{}] clears them
    cleared = {**updated, "metadata": {**updated["metadata"], "managedFields": [{}]}}
    status, out = await client.put(PODS + "/b", cleared)
    assert status == 200 and "managedFields" not in out["metadata"]


async def test_status_writes_keep_managed_fields(client):
    _, created = await client.post(PODS + "?fieldManager=creator", pod("s"))
    body = {**created, "status": {"phase": "Running"}}
    body["metadata"] = {k: v for k, v in created["metadata"].items() if k != "managedFields"}
    status, updated = await client.put(PODS + "/s/status?fieldManager=kubelet", body)
    assert status == 200 and updated["status"]["phase"] == "Running"
    owners = managers(updated)
    assert owners[("kubelet", "Update", "status")] == {"f:status": {"f:phase": {}}}
    assert ("creator", "Update", "") in owners

    status, patched = await client.request("PATCH", PODS + "/s/status?fieldManager=other", {
        "status": {"message": "hi"}}, headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200
    owners = managers(patched)
    assert owners[("other", "Update", "status")] == {"f:status": {"f:message": {}}}
    assert ("kubelet", "Update", "status") in owners and ("creator", "Update", "") in owners


async def test_server_side_apply_conflicts_with_the_creator(client):
    await client.post(PODS + "?fieldManager=kubectl-create", pod("c"))
    config = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c"},
              "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    status, out = await client.request("PATCH", PODS + "/c?fieldManager=kubectl", config, headers=APPLY)
    assert status == 409, out
    assert out["reason"] == "Conflict"
    assert 'conflict with "kubectl-create" using v1: .spec.containers[name="c"].image' in out["message"]

    status, out = await client.request("PATCH", PODS + "/c?fieldManager=kubectl&force=true", config, headers=APPLY)
    assert status == 200 and out["spec"]["containers"][0]["image"] == "nginx:2"
    owners = managers(out)
    assert "f:image" in owners[("kubectl", "Apply", "")]["f:spec"]["f:containers"]['k:{"name":"c"}']
    assert "f:image" not in owners[("kubectl-create", "Update", "")]["f:spec"]["f:containers"]['k:{"name":"c"}']


async def test_replace_keeps_apply_ownership(client):
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}}
    status, applied = await client.request("PATCH", "/api/v1/namespaces/default/configmaps/cm?fieldManager=kubectl",
                                           config, headers=APPLY)
    assert status == 201
    body = {**applied, "data": {"a": "1", "b": "2"}}
    body["metadata"] = {k: v for k, v in applied["metadata"].items() if k != "managedFields"}
    status, replaced = await client.put("/api/v1/namespaces/default/configmaps/cm?fieldManager=kubectl-replace", body)
    assert status == 200
    owners = managers(replaced)
    assert owners[("kubectl", "Apply", "")] == {"f:data": {"f:a": {}}}
    assert owners[("kubectl-replace", "Update", "")] == {"f:data": {"f:b": {}}}


async def test_field_manager_must_be_short_and_printable(client):
    status, out = await client.post(PODS + "?fieldManager=" + "m" * 129, pod("long"))
    assert status == 422 and out["details"]["kind"] == "CreateOptions"
    assert out["details"]["causes"][0]["field"] == "fieldManager"
    assert "Too long" in out["message"]
    status, out = await client.post(PODS + "?fieldManager=tab%09bed", pod("tab"))
    assert status == 422 and "invalid character U+0009 (at position 3)" in out["message"]
    status, created = await client.post(PODS, pod("longua"), headers={"User-Agent": "x" * 300 + "/1.0"})
    assert status == 201 and created["metadata"]["managedFields"][0]["manager"] == "x" * 128
    status, out = await client.put(PODS + "/longua?fieldManager=" + "m" * 129, created)
    assert status == 422 and out["details"]["kind"] == "UpdateOptions"


async def test_large_objects_record_ownership_the_same_way(client):
    """Objects over the threshold have their managedFields computed in a thread: same result."""
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
           "data": {f"key{i}": "x" * 100 for i in range(1000)}}
    status, created = await client.post("/api/v1/namespaces/default/configmaps?fieldManager=loader", big)
    assert status == 201
    [entry] = created["metadata"]["managedFields"]
    assert entry["manager"] == "loader" and len(entry["fieldsV1"]["f:data"]) == 1000
    body = {**created, "data": {**created["data"], "key0": "changed"}}
    body["metadata"] = {k: v for k, v in created["metadata"].items() if k != "managedFields"}
    status, updated = await client.put("/api/v1/namespaces/default/configmaps/big?fieldManager=editor", body)
    assert status == 200
    owners = managers(updated)
    assert owners[("editor", "Update", "")] == {"f:data": {"f:key0": {}}}
    assert len(owners[("loader", "Update", "")]["f:data"]) == 999


async def test_kubectl_server_side_apply_takes_over_client_side_applied_fields(client):
    """Fields in the last-applied annotation may be taken by kubectl's own server-side apply
    (manager "kubectl") without force; other fields and other managers still conflict."""
    configmaps = "/api/v1/namespaces/default/configmaps"
    last = '{"apiVersion":"v1","data":{"a":"1"},"kind":"ConfigMap","metadata":{"name":"csa"}}\n'
    for name in ("csa", "csa2"):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"},
                "metadata": {"name": name, "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last}}}
        status, _ = await client.post(configmaps + "?fieldManager=kubectl-client-side-apply", body)
        assert status == 201
        status, _ = await client.request("PATCH", f"{configmaps}/{name}?fieldManager=editor", {"data": {"b": "x"}},
                                         headers={"Content-Type": "application/merge-patch+json"})
        assert status == 200
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "csa"}, "data": {"a": "2"}}
    status, out = await client.request("PATCH", f"{configmaps}/csa?fieldManager=kubectl", config, headers=APPLY)
    assert status == 200, out
    assert out["data"] == {"a": "2", "b": "x"}
    assert managers(out)[("kubectl", "Apply", "")] == {"f:data": {"f:a": {}}}

    status, out = await client.request("PATCH", f"{configmaps}/csa?fieldManager=kubectl",
                                       {**config, "data": {"a": "2", "b": "y"}}, headers=APPLY)
    assert status == 409 and 'conflict with "editor" using v1: .data.b' in out["message"]

    status, out = await client.request("PATCH", f"{configmaps}/csa2?fieldManager=someone",
                                       {**config, "metadata": {"name": "csa2"}}, headers=APPLY)
    assert status == 409 and 'conflict with "kubectl-client-side-apply"' in out["message"]
