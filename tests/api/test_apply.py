"""Server-side apply and managedFields, on the real schemas."""

import copy

import pytest

from hyperkube.api.apply import (
    APPLY,
    UPDATE,
    apply,
    field_set,
    from_fields_v1,
    managed_sets,
    path_string,
    record_update,
    shape_for,
    to_fields_v1,
)
from hyperkube.machinery.errors import Conflict

DEPLOYMENTS = shape_for("apps", "v1", "Deployment")
PODS = shape_for("", "v1", "Pod")


def deployment(replicas=2, image="nginx:1.27", labels=None, env=None, containers=None):
    container = {"name": "c", "image": image}
    if env is not None:
        container["env"] = env
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "default", "labels": labels or {"app": "d"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}},
                                  "spec": {"containers": containers or [container]}}}}


def do_apply(live, config, manager="kubectl", force=False, now="2026-11-25T19:00:00Z", **kwargs):
    return apply(live, config, manager, api_version="apps/v1", shape=DEPLOYMENTS, now=now, force=force, **kwargs)


def do_update(old, new, manager, now="2026-11-25T19:05:00Z"):
    return record_update(old, new, manager, api_version="apps/v1", shape=DEPLOYMENTS, now=now)


def owners(obj):
    return {(entry["manager"], entry["operation"]): {path_string(p) for p in paths}
            for entry, paths in managed_sets(obj)}


def test_apply_creates_and_records_an_apply_entry():
    obj = do_apply(None, deployment())
    assert obj["spec"]["replicas"] == 2
    [entry] = obj["metadata"]["managedFields"]
    assert {k: entry[k] for k in ("manager", "operation", "apiVersion", "time", "fieldsType")} == {
        "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": "2026-11-25T19:00:00Z",
        "fieldsType": "FieldsV1"}
    fields = entry["fieldsV1"]
    assert fields["f:spec"]["f:replicas"] == {}
    assert fields["f:spec"]["f:selector"] == {}  # LabelSelector is an atomic map
    assert fields["f:metadata"] == {"f:labels": {"f:app": {}}}  # name/namespace are nobody's
    assert fields["f:spec"]["f:template"]["f:spec"]["f:containers"] == {
        'k:{"name":"c"}': {".": {}, "f:image": {}, "f:name": {}}}
    assert "f:apiVersion" not in fields and "f:kind" not in fields


def test_reapplying_the_same_config_changes_nothing():
    obj = do_apply(None, deployment())
    again = do_apply(obj, deployment(), now="2026-11-25T20:00:00Z")
    assert again == obj


def test_apply_removes_what_the_manager_no_longer_applies():
    config = deployment(labels={"app": "d", "extra": "x"}, env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    obj = do_apply(None, config)
    obj = do_apply(obj, deployment(image="nginx:1.28", env=[{"name": "A", "value": "1"}]))
    assert obj["metadata"]["labels"] == {"app": "d"}
    assert obj["spec"]["template"]["spec"]["containers"] == [
        {"name": "c", "image": "nginx:1.28", "env": [{"name": "A", "value": "1"}]}]
    assert '.spec.template.spec.containers[name="c"].env[name="B"]' not in owners(obj)[("kubectl", APPLY)]


def test_fields_another_manager_owns_are_kept_when_dropped():
    obj = do_apply(None, deployment(labels={"app": "d", "shared": "x"}))
    obj = do_apply(obj, deployment(labels={"app": "d", "shared": "x"}), manager="other")
    obj = do_apply(obj, deployment(labels={"app": "d"}))
    assert obj["metadata"]["labels"] == {"app": "d", "shared": "x"}
    assert ".metadata.labels.shared" not in owners(obj)[("kubectl", APPLY)]
    assert ".metadata.labels.shared" in owners(obj)[("other", APPLY)]


def test_fields_set_by_others_survive_an_apply():
    obj = do_apply(None, deployment())
    labelled = copy.deepcopy(obj)
    labelled["metadata"]["labels"]["team"] = "ops"
    obj = do_update(obj, labelled, "kubectl-label")
    assert owners(obj)[("kubectl-label", UPDATE)] == {".metadata.labels.team"}
    obj = do_apply(obj, deployment(image="nginx:1.28"))
    assert obj["metadata"]["labels"] == {"app": "d", "team": "ops"}
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"


def test_a_conflict_with_an_update_manager():
    obj = do_apply(None, deployment())
    scaled = copy.deepcopy(obj)
    scaled["spec"]["replicas"] = 5
    obj = do_update(obj, scaled, "kubectl-scale")
    assert ".spec.replicas" not in owners(obj)[("kubectl", APPLY)]
    with pytest.raises(Conflict) as caught:
        do_apply(obj, deployment(replicas=3))
    status = caught.value.to_status()
    assert status["code"] == 409 and status["reason"] == "Conflict"
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: '
                                 ".spec.replicas")
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                            "message": 'conflict with "kubectl-scale" using apps/v1',
                                            "field": ".spec.replicas"}]


