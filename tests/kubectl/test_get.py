"""``get`` and discovery verbs print what the real kubectl prints, on the same cluster."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
import yaml

from tests.kubectl.conftest import HYPERKUBE


def pod(name: str, namespace: str = "default", labels: dict[str, str] | None = None, image: str = "nginx") -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}},
                           "spec": {"containers": [{"name": "c", "image": image}]}})


@pytest.fixture(scope="module")
def objects(k):
    """A few namespaces, pods, a deployment, a service and config maps for the whole module."""
    k.theirs("create", "namespace", "team-a")
    k.theirs("create", "namespace", "team-b")
    docs = [pod("web-1", labels={"app": "web", "tier": "front"}), pod("web-2", labels={"app": "web"}),
            pod("web-10", labels={"app": "web"}), pod("db", "team-a", {"app": "db"}),
            pod("cache", "team-b", {"app": "cache", "tier": "back"})]
    result = k.theirs("apply", "-f", "-", input="---\n".join(docs))
    assert result.returncode == 0, result.stderr
    assert k.theirs("create", "deployment", "front", "--image=nginx:1.27", "--replicas=2").returncode == 0
    assert k.theirs("create", "service", "clusterip", "front", "--tcp=80:8080").returncode == 0
    assert k.theirs("create", "configmap", "settings", "--from-literal=mode=fast",
                    "--from-literal=html=<b>&").returncode == 0
    return k


TABLES = [
    ["get", "pods"],
    ["get", "pods", "-A"],
    ["get", "pods", "-A", "--show-labels"],
    ["get", "pods", "-o", "wide"],
    ["get", "pods", "-l", "app=web", "--sort-by=.metadata.name"],
    ["get", "pods", "-A", "-l", "tier in (front,back)"],
    ["get", "pods", "-A", "--field-selector", "metadata.namespace=team-a"],
    ["get", "pods", "-L", "app,tier"],
    ["get", "pods", "--no-headers"],
    ["get", "pod", "web-1", "web-2"],
    ["get", "pod/web-1", "deploy/front"],
    ["get", "deploy,svc"],
    ["get", "deploy,svc", "-o", "wide"],
    ["get", "all"],
    ["get", "all", "-A"],
    ["get", "cm,pods", "-n", "team-a"],
    ["get", "namespaces", "team-a", "team-b"],
    ["get", "pods", "--show-kind"],
]


@pytest.mark.parametrize("args", TABLES, ids=[" ".join(a) for a in TABLES])
def test_tables_match_the_real_kubectl(objects, args):
    objects.same(*args)


OBJECTS = [
    ["get", "pods", "-o", "json"],
    ["get", "pod", "web-1", "-o", "json"],
    ["get", "pod", "web-1", "-o", "yaml"],
    ["get", "pods", "-A", "-o", "yaml"],
    ["get", "configmap", "settings", "-o", "json"],
    ["get", "configmap", "settings", "-o", "yaml"],
    ["get", "pods,deploy,svc", "-o", "name"],
    ["get", "all", "-A", "-o", "name"],
    ["get", "pod", "web-1", "-o", "jsonpath={.metadata.labels}"],
    ["get", "pods", "-A", "-o", "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}"],
    ["get", "pods", "-o", "jsonpath={.items[*].spec.containers[0].image}"],
    ["get", "pods", "-o", "jsonpath={.items[?(@.metadata.name==\"web-2\")].metadata.labels.app}"],
    ["get", "pods", "-A", "-o", "custom-columns=NAME:.metadata.name,NS:.metadata.namespace,TIER:.metadata.labels.tier"],
    ["get", "pods", "-A", "--sort-by=.metadata.name", "-o", "name"],
    ["get", "pods", "-n", "nowhere", "-o", "json"],
    ["get", "pods", "-n", "nowhere", "-o", "name"],
]


@pytest.mark.parametrize("args", OBJECTS, ids=[" ".join(a) for a in OBJECTS])
def test_object_output_matches_the_real_kubectl(objects, args):
    objects.same(*args)


ERRORS = [
    ["get", "pods", "missing"],
    ["get", "deployments", "missing"],
    ["get", "pod", "web-1", "missing", "web-2"],
    ["get", "pod/missing", "pod/web-1"],
    ["get", "widgets"],
    ["get", "pods", "-n", "nowhere"],
    ["get", "pods", "-A", "-l", "app=nothing"],
    ["get", "pods", "missing", "--ignore-not-found"],
    ["get", "pods", "missing", "-o", "json"],
]


@pytest.mark.parametrize("args", ERRORS, ids=[" ".join(a) for a in ERRORS])
def test_errors_and_empty_results_match(objects, args):
    objects.same(*args)


def test_json_is_parsed_the_same(objects):
    theirs = json.loads(objects.theirs("get", "pods", "-A", "-o", "json").stdout)
    ours = json.loads(objects.ok("get", "pods", "-A", "-o", "json"))
    assert ours == theirs
    assert {i["metadata"]["name"] for i in ours["items"]} >= {"web-1", "db", "cache"}


@pytest.mark.parametrize("args", [["api-resources"], ["api-resources", "-o", "wide"], ["api-resources", "-o", "name"],
                                  ["api-resources", "--namespaced=false"], ["api-resources", "--api-group=apps"],
                                  ["api-resources", "--sort-by=kind", "--no-headers"], ["api-versions"],
                                  ["explain", "pods"], ["explain", "pods.spec.containers"],
                                  ["explain", "deploy.spec"], ["explain", "svc.spec.ports"],
                                  ["explain", "pods.spec.containers.image"], ["explain", "pods.nothing"]])
def test_discovery_verbs_match(objects, args):
    objects.same(*args)


def test_version_and_cluster_info(objects):
    version = objects.ok("version")
    assert version.startswith("Client Version: v1.37")
    assert "Server Version: v1.37" in version
    data = json.loads(objects.ok("version", "-o", "json"))
    assert data["serverVersion"] == json.loads(objects.theirs("version", "-o", "json").stdout)["serverVersion"]
    assert objects.ok("cluster-info").startswith(f"Kubernetes control plane is running at {objects.cluster.url}\n")


def test_watch_prints_the_table_then_each_change(objects):
    command = [str(HYPERKUBE), "kubectl", "get", "pods", "-n", "team-a", "-w"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=objects.cluster.env())
    try:
        assert process.stdout is not None
        header = process.stdout.readline()
        assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert process.stdout.readline().split()[0] == "db"
        objects.ok("apply", "-f", "-", input=pod("watched", "team-a"))
        line = process.stdout.readline()
        assert line.split()[:3] == ["watched", "0/1", "Pending"]
        objects.ok("label", "pod", "watched", "-n", "team-a", "seen=yes")
        assert process.stdout.readline().split()[0] == "watched"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(10)


def test_watch_only_with_json_output(objects):
    command = [str(HYPERKUBE), "kubectl", "get", "pods", "-n", "team-b", "--watch-only", "-o", "name"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=objects.cluster.env())
    try:
        time.sleep(1.5)
        objects.ok("apply", "-f", "-", input=pod("streamed", "team-b"))
        assert process.stdout is not None
        assert process.stdout.readline() == "pod/streamed\n"
    finally:
        process.kill()
        process.wait(10)
