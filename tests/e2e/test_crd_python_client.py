"""Custom resources through the official Python client's CustomObjectsApi and ApiextensionsV1Api."""

from __future__ import annotations

import time

import pytest
from kubernetes import client as k8s
from kubernetes import config, watch

GROUP = "pyclient.example.com"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"things.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced",
             "names": {"plural": "things", "singular": "thing", "kind": "Thing"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                               "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}}}}]},
}


@pytest.fixture
def api_client(cluster):
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        yield api_client
    finally:
        api_client.close()


def test_custom_objects_api(api_client):
    extensions = k8s.ApiextensionsV1Api(api_client)
    extensions.create_custom_resource_definition(CRD)
    deadline = time.monotonic() + 30
    while True:
        crd = extensions.read_custom_resource_definition(f"things.{GROUP}")
        conditions = {c.type: c.status for c in (crd.status.conditions or [])}
        if conditions.get("Established") == "True":
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert crd.status.accepted_names.kind == "Thing"

    custom = k8s.CustomObjectsApi(api_client)
    created = custom.create_namespaced_custom_object(GROUP, "v1", "default", "things", {
        "apiVersion": f"{GROUP}/v1", "kind": "Thing", "metadata": {"name": "t1"}, "spec": {"size": 1}})
    assert created["metadata"]["uid"] and created["spec"] == {"size": 1}
    patched = custom.patch_namespaced_custom_object(GROUP, "v1", "default", "things", "t1", {"spec": {"size": 2}})
    assert patched["spec"]["size"] == 2 and patched["metadata"]["generation"] == 2
    status = custom.patch_namespaced_custom_object_status(GROUP, "v1", "default", "things", "t1",
                                                          {"status": {"phase": "Ready"}})
    assert status["status"] == {"phase": "Ready"}
    listed = custom.list_cluster_custom_object(GROUP, "v1", "things")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["t1"]

    events = []
    for event in watch.Watch().stream(custom.list_namespaced_custom_object, GROUP, "v1", "default", "things",
                                      timeout_seconds=5):
        events.append((event["type"], event["object"]["metadata"]["name"]))
        break
    assert events == [("ADDED", "t1")]

    custom.delete_namespaced_custom_object(GROUP, "v1", "default", "things", "t1")
    with pytest.raises(k8s.ApiException) as gone:
        custom.get_namespaced_custom_object(GROUP, "v1", "default", "things", "t1")
    assert gone.value.status == 404
    extensions.delete_custom_resource_definition(f"things.{GROUP}")
    deadline = time.monotonic() + 30
    while True:
        try:
            extensions.read_custom_resource_definition(f"things.{GROUP}")
        except k8s.ApiException as error:
            assert error.status == 404
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
