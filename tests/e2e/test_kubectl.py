"""The real kubectl against a real ``hyperkube apiserver``: what a user types, what they see."""

from __future__ import annotations

import json
import time

import yaml


def pod_yaml(name: str, labels: dict[str, str] | None = None, image: str = "nginx",
             namespace: str = "default") -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}},
                           "spec": {"containers": [{"name": "c", "image": image}]}})


def create(cluster, name: str, **kw) -> None:
    out = cluster.kubectl("create", "-f", "-", input=pod_yaml(name, **kw)).stdout
    assert out.strip() == f"pod/{name} created"


def test_version_and_api_resources(cluster):
    out = cluster.kubectl("version").stdout
    assert "Client Version" in out and "Server Version" in out
    resources = cluster.kubectl("api-resources").stdout
    for line in ("pods", "deployments", "namespaces"):
        assert line in resources
    assert "po " in resources  # short names


def test_get_prints_the_server_table(cluster):
    create(cluster, "tbl")
    out = cluster.kubectl("get", "pods", "tbl").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out[1].split()[:4] == ["tbl", "0/1", "Pending", "0"]
    wide = cluster.kubectl("get", "pods", "tbl", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]


def test_output_formats(cluster):
    create(cluster, "fmt", labels={"app": "fmt", "tier": "x"})
    doc = yaml.safe_load(cluster.kubectl("get", "pod", "fmt", "-o", "yaml").stdout)
    assert doc["metadata"]["name"] == "fmt" and doc["spec"]["containers"][0]["image"] == "nginx"
    data = json.loads(cluster.kubectl("get", "pod", "fmt", "-o", "json").stdout)
    assert data["kind"] == "Pod" and data["metadata"]["uid"]
    assert cluster.kubectl("get", "pod", "fmt", "-o", "name").stdout.strip() == "pod/fmt"
    assert cluster.kubectl("get", "pod", "fmt", "-o", "jsonpath={.metadata.labels.tier}").stdout == "x"
    columns = cluster.kubectl("get", "pod", "fmt", "-o", "custom-columns=N:.metadata.name,I:.spec.containers[0].image")
    assert columns.stdout.split() == ["N", "I", "fmt", "nginx"]


