"""Create, get, update, delete against a real server: what a client sees."""

from __future__ import annotations

import json

from tests.apiserver._server import TABLE, pod

PODS = "/api/v1/namespaces/default/pods"


async def test_create_fills_metadata_and_get_returns_it(client):
    status, created = await client.post(PODS, pod("web", {"app": "web"}))
    assert status == 201
    meta = created["metadata"]
    assert meta["namespace"] == "default" and meta["uid"] and meta["creationTimestamp"]
    assert meta["generation"] == 1 and int(meta["resourceVersion"]) > 0
    assert created["spec"]["restartPolicy"] == "Always"  # the kind's defaults ran
    status, got = await client.get(f"{PODS}/web")
    assert status == 200 and got == created


async def test_create_without_content_type_or_gvk_like_the_python_client(client):
    body = json.dumps({"metadata": {"name": "py"}, "data": {"a": "b"}}).encode()
    async with client.session.post(client.url + "/api/v1/namespaces/default/configmaps", data=body,
                                   headers={"Content-Type": ""}) as response:
        assert response.status == 201
        created = await response.json()
    assert created["apiVersion"] == "v1" and created["kind"] == "ConfigMap"


async def test_yaml_body(client):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  when: 2024-01-01T00:00:00Z\n"
    status, created = await client.post("/api/v1/namespaces/default/configmaps", raw=text.encode(),
                                        headers={"Content-Type": "application/yaml"})
    assert status == 201 and created["data"]["when"] == "2024-01-01T00:00:00Z"


async def test_generate_name(client):
    body = {"metadata": {"generateName": "kopf-event-"}, "data": {}}
    status, created = await client.post("/api/v1/namespaces/default/configmaps", body)
    assert status == 201
    name = created["metadata"]["name"]
    assert name.startswith("kopf-event-") and len(name) == len("kopf-event-") + 5


async def test_duplicate_is_already_exists(client):
    assert (await client.post(PODS, pod("dup")))[0] == 201
    status, error = await client.post(PODS, pod("dup"))
    assert status == 409 and error["reason"] == "AlreadyExists"
    assert error["message"] == 'pods "dup" already exists'


async def test_bad_bodies_are_400_415_413_never_500(client):
    status, error = await client.post(PODS, raw=b"{not json")
    assert status == 400 and error["kind"] == "Status" and error["reason"] == "BadRequest"
    status, error = await client.post(PODS, raw=b"a: [b", headers={"Content-Type": "application/yaml"})
    assert status == 400
    status, error = await client.post(PODS, raw=b"[1, 2]")
    assert status == 400
    status, error = await client.post(PODS, raw=b"k8s\x00\x0a\x02", headers={
        "Content-Type": "application/vnd.kubernetes.protobuf"})
    assert status == 415 and error["reason"] == "UnsupportedMediaType"
    status, error = await client.post(PODS, raw=b"{" + b" " * (3 * 1024 * 1024 + 10) + b"}")
    assert status == 413
    status, error = await client.post(PODS, {**pod("k"), "kind": "Service"})
    assert status == 400 and "kind" in error["message"]
    status, error = await client.post(PODS, {**pod("v"), "apiVersion": "apps/v1"})
    assert status == 400


async def test_field_validation(client):
    body = pod("strict")
    body["spec"]["foo"] = 1
    status, error = await client.post(PODS + "?fieldValidation=Strict", body)
    assert status == 400 and 'unknown field "spec.foo"' in error["message"]
    async with client.session.post(client.url + PODS + "?fieldValidation=Warn", data=json.dumps(body)) as r:
        assert r.status == 201
        assert any("spec.foo" in w for w in r.headers.getall("Warning"))
        assert "foo" not in (await r.json())["spec"]
    body = pod("typed")
    body["spec"]["containers"] = "nope"
    status, error = await client.post(PODS, body)
    assert status == 422 and error["reason"] == "Invalid" and error["details"]["causes"]


