"""PATCH against a real API server: every patch type, status, scale, dry run, concurrency."""

from __future__ import annotations

import asyncio

from tests.apiserver._server import pod

PODS = "/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


async def patch(client, path, body, content_type, query="", raw=None):
    return await client.request("PATCH", path + query, body, raw=raw, headers={"Content-Type": content_type})


def deployment(name="d", replicas=1, image="nginx"):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


async def test_strategic_merge_patch_merges_containers(client):
    body = pod("p", {"app": "p"})
    body["spec"]["containers"].append({"name": "side", "image": "busybox"})
    status, _ = await client.post(PODS, body)
    assert status == 201
    status, out = await patch(client, f"{PODS}/p", {"spec": {"$setElementOrder/containers": [{"name": "c"},
                                                                                           {"name": "side"}],
                                                             "containers": [{"name": "c", "image": "nginx:2"}]}},
                              "application/strategic-merge-patch+json")
    assert status == 200, out
    assert [(c["name"], c["image"]) for c in out["spec"]["containers"]] == [("c", "nginx:2"), ("side", "busybox")]
    assert int(out["metadata"]["resourceVersion"]) > 0


async def test_merge_patch_and_json_patch(client):
    await client.post(PODS, pod("m", {"app": "m"}))
    status, out = await patch(client, f"{PODS}/m", {"metadata": {"labels": {"x": "y", "app": None}}},
                              "application/merge-patch+json")
    assert status == 200 and out["metadata"]["labels"] == {"x": "y"}
    rv = out["metadata"]["resourceVersion"]
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": rv},
           {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/f"]}]
    status, out = await patch(client, f"{PODS}/m", ops, "application/json-patch+json")
    assert status == 200 and out["metadata"]["finalizers"] == ["example.com/f"]
    # the same test op again: the resourceVersion moved on, 422 and nothing changes
    status, failed = await patch(client, f"{PODS}/m", ops[:1] + [{"op": "remove", "path": "/metadata/finalizers"}],
                                 "application/json-patch+json")
    assert status == 422 and failed["reason"] == "Invalid"
    assert failed["message"] == "the server rejected our request due to an error in our request"
    _, now = await client.get(f"{PODS}/m")
    assert now["metadata"]["finalizers"] == ["example.com/f"]
    await patch(client, f"{PODS}/m", [{"op": "remove", "path": "/metadata/finalizers"}], "application/json-patch+json")


async def test_bad_patches(client):
    await client.post(PODS, pod("bad"))
    status, out = await patch(client, f"{PODS}/bad", {"a": 1}, "application/xml")
    assert status == 415 and out["reason"] == "UnsupportedMediaType"
    assert "application/json-patch+json" in out["message"]
    status, out = await patch(client, f"{PODS}/bad", {"op": "add"}, "application/json-patch+json")
    assert status == 400
    status, out = await patch(client, f"{PODS}/bad", [1], "application/merge-patch+json")
    assert status == 400
    status, out = await patch(client, f"{PODS}/nope", {"metadata": {}}, "application/merge-patch+json")
    assert status == 404 and out["message"] == 'pods "nope" not found'
    status, out = await patch(client, f"{PODS}/bad", {"spec": {"containers": [{"image": "x"}]}},
                              "application/strategic-merge-patch+json")
    assert status == 400 and "merge key" in out["message"]
    status, out = await patch(client, f"{PODS}/bad", {"spec": {"foo": 1}}, "application/merge-patch+json",
                              "?fieldValidation=Strict")
    assert status == 400 and 'unknown field "spec.foo"' in out["message"]
    status, out = await patch(client, f"{PODS}/bad", None, "application/merge-patch+json", "?fieldValidation=Strict",
                              raw=b'{"metadata":{"labels":{"a":"1","a":"2"}}}')
    assert status == 400 and 'duplicate field "metadata.labels.a"' in out["message"]
    status, out = await patch(client, f"{PODS}/bad", {"spec": {"containers": [{"name": "c", "image": ""}]}},
                              "application/strategic-merge-patch+json")
    assert status == 422, out


async def test_resource_version_precondition(client):
    _, created = await client.post(PODS, pod("rv"))
    old = created["metadata"]["resourceVersion"]
    await patch(client, f"{PODS}/rv", {"metadata": {"labels": {"a": "1"}}}, "application/merge-patch+json")
    status, out = await patch(client, f"{PODS}/rv", {"metadata": {"resourceVersion": old, "labels": {"a": "2"}}},
                              "application/merge-patch+json")
    assert status == 409 and out["reason"] == "Conflict"
    status, out = await patch(client, f"{PODS}/rv", {"metadata": {"uid": "not-this-one", "labels": {"a": "3"}}},
                              "application/merge-patch+json")
    assert status == 409 and "Precondition failed: UID in precondition: not-this-one" in out["message"]


async def test_concurrent_patches_all_land(client):
    await client.post(PODS, pod("race"))
    results = await asyncio.gather(*[
        patch(client, f"{PODS}/race", {"metadata": {"labels": {f"k{i}": "v"}}}, "application/merge-patch+json")
        for i in range(12)])
    assert all(status == 200 for status, _ in results)
    _, out = await client.get(f"{PODS}/race")
    assert set(out["metadata"]["labels"]) == {f"k{i}" for i in range(12)}


async def test_dry_run_changes_nothing(client):
    await client.post(PODS, pod("dry"))
    status, out = await patch(client, f"{PODS}/dry", {"metadata": {"labels": {"a": "b"}}},
                              "application/merge-patch+json", "?dryRun=All")
    assert status == 200 and out["metadata"]["labels"] == {"a": "b"}
    _, stored = await client.get(f"{PODS}/dry")
    assert stored["metadata"].get("labels") in (None, {})
    status, _ = await patch(client, f"{DEPLOYMENTS}/ghost", deployment("ghost"), "application/apply-patch+yaml",
                            "?fieldManager=x&dryRun=All")
    assert status == 201
    status, _ = await client.get(f"{DEPLOYMENTS}/ghost")
    assert status == 404


async def test_status_patch_touches_only_status(client):
    await client.post(PODS, pod("st"))
    status, out = await patch(client, f"{PODS}/st/status", {"status": {"phase": "Running"},
                                                            "metadata": {"labels": {"ignored": "y"}}},
                              "application/merge-patch+json")
    assert status == 200 and out["status"]["phase"] == "Running"
    assert "ignored" not in (out["metadata"].get("labels") or {})
    status, out = await patch(client, f"{PODS}/st", {"status": {"phase": "Failed"}}, "application/merge-patch+json")
    assert status == 200 and out["status"]["phase"] == "Running"


async def test_scale_patch(client):
    await client.post(DEPLOYMENTS, deployment("sc"))
    status, out = await patch(client, f"{DEPLOYMENTS}/sc/scale", {"spec": {"replicas": 3}},
                              "application/merge-patch+json")
    assert status == 200, out
    assert out["kind"] == "Scale" and out["spec"]["replicas"] == 3 and out["status"]["selector"] == "app=sc"
    _, d = await client.get(f"{DEPLOYMENTS}/sc")
    assert d["spec"]["replicas"] == 3
    status, out = await patch(client, f"{DEPLOYMENTS}/sc/scale", [{"op": "replace", "path": "/spec/replicas",
                                                                   "value": -1}], "application/json-patch+json")
    assert status == 422


async def test_server_side_apply(client):
    path = f"{DEPLOYMENTS}/ssa"
    status, out = await patch(client, path, deployment("ssa", replicas=2), "application/apply-patch+yaml",
                              "?fieldManager=alice")
    assert status == 201, out
    [entry] = out["metadata"]["managedFields"]
    assert entry["manager"] == "alice" and entry["operation"] == "Apply"
    assert "f:replicas" in entry["fieldsV1"]["f:spec"]
    # someone else changes replicas with an ordinary patch: they own it now
    status, out = await patch(client, path, {"spec": {"replicas": 5}}, "application/merge-patch+json",
                              "?fieldManager=bob")
    assert status == 200
    status, out = await patch(client, path, deployment("ssa", replicas=3), "application/apply-patch+yaml",
                              "?fieldManager=alice")
    assert status == 409
    assert out["message"] == 'Apply failed with 1 conflict: conflict with "bob" using apps/v1: .spec.replicas'
    assert out["details"]["causes"][0]["field"] == ".spec.replicas"
    status, out = await patch(client, path, deployment("ssa", replicas=3), "application/apply-patch+yaml",
                              "?fieldManager=alice&force=true")
    assert status == 200 and out["spec"]["replicas"] == 3
    # yaml bodies, and the fieldManager requirement
    yaml_body = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ssa\n  labels: {x: y}\n"
    status, out = await patch(client, path, None, "application/apply-patch+yaml", "?fieldManager=carol",
                              raw=yaml_body.encode())
    assert status == 200 and out["metadata"]["labels"] == {"x": "y"}
    status, out = await patch(client, path, deployment("ssa"), "application/apply-patch+yaml")
    assert status == 400 and "fieldManager" in out["message"]
    status, out = await patch(client, path, {"metadata": {}}, "application/merge-patch+json", "?force=true")
    assert status == 400


async def test_large_objects_patch_the_same_way(client):
    """Objects above the thread threshold are patched off the event loop, with the same result."""
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
           "data": {f"key{i}": "x" * 1000 for i in range(100)}}
    status, _ = await client.post("/api/v1/namespaces/default/configmaps", big)
    assert status == 201
    status, out = await patch(client, "/api/v1/namespaces/default/configmaps/big",
                              {"data": {"key0": None, "extra": "y"}}, "application/strategic-merge-patch+json",
                              "?fieldManager=editor")
    assert status == 200
    assert "key0" not in out["data"] and out["data"]["extra"] == "y" and len(out["data"]) == 100
    [entry] = [e for e in out["metadata"]["managedFields"] if e["manager"] == "editor"]  # beside the creator's
    assert entry["fieldsV1"] == {"f:data": {"f:extra": {}}}