def test_all_namespaces_labels_and_sorting(cluster):
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}))
    create(cluster, "zeta", labels={"group": "sorted"})
    create(cluster, "alpha", labels={"group": "sorted"}, namespace="other")
    everywhere = cluster.kubectl("get", "pods", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    rows = {tuple(line.split()[:2]) for line in everywhere[1:]}
    assert ("default", "zeta") in rows and ("other", "alpha") in rows
    labelled = cluster.kubectl("get", "pods", "-A", "-l", "group=sorted", "--show-labels").stdout.splitlines()
    assert labelled[0].split()[-1] == "LABELS"
    assert len(labelled) == 3 and all("group=sorted" in line for line in labelled[1:])
    ordered = cluster.kubectl("get", "pods", "-A", "-l", "group=sorted", "--sort-by=.metadata.name").stdout
    names = [line.split()[1] for line in ordered.splitlines()[1:]]
    assert names == ["alpha", "zeta"]


def test_replace_and_conflict(cluster):
    create(cluster, "rep")
    current = yaml.safe_load(cluster.kubectl("get", "pod", "rep", "-o", "yaml").stdout)
    current["metadata"]["labels"]["changed"] = "yes"
    out = cluster.kubectl("replace", "-f", "-", input=yaml.safe_dump(current)).stdout
    assert out.strip() == "pod/rep replaced"
    # the same (now stale) resourceVersion again: 409 Conflict as kubectl prints it
    result = cluster.kubectl("replace", "-f", "-", input=yaml.safe_dump(current), check=False)
    assert result.returncode != 0 and "Conflict" in result.stderr


def test_delete_variants(cluster):
    create(cluster, "del-fg")
    out = cluster.kubectl("delete", "pod", "del-fg", "--cascade=foreground").stdout
    assert 'pod "del-fg" deleted' in out
    for name in ("del-l1", "del-l2"):
        create(cluster, name, labels={"sweep": "yes"})
    create(cluster, "keep", labels={"sweep": "no"})
    out = cluster.kubectl("delete", "pods", "-l", "sweep=yes").stdout
    assert 'pod "del-l1" deleted' in out and 'pod "del-l2" deleted' in out
    assert "keep" in cluster.kubectl("get", "pods", "-o", "name").stdout
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sweep-all"}}))
    create(cluster, "a1", namespace="sweep-all")
    create(cluster, "a2", namespace="sweep-all")
    out = cluster.kubectl("delete", "pods", "--all", "-n", "sweep-all").stdout
    assert 'pod "a1" deleted' in out and 'pod "a2" deleted' in out
    result = cluster.kubectl("get", "pods", "-n", "sweep-all")
    assert "No resources found" in result.stderr


def test_errors_print_like_kubernetes(cluster):
    result = cluster.kubectl("get", "pod", "missing", check=False)
    assert result.returncode == 1
    assert 'Error from server (NotFound): pods "missing" not found' in result.stderr
    create(cluster, "twice")
    result = cluster.kubectl("create", "-f", "-", input=pod_yaml("twice"), check=False)
    assert 'Error from server (AlreadyExists): error when creating "STDIN": pods "twice" already exists' \
        in result.stderr


def test_get_watch_sees_added_modified_deleted(cluster):
    create(cluster, "watched")
    watcher = cluster.kubectl_background("get", "pods", "-w", "--output-watch-events", "-l", "app=watched")
    seen: list[str] = []

    def read_until(kind: str) -> None:
        assert watcher.stdout is not None
        while kind not in seen:
            line = watcher.stdout.readline()
            assert line, f"kubectl get -w ended early after {seen}: {watcher.stderr.read() if watcher.stderr else ''}"
            fields = line.split()
            if fields and fields[0] in ("ADDED", "MODIFIED", "DELETED"):
                assert fields[1] == "watched"
                seen.append(fields[0])

    try:
        read_until("ADDED")  # the initial list, printed as ADDED: the watch is open from here on
        current = yaml.safe_load(cluster.kubectl("get", "pod", "watched", "-o", "yaml").stdout)
        current["metadata"]["annotations"] = {"touched": "yes"}
        cluster.kubectl("replace", "-f", "-", input=yaml.safe_dump(current))
        read_until("MODIFIED")
        cluster.kubectl("delete", "pod", "watched")
        read_until("DELETED")
        assert seen[0] == "ADDED" and seen[-1] == "DELETED"
    finally:
        watcher.kill()
        watcher.communicate()


def test_wait_for_delete(cluster):
    body = yaml.safe_load(pod_yaml("waited"))
    body["metadata"]["finalizers"] = ["example.com/hold"]
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(body))
    cluster.kubectl("delete", "pod", "waited", "--wait=false")
    waiter = cluster.kubectl_background("wait", "--for=delete", "pod/waited", "--timeout=30s")
    try:
        time.sleep(1.0)
        assert waiter.poll() is None  # still held by its finalizer
        current = yaml.safe_load(cluster.kubectl("get", "pod", "waited", "-o", "yaml").stdout)
        current["metadata"]["finalizers"] = []
        cluster.kubectl("replace", "-f", "-", input=yaml.safe_dump(current))
        out, err = waiter.communicate(timeout=30)
        assert waiter.returncode == 0, err
        assert cluster.kubectl("get", "pod", "waited", check=False).returncode == 1
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.communicate()


def test_explain_and_raw_metrics(cluster):
    out = cluster.kubectl("explain", "pods.spec.containers").stdout
    assert "KIND:" in out and "Container" in out and "image" in out
    metrics = cluster.kubectl("get", "--raw", "/metrics").stdout
    assert "apiserver_request_total" in metrics


def test_deleting_a_namespace_leaves_it_terminating(cluster):
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "leaving"}}))
    out = cluster.kubectl("delete", "namespace", "leaving", "--wait=false").stdout
    assert 'namespace "leaving" deleted' in out
    rows = cluster.kubectl("get", "namespace", "leaving").stdout.splitlines()
    assert rows[1].split()[:2] == ["leaving", "Terminating"]
    result = cluster.kubectl("create", "-f", "-", input=pod_yaml("late", namespace="leaving"), check=False)
    assert result.returncode == 1
    assert "Error from server (Forbidden)" in result.stderr and "being terminated" in result.stderr
    result = cluster.kubectl("create", "-f", "-", input=pod_yaml("nowhere", namespace="missing"), check=False)
    assert 'Error from server (NotFound): error when creating "STDIN": namespaces "missing" not found' \
        in result.stderr