def test_applying_the_value_another_manager_set_is_shared_ownership():
    obj = do_apply(None, deployment())
    scaled = copy.deepcopy(obj)
    scaled["spec"]["replicas"] = 5
    obj = do_update(obj, scaled, "kubectl-scale")
    obj = do_apply(obj, deployment(replicas=5))
    assert ".spec.replicas" in owners(obj)[("kubectl", APPLY)]
    assert ".spec.replicas" in owners(obj)[("kubectl-scale", UPDATE)]


def test_several_conflicts_between_appliers():
    obj = do_apply(None, deployment(), manager="alice")
    with pytest.raises(Conflict) as caught:
        do_apply(obj, deployment(replicas=9, image="other"), manager="bob")
    message = caught.value.message
    assert message == ('Apply failed with 2 conflicts: conflicts with "alice":\n'
                       "- .spec.replicas\n"
                       '- .spec.template.spec.containers[name="c"].image')
    assert [c["field"] for c in caught.value.details["causes"]] == [
        ".spec.replicas", '.spec.template.spec.containers[name="c"].image']
    assert {c["message"] for c in caught.value.details["causes"]} == {'conflict with "alice"'}


def test_force_takes_ownership():
    obj = do_apply(None, deployment(), manager="alice")
    obj = do_apply(obj, deployment(replicas=9), manager="bob", force=True)
    assert obj["spec"]["replicas"] == 9
    assert ".spec.replicas" in owners(obj)[("bob", APPLY)]
    assert ".spec.replicas" not in owners(obj)[("alice", APPLY)]
    # alice applying again without replicas no longer removes it: she does not own it
    obj = do_apply(obj, {k: v for k, v in deployment().items()} | {
        "spec": {k: v for k, v in deployment()["spec"].items() if k != "replicas"}}, manager="alice")
    assert obj["spec"]["replicas"] == 9


def test_associative_lists_merge_by_key():
    other = {"name": "sidecar", "image": "busybox"}
    obj = do_apply(None, deployment(), manager="alice")
    obj = do_apply(obj, deployment(containers=[other]) | {"spec": {
        "template": {"spec": {"containers": [other]}}}}, manager="bob")
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["c", "sidecar"]
    # alice drops her container: it goes, bob's stays
    alice = deployment()
    alice["spec"]["template"]["spec"]["containers"] = [{"name": "c2", "image": "x"}]
    obj = do_apply(obj, alice, manager="alice")
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["sidecar", "c2"]


def test_sets_merge_as_a_union_and_lose_only_own_values():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a/x"]},
           "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}}

    def pod_apply(live, config, manager):
        return apply(live, config, manager, api_version="v1", shape=PODS, now="t")
    obj = pod_apply(None, pod, "one")
    two = copy.deepcopy(pod)
    two["metadata"]["finalizers"] = ["b/y"]
    obj = pod_apply(obj, two, "two")
    assert obj["metadata"]["finalizers"] == ["a/x", "b/y"]
    assert '.metadata.finalizers[="a/x"]' in owners(obj)[("one", APPLY)]
    three = copy.deepcopy(pod)
    three["metadata"]["finalizers"] = []
    obj = pod_apply(obj, three, "one")
    assert obj["metadata"]["finalizers"] == ["b/y"]
    # the port key includes the defaulted protocol
    assert '.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"]' in owners(obj)[("one", APPLY)]


