"""CustomResourceDefinitions through the real kubectl, against a real ``hyperkube apiserver``.

Each test defines its own CRD (its own group), so tests share the module's server but not state.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import yaml


def crd(group: str, *, columns: bool = True) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": "v1", "served": True, "storage": True,
        "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                 "statusReplicasPath": ".status.replicas",
                                                 "labelSelectorPath": ".status.selector"}},
        "schema": {"openAPIV3Schema": {
            "type": "object", "description": "A Widget is a thing made for tests.",
            "properties": {
                "spec": {"type": "object", "description": "What the widget should be.", "required": ["size"],
                         "properties": {
                             "size": {"type": "integer", "minimum": 1, "maximum": 10,
                                      "description": "How big the widget is, from 1 to 10."},
                             "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                             "replicas": {"type": "integer"}}},
                "status": {"type": "object", "properties": {
                    "replicas": {"type": "integer"}, "selector": {"type": "string"},
                    "ready": {"type": "boolean"}}}}}},
    }
    if columns:
        version["additionalPrinterColumns"] = [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Color", "type": "string", "jsonPath": ".spec.color", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ]
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                               "shortNames": ["wdg"], "categories": ["all"]},
                     "versions": [version]}}


def widget(group: str, name: str, **spec: Any) -> str:
    return yaml.safe_dump({"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": name},
                           "spec": spec})


def install(cluster, group: str, **kw: Any) -> None:
    out = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(crd(group, **kw))).stdout
    assert out.strip() == f"customresourcedefinition.apiextensions.k8s.io/widgets.{group} created"
    cluster.kubectl("wait", "--for=condition=established", f"crd/widgets.{group}", "--timeout=30s")


def test_crd_lifecycle_with_printer_columns_explain_apply_scale_and_delete(cluster):
    group = "life.example.com"
    install(cluster, group)
    crds = cluster.kubectl("get", "crds").stdout.splitlines()
    assert crds[0].split() == ["NAME", "CREATED", "AT"]
    assert any(line.split()[0] == f"widgets.{group}" for line in crds[1:])
    resources = cluster.kubectl("api-resources", f"--api-group={group}").stdout.splitlines()
    assert resources[1].split() == ["widgets", "wdg", f"{group}/v1", "true", "Widget"]

    # apply creates, a second apply with a change is a merge patch, an unchanged one does nothing
    assert cluster.kubectl("apply", "-f", "-", input=widget(group, "w1", size=3)).stdout.strip() == \
        f"widget.{group}/w1 created"
    assert cluster.kubectl("apply", "-f", "-", input=widget(group, "w1", size=4)).stdout.strip() == \
        f"widget.{group}/w1 configured"
    assert cluster.kubectl("apply", "-f", "-", input=widget(group, "w1", size=4)).stdout.strip() == \
        f"widget.{group}/w1 unchanged"
    stored = json.loads(cluster.kubectl("get", f"widgets.{group}", "w1", "-o", "json").stdout)
    assert stored["spec"] == {"size": 4, "color": "red"}  # the schema's default filled in
    assert stored["metadata"]["generation"] == 2

    # printer columns, -o wide for priority 1, the short name, categories
    table = cluster.kubectl("get", "widgets").stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "AGE"]
    assert table[1].split()[:2] == ["w1", "4"]
    wide = cluster.kubectl("get", "wdg", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "SIZE", "COLOR", "AGE"]
    assert wide[1].split()[:3] == ["w1", "4", "red"]
    assert f"widget.{group}/w1" in cluster.kubectl("get", "all").stdout

    # re-applying the CRD unchanged does nothing; a new column shows up once applied
    assert cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(crd(group))).stdout.strip() == \
        f"customresourcedefinition.apiextensions.k8s.io/widgets.{group} unchanged"
    changed = crd(group)
    changed["spec"]["versions"][0]["additionalPrinterColumns"].insert(
        1, {"name": "Want", "type": "integer", "jsonPath": ".spec.replicas"})
    assert cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(changed)).stdout.strip() == \
        f"customresourcedefinition.apiextensions.k8s.io/widgets.{group} configured"
    deadline = time.monotonic() + 30
    while cluster.kubectl("get", "widgets").stdout.split()[:4] != ["NAME", "SIZE", "WANT", "AGE"]:
        assert time.monotonic() < deadline, "the new printer column never appeared"
        time.sleep(0.1)

    explained = cluster.kubectl("explain", "widgets.spec.size").stdout
    assert "How big the widget is, from 1 to 10." in explained and "<integer>" in explained
    assert "What the widget should be." in cluster.kubectl("explain", "widgets.spec").stdout

    # the scale subresource through the CRD's paths; status through /status only
    assert cluster.kubectl("scale", "widget", "w1", "--replicas=3").stdout.strip() == \
        f"widget.{group}/w1 scaled"
    assert cluster.kubectl("get", "widget", "w1", "-o", "jsonpath={.spec.replicas}").stdout == "3"
    cluster.kubectl("patch", "widget", "w1", "--subresource=status", "--type=merge",
                    "-p", '{"status":{"replicas":3,"selector":"app=w"}}')
    scale = json.loads(cluster.kubectl("get", "--raw",
                                       f"/apis/{group}/v1/namespaces/default/widgets/w1/scale").stdout)
    assert scale["spec"] == {"replicas": 3} and scale["status"] == {"replicas": 3, "selector": "app=w"}
    cluster.kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"status":{"replicas":9}}')
    assert cluster.kubectl("get", "widget", "w1", "-o", "jsonpath={.status.replicas}").stdout == "3"

    # deleting the CRD deletes its custom resources, then the CRD, then the API
    cluster.kubectl("apply", "-f", "-", input=widget(group, "w2", size=1))
    out = cluster.kubectl("delete", "crd", f"widgets.{group}", "--timeout=60s").stdout
    assert out.strip() == f'customresourcedefinition.apiextensions.k8s.io "widgets.{group}" deleted'
    missing = cluster.kubectl("get", f"widgets.{group}", check=False)
    assert missing.returncode != 0 and "the server doesn't have a resource type" in missing.stderr
    keys = cluster.kubectl("get", "--raw", "/apis").stdout
    assert group not in keys
    # recreated, it starts empty: the old objects went with the old CRD
    install(cluster, group)
    assert cluster.kubectl("get", "widgets", "-o", "name").stdout == ""
    cluster.kubectl("delete", "crd", f"widgets.{group}", "--timeout=60s")


def test_schema_rejects_bad_objects_and_prunes_unknown_fields(cluster):
    group = "schema.example.com"
    install(cluster, group, columns=False)
    bad = cluster.kubectl("create", "-f", "-", input=widget(group, "bad", size=11, color="green"), check=False)
    assert bad.returncode != 0
    assert 'The Widget "bad" is invalid' in bad.stderr
    assert "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10" in bad.stderr
    assert 'spec.color: Unsupported value: "green": supported values: "red", "blue"' in bad.stderr
    missing = cluster.kubectl("create", "-f", "-", input=widget(group, "nosize"), check=False)
    assert "spec.size: Required value" in missing.stderr

    # kubectl sends fieldValidation=Strict: an unknown field is an error ...
    strict = cluster.kubectl("create", "-f", "-", input=widget(group, "extra", size=2, bogus=True), check=False)
    assert strict.returncode != 0 and 'unknown field "spec.bogus"' in strict.stderr
    # ... and without validation it is pruned
    cluster.kubectl("create", "--validate=false", "-f", "-", input=widget(group, "extra", size=2, bogus=True))
    assert json.loads(cluster.kubectl("get", "widget", "extra", "-o", "json").stdout)["spec"] == \
        {"size": 2, "color": "red"}
    # the default columns: NAME, AGE
    assert cluster.kubectl("get", "widgets").stdout.splitlines()[0].split() == ["NAME", "AGE"]
    cluster.kubectl("delete", "crd", f"widgets.{group}", "--timeout=60s")


def test_get_watch_prints_rows_with_printer_columns(cluster):
    group = "watch.example.com"
    install(cluster, group)
    cluster.kubectl("apply", "-f", "-", input=widget(group, "first", size=1))
    watcher = cluster.kubectl_background("get", f"widgets.{group}", "-w")
    try:
        assert watcher.stdout is not None
        assert watcher.stdout.readline().split() == ["NAME", "SIZE", "AGE"]
        assert watcher.stdout.readline().split()[:2] == ["first", "1"]
        cluster.kubectl("apply", "-f", "-", input=widget(group, "second", size=7))
        assert watcher.stdout.readline().split()[:2] == ["second", "7"]
    finally:
        watcher.kill()
        watcher.communicate()
    cluster.kubectl("delete", "crd", f"widgets.{group}", "--timeout=60s")


def test_invalid_definitions_are_rejected(cluster):
    group = "invalid.example.com"
    definition = crd(group)
    definition["spec"]["versions"].append(copy.deepcopy(definition["spec"]["versions"][0]) | {"name": "v2"})
    two_storage = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(definition), check=False)
    assert "must have exactly one version marked as storage version" in two_storage.stderr
    definition = crd(group)
    definition["metadata"]["name"] = "gadgets." + group
    wrong_name = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(definition), check=False)
    assert 'must be spec.names.plural+"."+spec.group' in wrong_name.stderr
    definition = crd(group)
    del definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["type"]
    not_structural = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(definition), check=False)
    assert ("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty "
            "for specified object fields") in not_structural.stderr


def test_name_conflicts_are_reported(cluster):
    group = "names.example.com"
    install(cluster, group, columns=False)
    rival = crd(group, columns=False)
    rival["metadata"]["name"] = f"gizmos.{group}"
    rival["spec"]["names"] = {"plural": "gizmos", "singular": "gizmo", "kind": "Widget"}
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(rival))
    deadline = time.monotonic() + 30
    while True:
        status = json.loads(cluster.kubectl("get", "crd", f"gizmos.{group}", "-o", "json").stdout).get("status", {})
        conditions = {c["type"]: c for c in status.get("conditions", [])}
        if "NamesAccepted" in conditions or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert conditions["NamesAccepted"]["status"] == "False"
    assert conditions["NamesAccepted"]["reason"] == "KindConflict"
    assert conditions["Established"]["status"] == "False"
    assert "gizmos" not in cluster.kubectl("api-resources", f"--api-group={group}").stdout
    cluster.kubectl("delete", "crd", f"gizmos.{group}", f"widgets.{group}", "--timeout=60s")


def test_two_api_server_processes_serve_a_crd_created_through_either(tmp_path):
    from tests.e2e._cluster import Cluster, start_apiserver, stop, write_kubeconfig

    database = f"sqlite:///{tmp_path}/shared.db"
    processes = []
    try:
        clusters = []
        for name in ("one", "two"):
            process, port, log = start_apiserver(tmp_path / name, "--etcd-servers", database)
            processes.append(process)
            (tmp_path / name).mkdir(exist_ok=True)
            write_kubeconfig(tmp_path / name / "kubeconfig", f"http://127.0.0.1:{port}")
            clusters.append(Cluster(f"http://127.0.0.1:{port}", port, tmp_path / name, process, log))
        one, two = clusters
        group = "shared.example.com"
        install(one, group)
        two.kubectl("wait", "--for=condition=established", f"crd/widgets.{group}", "--timeout=30s")
        deadline = time.monotonic() + 30
        while two.kubectl("get", f"widgets.{group}", check=False).returncode != 0:
            assert time.monotonic() < deadline, "the second server never served the CRD"
            time.sleep(0.2)
        assert two.kubectl("apply", "-f", "-", input=widget(group, "via-two", size=2)).returncode == 0
        assert one.kubectl("get", "widget", "via-two", "-o", "jsonpath={.spec.size}").stdout == "2"
        one.kubectl("delete", "crd", f"widgets.{group}", "--timeout=60s")
        deadline = time.monotonic() + 30
        while two.kubectl("get", f"widgets.{group}", check=False).returncode == 0:
            assert time.monotonic() < deadline, "the second server still serves the deleted CRD"
            time.sleep(0.2)
    finally:
        for process in processes:
            stop(process)


def test_server_side_apply_of_a_crd_and_its_resources(cluster):
    group = "ssa.example.com"
    applied = cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(crd(group))).stdout
    assert applied.strip() == f"customresourcedefinition.apiextensions.k8s.io/widgets.{group} serverside-applied"
    cluster.kubectl("wait", "--for=condition=established", f"crd/widgets.{group}", "--timeout=30s")
    for size in (2, 3):
        out = cluster.kubectl("apply", "--server-side", "-f", "-", input=widget(group, "s1", size=size)).stdout
        assert out.strip() == f"widget.{group}/s1 serverside-applied"
    assert cluster.kubectl("get", f"widgets.{group}", "s1").stdout.splitlines()[1].split()[:2] == ["s1", "3"]
    described = cluster.kubectl("describe", f"widgets.{group}", "s1").stdout
    assert "Kind:         Widget" in described and "Size:   3" in described
    cluster.kubectl("delete", "crd", f"widgets.{group}", "--timeout=60s")
