"""CustomResourceDefinitions over HTTP against in-process API servers (a real SQLite store)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from hyperkube.apiserver.app import APIServer, APIServerConfig
from hyperkube.storage.interface import RangeRequest, prefix_end
from tests.apiserver._server import TABLE, Client

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
MERGE = {"Content-Type": "application/merge-patch+json"}


def definition(group: str = "example.com", plural: str = "widgets", kind: str = "Widget",
               scope: str = "Namespaced", **version_extra: Any) -> dict[str, Any]:
    version = {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                   "spec": {"type": "object", "properties": {
                       "size": {"type": "integer", "minimum": 1, "default": 1},
                       "color": {"type": "string"},
                       "replicas": {"type": "integer"},
                       "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                       "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                       "port": {"x-kubernetes-int-or-string": True}}},
                   "status": {"type": "object", "properties": {"phase": {"type": "string"},
                                                               "replicas": {"type": "integer"},
                                                               "selector": {"type": "string"}}}}}}}
    version.update(version_extra)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": scope,
                     "names": {"plural": plural, "singular": plural[:-1], "kind": kind, "shortNames": ["wd"]},
                     "versions": [version]}}


def item(name: str, group: str = "example.com", version: str = "v1", kind: str = "Widget",
         **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": {"name": name}, "spec": spec}


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def established(client: Client, name: str) -> dict[str, Any]:
    async def check() -> Any:
        status, crd = await client.get(f"{CRDS}/{name}")
        conditions = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions", [])}
        return crd if conditions.get("Established") == "True" else None
    return await eventually(check)


async def create_crd(client: Client, crd: dict[str, Any]) -> dict[str, Any]:
    status, body = await client.post(CRDS, crd)
    assert status == 201, body
    return await established(client, crd["metadata"]["name"])


async def test_crd_defaults_status_and_finalizer(client):
    crd = await create_crd(client, definition())
    assert crd["spec"]["names"]["listKind"] == "WidgetList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    status = crd["status"]
    assert status["acceptedNames"] == {"plural": "widgets", "singular": "widget", "kind": "Widget",
                                       "listKind": "WidgetList", "shortNames": ["wd"]}
    assert status["storedVersions"] == ["v1"]
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {"NamesAccepted": ("True", "NoConflicts"),
                          "Established": ("True", "InitialNamesAccepted")}
    code, table = await client.get(CRDS, headers={"Accept": TABLE})
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
    assert table["rows"][0]["cells"] == ["widgets.example.com", crd["metadata"]["creationTimestamp"]]


async def test_invalid_crds_are_422_with_causes(client):
    bad = definition()
    bad["spec"]["group"] = "nodot"
    bad["metadata"]["name"] = "widgets.nodot"
    bad["spec"]["versions"][0]["storage"] = False
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["tags"] = {
        "type": "array"}
    bad["spec"]["versions"][0]["subresources"]["scale"] = {"specReplicasPath": ".status.x",
                                                           "statusReplicasPath": ".status.replicas"}
    bad["spec"]["versions"][0]["additionalPrinterColumns"] = [{"name": "X", "type": "weird", "jsonPath": "spec"}]
    status, body = await client.post(CRDS, bad)
    assert status == 422, body
    causes = {c["field"]: c["message"] for c in body["details"]["causes"]}
    assert causes["spec.group"] == 'Invalid value: "nodot": should be a domain with at least one dot'
    assert "must have exactly one version marked as storage version" in causes["spec.versions"]
    assert causes["spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[tags].items"] == \
        "Required value: must be specified"
    assert "spec.versions[0].subresources.scale.specReplicasPath" in causes
    assert causes["spec.versions[0].additionalPrinterColumns[0].type"].startswith('Unsupported value: "weird"')
    assert "spec.versions[0].additionalPrinterColumns[0].jsonPath" in causes
    # scope is immutable
    await create_crd(client, definition())
    status, body = await client.request("PATCH", f"{CRDS}/widgets.example.com", {"spec": {"scope": "Cluster"}},
                                        headers=MERGE)
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec.scope"


async def test_custom_resources_crud_schema_and_storage_key(server, client):
    await create_crd(client, definition())
    base = "/apis/example.com/v1/namespaces/default/widgets"
    status, created = await client.post(base, item("a", color="red", port="http", free={"any": {"thing": 1}},
                                                   unknown=True) | {"status": {"phase": "x"}})
    assert status == 201, created
    assert created["spec"] == {"color": "red", "port": "http", "free": {"any": {"thing": 1}}, "size": 1}
    assert "status" not in created  # the status subresource owns status
    assert created["metadata"]["generation"] == 1
    kv = await server.store.get("/registry/example.com/widgets/default/a")
    assert kv is not None and orjson.loads(kv.value)["spec"]["size"] == 1

    status, body = await client.post(base, item("b", size=0, port=1.5))
    assert status == 422
    assert {c["field"] for c in body["details"]["causes"]} == {"spec.size", "spec.port"}
    status, body = await client.post(base + "?fieldValidation=Strict", item("c", nope=1))
    assert status == 400 and 'unknown field "spec.nope"' in body["message"]

    # main updates keep status, /status updates keep the rest; generation follows spec only
    status, patched = await client.request("PATCH", base + "/a", {"spec": {"size": 2}, "status": {"phase": "no"}},
                                           headers=MERGE)
    assert patched["spec"]["size"] == 2 and "status" not in patched and patched["metadata"]["generation"] == 2
    status, patched = await client.request("PATCH", base + "/a/status",
                                           {"spec": {"size": 9}, "status": {"phase": "Ready"}}, headers=MERGE)
    assert status == 200, patched
    assert patched["status"] == {"phase": "Ready"} and patched["spec"]["size"] == 2
    assert patched["metadata"]["generation"] == 2
    # json-patch with a test op, as kopf adds its finalizer
    rv = patched["metadata"]["resourceVersion"]
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": rv},
           {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/hold"]}]
    status, patched = await client.request("PATCH", base + "/a", raw=json.dumps(ops).encode(),
                                           headers={"Content-Type": "application/json-patch+json"})
    assert status == 200 and patched["metadata"]["finalizers"] == ["example.com/hold"]
    # strategic merge patch falls back to merge semantics
    status, patched = await client.request("PATCH", base + "/a", {"spec": {"labels": {"k": "v"}}},
                                           headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert status == 200 and patched["spec"]["labels"] == {"k": "v"}
    status, listed = await client.get("/apis/example.com/v1/widgets")
    assert listed["kind"] == "WidgetList" and [i["metadata"]["name"] for i in listed["items"]] == ["a"]


async def test_discovery_and_openapi_follow_crds(client):
    status, _ = await client.get("/apis/example.com/v1")
    assert status == 404
    await create_crd(client, definition(additionalPrinterColumns=[
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]))
    status, resources = await client.get("/apis/example.com/v1")
    names = {r["name"]: r for r in resources["resources"]}
    assert names["widgets"]["shortNames"] == ["wd"] and names["widgets"]["kind"] == "Widget"
    assert "widgets/status" in names
    status, groups = await client.get("/apis")
    group = next(g for g in groups["groups"] if g["name"] == "example.com")
    assert group["preferredVersion"] == {"groupVersion": "example.com/v1", "version": "v1"}
    status, aggregated = await client.get("/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
    assert "example.com" in [i["metadata"]["name"] for i in aggregated["items"]]
    status, root = await client.get("/openapi/v3")
    assert "apis/example.com/v1" in root["paths"]
    status, document = await client.get("/openapi/v3/apis/example.com/v1")
    widget = document["components"]["schemas"]["com.example.v1.Widget"]
    assert widget["x-kubernetes-group-version-kind"] == [{"group": "example.com", "version": "v1", "kind": "Widget"}]
    assert widget["properties"]["spec"]["properties"]["size"]["minimum"] == 1

    status, _ = await client.delete(f"{CRDS}/widgets.example.com")
    assert status == 200

    async def gone() -> bool:
        return (await client.get("/apis/example.com/v1"))[0] == 404
    await eventually(gone)
    status, root = await client.get("/openapi/v3")
    assert "apis/example.com/v1" not in root["paths"]
    assert "example.com" not in [g["name"] for g in (await client.get("/apis"))[1]["groups"]]


async def test_printer_columns_selectable_fields_and_scale(client):
    await create_crd(client, definition(
        subresources={"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                              "statusReplicasPath": ".status.replicas",
                                              "labelSelectorPath": ".status.selector"}},
        additionalPrinterColumns=[{"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                                  {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas",
                                   "priority": 1},
                                  {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}],
        selectableFields=[{"jsonPath": ".spec.color"}]))
    base = "/apis/example.com/v1/namespaces/default/widgets"
    for name, color in (("r", "red"), ("b", "blue")):
        await client.post(base, item(name, color=color, replicas=2))
    status, table = await client.get(base, headers={"Accept": TABLE})
    assert [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", "string", 0), ("Color", "string", 0), ("Replicas", "integer", 1), ("Phase", "string", 0)]
    assert sorted(r["cells"] for r in table["rows"]) == [["b", "blue", 2, None], ["r", "red", 2, None]]
    status, listed = await client.get(base + "?fieldSelector=spec.color%3Dred")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["r"]
    status, body = await client.get(base + "?fieldSelector=spec.size%3D1")
    assert status == 400 and "field label not supported" in body["message"]

    status, scale = await client.put(base + "/r/scale", {"apiVersion": "autoscaling/v1", "kind": "Scale",
                                                         "metadata": {"name": "r"}, "spec": {"replicas": 4}})
    assert status == 200 and scale["spec"]["replicas"] == 4
    await client.request("PATCH", base + "/r/status", {"status": {"replicas": 4, "selector": "app=r"}},
                         headers=MERGE)
    status, scale = await client.get(base + "/r/scale")
    assert scale["status"] == {"replicas": 4, "selector": "app=r"}
    status, obj = await client.get(base + "/r")
    assert obj["spec"]["replicas"] == 4 and obj["metadata"]["generation"] == 2
    status, body = await client.request("PATCH", base + "/r", {"spec": {"replicas": -1}}, headers=MERGE)
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec.replicas"


async def test_versions_share_storage_and_cluster_scope(server, client):
    crd = definition(scope="Cluster")
    v1 = crd["spec"]["versions"][0]
    crd["spec"]["versions"] = [v1, copy.deepcopy(v1) | {"name": "v1beta1", "storage": False}]
    await create_crd(client, crd)
    status, created = await client.post("/apis/example.com/v1beta1/widgets", item("old", version="v1beta1"))
    assert status == 201 and created["apiVersion"] == "example.com/v1beta1"
    assert "namespace" not in created["metadata"]
    kv = await server.store.get("/registry/example.com/widgets/old")
    assert orjson.loads(kv.value)["apiVersion"] == "example.com/v1"  # the storage version
    status, read = await client.get("/apis/example.com/v1/widgets/old")
    assert read["apiVersion"] == "example.com/v1"
    status, read = await client.get("/apis/example.com/v1beta1/widgets/old")
    assert read["apiVersion"] == "example.com/v1beta1"
    status, group = await client.get("/apis/example.com")
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    # dropping v1beta1 from the CRD stops serving it
    status, body = await client.request("PATCH", f"{CRDS}/widgets.example.com", raw=json.dumps([
        {"op": "remove", "path": "/spec/versions/1"}]).encode(),
        headers={"Content-Type": "application/json-patch+json"})
    assert status == 200, body

    async def v1beta1_gone() -> bool:
        return (await client.get("/apis/example.com/v1beta1/widgets/old"))[0] == 404
    await eventually(v1beta1_gone)
    assert (await client.get("/apis/example.com/v1/widgets/old"))[0] == 200


async def test_deleting_a_crd_waits_for_its_resources_finalizers(server, client):
    await create_crd(client, definition())
    base = "/apis/example.com/v1/namespaces/default/widgets"
    held = item("held") | {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    assert (await client.post(base, held))[0] == 201
    assert (await client.post(base, item("plain")))[0] == 201
    status, _ = await client.delete(f"{CRDS}/widgets.example.com")
    assert status == 200

    async def terminating() -> Any:
        status, crd = await client.get(f"{CRDS}/widgets.example.com")
        conditions = {c["type"]: c for c in crd["status"]["conditions"]}
        return "Terminating" in conditions and (await client.get(base + "/plain"))[0] == 404
    await eventually(terminating)
    status, body = await client.post(base, item("late"))
    assert status == 405 and "terminating" in body["message"]
    status, obj = await client.get(base + "/held")
    assert obj["metadata"]["deletionTimestamp"]
    # releasing the last finalizer lets the CRD go, and its API with it
    await client.request("PATCH", base + "/held", {"metadata": {"finalizers": None}}, headers=MERGE)

    async def crd_gone() -> bool:
        return (await client.get(f"{CRDS}/widgets.example.com"))[0] == 404 and \
            (await client.get("/apis/example.com/v1"))[0] == 404
    await eventually(crd_gone)
    left = await server.store.range(RangeRequest("/registry/example.com/", prefix_end("/registry/example.com/")))
    assert left.kvs == []


async def test_name_conflict_keeps_the_second_crd_unestablished(client):
    await create_crd(client, definition())
    rival = definition(plural="gizmos", kind="Gizmo")
    rival["spec"]["names"]["shortNames"] = ["wd"]  # taken by widgets
    status, _ = await client.post(CRDS, rival)
    assert status == 201

    async def reported() -> Any:
        crd = (await client.get(f"{CRDS}/gizmos.example.com"))[1]
        conditions = {c["type"]: c for c in crd.get("status", {}).get("conditions", [])}
        return conditions if "NamesAccepted" in conditions else None
    conditions = await eventually(reported)
    assert (conditions["NamesAccepted"]["status"], conditions["NamesAccepted"]["reason"],
            conditions["NamesAccepted"]["message"]) == ("False", "ShortNamesConflict", '"wd" is already in use')
    assert conditions["Established"]["status"] == "False"
    assert (await client.get("/apis/example.com/v1/gizmos"))[0] == 404
    # fixing the names accepts it
    await client.request("PATCH", f"{CRDS}/gizmos.example.com", {"spec": {"names": {"shortNames": ["gz"]}}},
                         headers=MERGE)
    await established(client, "gizmos.example.com")
    assert (await client.get("/apis/example.com/v1/gizmos"))[0] == 200


async def test_crds_are_served_at_start_and_across_api_servers(tmp_path):
    first = APIServer(APIServerConfig(port=0, data_dir=str(tmp_path)))
    await first.start()
    second: APIServer | None = None
    try:
        second = APIServer(APIServerConfig(port=0, data_dir=str(tmp_path / "other")), store=first.store)
        await second.start()
        async with aiohttp.ClientSession() as session:
            one, two = Client(session, first.url), Client(session, second.url)
            await create_crd(one, definition())

            async def served_by_two() -> bool:
                return (await two.get("/apis/example.com/v1/namespaces/default/widgets"))[0] == 200
            await eventually(served_by_two)
            assert (await two.post("/apis/example.com/v1/namespaces/default/widgets", item("x")))[0] == 201
        await second.stop()
        second = None
        # a server started on a store that has CRDs serves them from its first request
        third = APIServer(APIServerConfig(port=0, data_dir=str(tmp_path / "third")), store=first.store)
        await third.start()
        try:
            async with aiohttp.ClientSession() as session:
                status, body = await Client(session, third.url).get("/apis/example.com/v1/namespaces/default/"
                                                                    "widgets/x")
                assert status == 200 and body["spec"] == {"size": 1}
        finally:
            await third.stop()
    finally:
        if second is not None:
            await second.stop()
        await first.stop()


async def test_server_side_apply_and_watch_of_custom_resources(client):
    await create_crd(client, definition())
    base = "/apis/example.com/v1/namespaces/default/widgets"
    apply = {"Content-Type": "application/apply-patch+yaml"}
    status, created = await client.request("PATCH", base + "/ssa?fieldManager=tester",
                                           item("ssa", color="red"), headers=apply)
    assert status == 201, created
    assert created["spec"] == {"color": "red", "size": 1}
    managers = {m["manager"] for m in created["metadata"]["managedFields"]}
    assert managers == {"tester"}
    status, conflict = await client.request("PATCH", base + "/ssa?fieldManager=other",
                                            item("ssa", color="blue"), headers=apply)
    assert status == 409, conflict
    status, forced = await client.request("PATCH", base + "/ssa?fieldManager=other&force=true",
                                          item("ssa", color="blue"), headers=apply)
    assert status == 200 and forced["spec"]["color"] == "blue"

    async with client.session.get(client.url + base + "?watch=true&resourceVersion=0&timeoutSeconds=2") as response:
        first = json.loads(await response.content.readline())
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "ssa"
    assert first["object"]["kind"] == "Widget"


async def test_changing_the_schema_changes_validation_and_openapi(client):
    await create_crd(client, definition())
    base = "/apis/example.com/v1/namespaces/default/widgets"
    assert (await client.post(base, item("big", size=50)))[0] == 201
    path = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/size/maximum"
    status, body = await client.request("PATCH", f"{CRDS}/widgets.example.com", raw=json.dumps([
        {"op": "add", "path": path, "value": 10}]).encode(), headers={"Content-Type": "application/json-patch+json"})
    assert status == 200 and body["metadata"]["generation"] == 2

    async def enforced() -> bool:
        status, _ = await client.post(base + "?dryRun=All", item("bigger", size=11))
        return status == 422
    await eventually(enforced)
    status, document = await client.get("/openapi/v3/apis/example.com/v1")
    assert document["components"]["schemas"]["com.example.v1.Widget"]["properties"]["spec"]["properties"][
        "size"]["maximum"] == 10


async def test_free_form_crd_without_status_subresource(client):
    crd = definition(plural="blobs", kind="Blob")
    crd["spec"]["names"]["shortNames"] = []
    version = crd["spec"]["versions"][0]
    version["subresources"] = {}
    version["schema"] = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    await create_crd(client, crd)
    base = "/apis/example.com/v1/namespaces/default/blobs"
    body = item("b", kind="Blob", anything={"goes": [1, "two", None]}) | {"status": {"phase": "kept"}}
    status, created = await client.post(base, body)
    assert status == 201, created
    assert created["spec"] == {"anything": {"goes": [1, "two", None]}} and created["status"] == {"phase": "kept"}
    # no status subresource: status is written with the rest, and there is no /status
    status, patched = await client.request("PATCH", base + "/b", {"status": {"phase": "changed"}}, headers=MERGE)
    assert patched["status"] == {"phase": "changed"}
    assert created["metadata"]["generation"] == 1 and patched["metadata"]["generation"] == 2
    status, same = await client.request("PATCH", base + "/b", {"metadata": {"labels": {"a": "b"}}}, headers=MERGE)
    assert same["metadata"]["generation"] == 2  # metadata changes leave it
    assert (await client.get(base + "/b/status"))[0] == 404
    status, resources = await client.get("/apis/example.com/v1")
    assert [r["name"] for r in resources["resources"]] == ["blobs"]


async def test_a_released_kind_goes_to_the_crd_that_wanted_it(client):
    await create_crd(client, definition())
    rival = definition(plural="gizmos")  # kind Widget: taken
    rival["spec"]["names"]["shortNames"] = []
    await client.post(CRDS, rival)

    async def rejected() -> Any:
        crd = (await client.get(f"{CRDS}/gizmos.example.com"))[1]
        return any(c["type"] == "NamesAccepted" and c["reason"] == "KindConflict"
                   for c in crd.get("status", {}).get("conditions", []))
    await eventually(rejected)
    await client.request("PATCH", f"{CRDS}/widgets.example.com", {"spec": {"names": {"kind": "Sprocket", "listKind": "SprocketList"}}},
                         headers=MERGE)
    await established(client, "gizmos.example.com")

    async def both_served() -> Any:
        status, resources = await client.get("/apis/example.com/v1")
        kinds = {r["name"]: r["kind"] for r in resources.get("resources", [])}
        return kinds if kinds.get("gizmos") == "Widget" and kinds.get("widgets") == "Sprocket" else None
    await eventually(both_served)
    status, created = await client.post("/apis/example.com/v1/namespaces/default/gizmos", item("g", size=2))
    assert status == 201, created
    status, created = await client.post("/apis/example.com/v1/namespaces/default/widgets",
                                        item("w", kind="Sprocket", size=3))
    assert status == 201, created