def test_status_is_ignored_on_the_main_resource():
    config = deployment()
    config["status"] = {"replicas": 7}
    live = do_apply(None, deployment())
    live["status"] = {"replicas": 1}
    obj = do_apply(live, config, ignored=[("status",)])
    assert obj["status"] == {"replicas": 1}
    assert not any(path_string(p).startswith(".status") for _, paths in managed_sets(obj) for p in paths)


def test_record_update_on_create_owns_everything():
    obj = do_update(None, deployment(), "kubectl-create")
    [entry] = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"]) == ("kubectl-create", "Update", "apps/v1")
    assert ".spec.replicas" in owners(obj)[("kubectl-create", UPDATE)]


def test_record_update_moves_only_changed_fields_and_forgets_removed_ones():
    obj = do_update(None, deployment(labels={"app": "d", "gone": "x"}), "creator")
    changed = copy.deepcopy(obj)
    changed["spec"]["replicas"] = 4
    del changed["metadata"]["labels"]["gone"]
    obj = do_update(obj, changed, "editor")
    assert owners(obj)[("editor", UPDATE)] == {".spec.replicas"}
    assert ".spec.replicas" not in owners(obj)[("creator", UPDATE)]
    assert ".metadata.labels.gone" not in owners(obj)[("creator", UPDATE)]
    same = do_update(obj, copy.deepcopy(obj), "editor", now="later")
    assert same["metadata"]["managedFields"] == obj["metadata"]["managedFields"]


def test_record_update_reset_with_an_empty_entry():
    obj = do_update(None, deployment(), "creator")
    reset = copy.deepcopy(obj)
    reset["metadata"]["managedFields"] = [{}]
    reset["spec"]["replicas"] = 3
    assert owners(do_update(obj, reset, "editor")) == {("editor", UPDATE): {".spec.replicas"}}


@pytest.mark.parametrize("fields", [
    {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
    {"f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:image": {}, "f:ports": {
        'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}}},
    {"f:metadata": {"f:finalizers": {'v:"a/b"': {}, 'v:"c"': {}}}},
    {"f:items": {"i:0": {"f:x": {}}}},
])
def test_fields_v1_round_trip(fields):
    assert to_fields_v1(from_fields_v1(fields)) == fields


def test_field_set_and_paths():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {}, "uid": "u"},
           "spec": {"containers": [{"name": "c", "args": ["a"], "ports": [{"containerPort": 80, "protocol": "UDP"}]}],
                    "tolerations": [{"key": "k"}], "nodeSelector": {"a": "b"}}}
    got = sorted(path_string(p) for p in field_set(pod, PODS))
    assert got == sorted([
        ".metadata.labels",
        '.spec.containers[name="c"]', '.spec.containers[name="c"].name', '.spec.containers[name="c"].args',
        '.spec.containers[name="c"].ports[containerPort=80,protocol="UDP"]',
        '.spec.containers[name="c"].ports[containerPort=80,protocol="UDP"].containerPort',
        '.spec.containers[name="c"].ports[containerPort=80,protocol="UDP"].protocol',
        ".spec.tolerations", ".spec.nodeSelector"])


def test_list_order_follows_the_configuration_around_others_items():
    def named(*names):
        return deployment(containers=[{"name": n, "image": "i"} for n in names])
    obj = do_apply(None, named("a", "b"), manager="alice")
    obj = do_apply(obj, named("x"), manager="bob")
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["a", "b", "x"]
    obj = do_apply(obj, named("b", "a", "c"), manager="alice")
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["b", "a", "x", "c"]