async def test_semantic_validation_is_invalid(client):
    status, error = await client.post(PODS, {"metadata": {"name": "Bad_Name"}, "spec": {"containers": []}})
    assert status == 422 and error["reason"] == "Invalid"
    status, error = await client.post(PODS, {"metadata": {}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    assert status == 422 and "name or generateName is required" in error["message"]


async def test_update_conflict_and_generation(client):
    _, created = await client.post("/apis/apps/v1/namespaces/default/deployments", {
        "metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    assert created["metadata"]["generation"] == 1
    stale = json.loads(json.dumps(created))
    created["spec"]["replicas"] = 3
    status, updated = await client.put("/apis/apps/v1/namespaces/default/deployments/d", created)
    assert status == 200 and updated["metadata"]["generation"] == 2
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    stale["spec"]["replicas"] = 5
    status, error = await client.put("/apis/apps/v1/namespaces/default/deployments/d", stale)
    assert status == 409 and error["reason"] == "Conflict"
    assert error["message"].startswith('Operation cannot be fulfilled on deployments.apps "d"')
    # an unchanged PUT writes nothing
    status, same = await client.put("/apis/apps/v1/namespaces/default/deployments/d", updated)
    assert status == 200 and same["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]


async def test_update_name_mismatch_and_missing(client):
    await client.post(PODS, pod("a"))
    status, _ = await client.put(f"{PODS}/a", pod("b"))
    assert status == 400
    status, error = await client.put(f"{PODS}/zzz", pod("zzz"))
    assert status == 404 and error["reason"] == "NotFound"


async def test_status_subresource_keeps_spec(client):
    _, created = await client.post(PODS, pod("s"))
    created["status"] = {"phase": "Running"}
    created["spec"]["activeDeadlineSeconds"] = 5
    status, updated = await client.put(f"{PODS}/s/status", created)
    assert status == 200 and updated["status"]["phase"] == "Running"
    assert "activeDeadlineSeconds" not in updated["spec"]
    # and the main resource ignores status
    updated["status"] = {"phase": "Failed"}
    status, again = await client.put(f"{PODS}/s", updated)
    assert status == 200 and again["status"]["phase"] == "Running"


async def test_scale_subresource(client):
    await client.post("/apis/apps/v1/namespaces/default/deployments", {
        "metadata": {"name": "sc"}, "spec": {"selector": {"matchLabels": {"app": "sc"}}, "template": {
            "metadata": {"labels": {"app": "sc"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    status, scale = await client.get("/apis/apps/v1/namespaces/default/deployments/sc/scale")
    assert status == 200 and scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    assert scale["status"]["selector"] == "app=sc"
    scale["spec"]["replicas"] = 4
    status, scaled = await client.put("/apis/apps/v1/namespaces/default/deployments/sc/scale", scale)
    assert status == 200 and scaled["spec"]["replicas"] == 4
    _, deployment = await client.get("/apis/apps/v1/namespaces/default/deployments/sc")
    assert deployment["spec"]["replicas"] == 4


async def test_binding_sets_node_name_once(client):
    await client.post(PODS, pod("b1"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b1"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    status, result = await client.post(f"{PODS}/b1/binding", binding)
    assert status == 201 and result["status"] == "Success"
    _, bound = await client.get(f"{PODS}/b1")
    assert bound["spec"]["nodeName"] == "node-1"
    status, error = await client.post(f"{PODS}/b1/binding", binding)
    assert status == 409


async def test_patch_with_an_unknown_type_is_415(client):
    await client.post(PODS, pod("p"))
    status, error = await client.request("PATCH", f"{PODS}/p", {"metadata": {"labels": {"a": "b"}}},
                                         headers={"Content-Type": "application/json"})
    assert status == 415 and error["kind"] == "Status"


async def test_dry_run_writes_nothing(client):
    status, created = await client.post(PODS + "?dryRun=All", pod("dry"))
    assert status == 201 and created["metadata"]["name"] == "dry"
    assert (await client.get(f"{PODS}/dry"))[0] == 404
    await client.post(PODS, pod("dry"))
    status, _ = await client.delete(f"{PODS}/dry?dryRun=All")
    assert status == 200
    assert (await client.get(f"{PODS}/dry"))[0] == 200


async def test_delete_options_from_body_or_query_and_preconditions(client):
    await client.post(PODS, pod("d1"))
    await client.post(PODS, pod("d2"))
    status, _ = await client.delete(f"{PODS}/d1", {"propagationPolicy": "Background"})
    assert status == 200 and (await client.get(f"{PODS}/d1"))[0] == 404
    status, _ = await client.delete(f"{PODS}/d2?propagationPolicy=Foreground")
    assert status == 200 and (await client.get(f"{PODS}/d2"))[0] == 404
    await client.post(PODS, pod("d3"))
    status, error = await client.delete(f"{PODS}/d3", {"preconditions": {"uid": "nope"}})
    assert status == 409
    status, error = await client.delete(f"{PODS}/d3", {"propagationPolicy": "Sideways"})
    assert status == 400
    status, error = await client.delete(f"{PODS}/nothere")
    assert status == 404


async def test_finalizers_hold_deletion_until_removed(client):
    body = pod("fin")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await client.post(PODS, body)
    status, deleting = await client.delete(f"{PODS}/fin")
    assert status == 200 and deleting["metadata"]["deletionTimestamp"]
    _, current = await client.get(f"{PODS}/fin")
    assert current["metadata"]["deletionTimestamp"]
    current["metadata"]["finalizers"] = []
    status, _ = await client.put(f"{PODS}/fin", current)
    assert status == 200
    assert (await client.get(f"{PODS}/fin"))[0] == 404


async def test_scheduled_pod_stays_terminating_until_grace_zero(client):
    await client.post(PODS, pod("g", nodeName="node-1"))
    status, deleting = await client.delete(f"{PODS}/g")
    assert status == 200 and deleting["metadata"]["deletionGracePeriodSeconds"] == 30
    assert (await client.get(f"{PODS}/g"))[0] == 200
    status, _ = await client.delete(f"{PODS}/g", {"gracePeriodSeconds": 0})
    assert status == 200 and (await client.get(f"{PODS}/g"))[0] == 404


async def test_foreground_waits_for_dependents(client):
    _, owner = await client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    await client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "dep", "ownerReferences": [ref]}})
    status, deleting = await client.delete("/api/v1/namespaces/default/configmaps/owner",
                                           {"propagationPolicy": "Foreground"})
    assert status == 202 and deleting["metadata"]["finalizers"] == ["foregroundDeletion"]


async def test_namespaces_lifecycle(client):
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        status, ns = await client.get(f"/api/v1/namespaces/{name}")
        assert status == 200 and ns["status"]["phase"] == "Active"
    assert (await client.post("/api/v1/namespaces", {"metadata": {"name": "team"}}))[0] == 201
    assert (await client.post("/api/v1/namespaces/team/pods", pod("x")))[0] == 201
    status, ns = await client.delete("/api/v1/namespaces/team")
    assert status == 200 and ns["status"]["phase"] == "Terminating"
    status, error = await client.post("/api/v1/namespaces/team/pods", pod("y"))
    assert status == 403 and "because it is being terminated" in error["message"]
    status, error = await client.delete("/api/v1/namespaces/default")
    assert status == 403
    _, ns = await client.get("/api/v1/namespaces/team")
    ns["spec"]["finalizers"] = []
    status, _ = await client.put("/api/v1/namespaces/team/finalize", ns)
    assert status == 200 and (await client.get("/api/v1/namespaces/team"))[0] == 404


async def test_services_get_cluster_ips_and_node_ports(client):
    status, kubernetes = await client.get("/api/v1/namespaces/default/services/kubernetes")
    assert status == 200 and kubernetes["spec"]["clusterIP"] == "127.64.0.1"
    svc = {"metadata": {"name": "web"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    status, created = await client.post("/api/v1/namespaces/default/services", svc)
    assert status == 201
    ip, node_port = created["spec"]["clusterIP"], created["spec"]["ports"][0]["nodePort"]
    assert ip.startswith("127.64.") and 30000 <= node_port <= 32767
    taken = {"metadata": {"name": "web2"}, "spec": {"clusterIP": ip, "ports": [{"port": 80}]}}
    status, error = await client.post("/api/v1/namespaces/default/services", taken)
    assert status == 422
    assert (await client.delete("/api/v1/namespaces/default/services/web"))[0] == 200
    status, _ = await client.post("/api/v1/namespaces/default/services", taken)
    assert status == 201  # released on delete


async def test_cluster_scoped_and_other_groups(client):
    status, _ = await client.post("/api/v1/nodes", {"metadata": {"name": "n1"}})
    assert status == 201
    status, node = await client.get("/api/v1/nodes/n1")
    assert status == 200 and "namespace" not in node["metadata"]
    status, role = await client.post("/apis/rbac.authorization.k8s.io/v1/clusterroles",
                                     {"metadata": {"name": "r"}, "rules": []})
    assert status == 201
    status, error = await client.get("/apis/apps/v1/namespaces/default/deployments/none")
    assert status == 404 and error["message"] == 'deployments.apps "none" not found'
    assert error["details"]["group"] == "apps"


async def test_unknown_paths_and_methods(client):
    assert (await client.get("/api/v1/widgets"))[0] == 404
    assert (await client.get("/apis/nope/v1/things"))[0] == 404
    assert (await client.post("/api/v1/pods", pod("x")))[0] == 405
    assert (await client.request("POST", f"{PODS}/x", pod("x")))[0] == 405
    assert (await client.get(f"{PODS}/x/log"))[0] == 404


async def test_single_get_as_table(client):
    await client.post(PODS, pod("t"))
    status, table = await client.get(f"{PODS}/t", headers={"Accept": TABLE})
    assert status == 200 and table["kind"] == "Table" and len(table["rows"]) == 1
    assert table["rows"][0]["cells"][0] == "t"
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_deletecollection_with_a_selector(client):
    for name, app in (("dc1", "gone"), ("dc2", "gone"), ("dc3", "stays")):
        await client.post(PODS, pod(name, {"app": app}))
    status, deleted = await client.delete(PODS + "?labelSelector=app%3Dgone")
    assert status == 200 and deleted["kind"] == "PodList"
    assert sorted(item["metadata"]["name"] for item in deleted["items"]) == ["dc1", "dc2"]
    _, left = await client.get(PODS)
    assert [item["metadata"]["name"] for item in left["items"]] == ["dc3"]


async def test_verbs_the_registry_does_not_list_are_405(client):
    status, error = await client.delete("/api/v1/namespaces")
    assert status == 405 and error["reason"] == "MethodNotAllowed"
    status, _ = await client.get("/api/v1/namespaces/default/bindings")
    assert status == 405


async def test_legacy_bindings_collection_binds_the_named_pod(client):
    await client.post(PODS, pod("lb"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "lb"},
               "target": {"kind": "Node", "name": "node-2"}}
    status, _ = await client.post("/api/v1/namespaces/default/bindings", binding)
    assert status == 201
    _, bound = await client.get(f"{PODS}/lb")
    assert bound["spec"]["nodeName"] == "node-2"
