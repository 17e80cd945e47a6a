"""The official ``kubernetes`` Python client against a real ``hyperkube apiserver``."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s
from kubernetes import config, watch


@pytest.fixture
def core(cluster):
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        yield k8s.CoreV1Api(api_client)
    finally:
        api_client.close()


def body(name: str, labels: dict[str, str] | None = None) -> k8s.V1Pod:
    return k8s.V1Pod(metadata=k8s.V1ObjectMeta(name=name, labels=labels or {"client": "python"}),
                     spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image="nginx")]))


def test_version(cluster):
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        info = k8s.VersionApi(api_client).get_code()
        assert info.major and info.git_version
    finally:
        api_client.close()


def test_create_list_replace_conflict_delete(core):
    created = core.create_namespaced_pod("default", body("py1"))
    assert created.metadata.uid and created.spec.restart_policy == "Always"
    with pytest.raises(k8s.ApiException) as duplicate:
        core.create_namespaced_pod("default", body("py1"))
    assert duplicate.value.status == 409 and "AlreadyExists" in duplicate.value.body

    listed = core.list_namespaced_pod("default", label_selector="client=python")
    assert "py1" in [p.metadata.name for p in listed.items]

    created.metadata.labels["step"] = "two"
    replaced = core.replace_namespaced_pod("py1", "default", created)
    assert replaced.metadata.labels["step"] == "two"
    created.metadata.labels["step"] = "stale"  # still carries the old resourceVersion
    with pytest.raises(k8s.ApiException) as conflict:
        core.replace_namespaced_pod("py1", "default", created)
    assert conflict.value.status == 409 and "Conflict" in conflict.value.body

    core.delete_namespaced_pod("py1", "default", propagation_policy="Foreground")
    with pytest.raises(k8s.ApiException) as gone:
        core.read_namespaced_pod("py1", "default")
    assert gone.value.status == 404


def test_watch_stream(core):
    core.create_namespaced_pod("default", body("pyw", {"client": "watch"}))
    seen = []
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_pod, "default", label_selector="client=watch",
                               timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "ADDED":
            core.delete_namespaced_pod("pyw", "default")
        if event["type"] == "DELETED":
            stream.stop()
    assert seen == [("ADDED", "pyw"), ("DELETED", "pyw")]


def test_namespaces_exist_for_kopf(core):
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
