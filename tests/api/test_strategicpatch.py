"""Strategic merge patch against Kubernetes' documented semantics, on the real schemas.

Expected results follow apimachinery's strategicpatch package (and the kubectl patch docs):
merge lists by their merge key, union scalar merge lists, replace everything else, and the
directives ``$patch``, ``$setElementOrder``, ``$retainKeys``, ``$deleteFromPrimitiveList``.
"""

import copy

import pytest

from hyperkube.api import schemas
from hyperkube.api.strategicpatch import (
    StrategicPatchError,
    apply_strategic_patch,
    create_three_way_patch,
    create_two_way_patch,
    lookup_for,
)
from hyperkube.machinery.errors import BadRequest, Invalid

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {
        "name": "web", "labels": {"app": "web", "tier": "fe"}, "finalizers": ["a/one", "b/two"],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1"}]},
    "spec": {
        "containers": [
            {"name": "app", "image": "nginx:1.26", "args": ["-a", "-b"],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}],
             "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/cfg"}],
             "resources": {"limits": {"cpu": "1"}}},
            {"name": "sidecar", "image": "busybox"}],
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}],
        "tolerations": [{"key": "k1", "operator": "Exists"}],
        "imagePullSecrets": [{"name": "s1"}],
        "nodeSelector": {"disk": "ssd"}},
    "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]},
}


def at(obj, path):
    """``containers[app].env`` style lookup: list items by their ``name`` (or first key)."""
    node = obj
    for part in path.split("."):
        if "[" in part:
            field, _, key = part[:-1].partition("[")
            node = next(i for i in node[field] if key in (str(i.get("name")), str(i.get("containerPort")),
                                                           i.get("mountPath"), i.get("type"), i.get("uid")))
        else:
            node = node[part]
    return node


def names(items, key="name"):
    return [item[key] for item in items]


POD_CASES = [
    # -- lists merged by merge key
    ("containers merge by name: image changes, the rest stays",
     {"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}},
     [("spec.containers", lambda v: names(v) == ["app", "sidecar"]),
      ("spec.containers[app].image", "nginx:1.27"),
      ("spec.containers[app].env", [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])]),
    ("a new container goes before the live-only ones (kubectl patch docs)",
     {"spec": {"containers": [{"name": "new", "image": "redis"}]}},
     [("spec.containers", lambda v: names(v) == ["new", "app", "sidecar"])]),
    ("$patch: delete removes a list item by merge key",
     {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}},
     [("spec.containers", lambda v: names(v) == ["app"])]),
    ("$patch: replace replaces the whole list with the other items",
     {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}},
     [("spec.containers", [{"name": "only", "image": "x"}])]),
    ("$patch: merge on a list item is the default",
     {"spec": {"containers": [{"name": "app", "image": "x", "$patch": "merge"}]}},
     [("spec.containers[app].image", "x"), ("spec.containers", lambda v: len(v) == 2)]),
    ("env merges by name, live order kept, new entries after the named ones",
     {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]}},
     [("spec.containers[app].env", [{"name": "A", "value": "1"}, {"name": "B", "value": "20"},
                                    {"name": "C", "value": "3"}])]),
    ("an env var deleted by merge key",
     {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "$patch": "delete"}]}]}},
     [("spec.containers[app].env", [{"name": "B", "value": "2"}])]),
    ("ports merge by containerPort",
     {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 443, "name": "https"}]}]}},
     [("spec.containers[app].ports", [{"containerPort": 80, "protocol": "TCP"},
                                      {"containerPort": 443, "protocol": "TCP", "name": "https"}])]),
    ("volumeMounts merge by mountPath",
     {"spec": {"containers": [{"name": "app", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}]}},
     [("spec.containers[app].volumeMounts[/data]", {"name": "data", "mountPath": "/data", "readOnly": True}),
      ("spec.containers[app].volumeMounts", lambda v: len(v) == 2)]),
    ("volumes merge by name (without $retainKeys both sources stay)",
     {"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/tmp"}}]}},
     [("spec.volumes[data]", {"name": "data", "emptyDir": {}, "hostPath": {"path": "/tmp"}})]),
    ("$retainKeys on a volume switches its source",
     {"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/tmp"}, "$retainKeys": ["hostPath", "name"]}]}},
     [("spec.volumes[data]", {"name": "data", "hostPath": {"path": "/tmp"}}),
      ("spec.volumes[cfg]", {"name": "cfg", "configMap": {"name": "c"}})]),
    ("imagePullSecrets merge by name",
     {"spec": {"imagePullSecrets": [{"name": "s2"}]}},
     [("spec.imagePullSecrets", [{"name": "s2"}, {"name": "s1"}])]),
    ("ownerReferences merge by uid",
     {"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "u2"}]}},
     [("metadata.ownerReferences", lambda v: names(v, "uid") == ["u2", "u1"])]),
    ("status conditions merge by type",
     {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
     [("status.conditions", [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}])]),
    # -- lists without a merge strategy are replaced
    ("tolerations (atomic) are replaced",
     {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}},
     [("spec.tolerations", [{"key": "k2", "operator": "Exists"}])]),
    ("directive items in a replaced list are dropped",
     {"spec": {"tolerations": [{"$patch": "replace"}, {"key": "k2", "operator": "Exists"}]}},
     [("spec.tolerations", [{"key": "k2", "operator": "Exists"}])]),
    ("args are replaced",
     {"spec": {"containers": [{"name": "app", "args": ["-c"]}]}},
     [("spec.containers[app].args", ["-c"])]),
    # -- scalar lists with strategy merge
    ("finalizers: union, values named by the patch first",
     {"metadata": {"finalizers": ["c/three", "a/one"]}},
     [("metadata.finalizers", ["c/three", "a/one", "b/two"])]),
    ("$deleteFromPrimitiveList removes values",
     {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/one", "zzz"]}},
     [("metadata.finalizers", ["b/two"])]),
    ("$deleteFromPrimitiveList and an addition together",
     {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/one"], "finalizers": ["c/three"]}},
     [("metadata.finalizers", lambda v: sorted(v) == ["b/two", "c/three"])]),
    # -- $setElementOrder
    ("$setElementOrder on a scalar list",
     {"metadata": {"$setElementOrder/finalizers": ["b/two", "c/three", "a/one"], "finalizers": ["c/three"]}},
     [("metadata.finalizers", ["b/two", "c/three", "a/one"])]),
    ("$setElementOrder alone reorders",
     {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}},
     [("spec.containers", lambda v: names(v) == ["sidecar", "app"])]),
    ("$setElementOrder keeps a live-only item in its place relative to the named ones",
     {"spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "new"}],
               "containers": [{"name": "new", "image": "x"}]}},
     [("spec.containers", lambda v: names(v) == ["app", "new", "sidecar"])]),
    ("kubectl's set-image patch",
     {"spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
               "containers": [{"image": "nginx:2", "name": "app"}]}},
     [("spec.containers[app].image", "nginx:2"), ("spec.containers", lambda v: names(v) == ["app", "sidecar"])]),
    # -- maps
    ("maps merge key by key", {"metadata": {"labels": {"x": "y"}}},
     [("metadata.labels", {"app": "web", "tier": "fe", "x": "y"})]),
    ("null deletes a key", {"metadata": {"labels": {"tier": None}}, "spec": {"nodeSelector": None}},
     [("metadata.labels", {"app": "web"}), ("spec", lambda v: "nodeSelector" not in v)]),
    ("null for an absent key adds nothing", {"metadata": {"annotations": None, "labels": {"nope": None}}},
     [("metadata", lambda v: "annotations" not in v), ("metadata.labels", {"app": "web", "tier": "fe"})]),
    ("$patch: replace on a map", {"metadata": {"labels": {"$patch": "replace", "only": "me"}}},
     [("metadata.labels", {"only": "me"})]),
    ("$patch: delete on a map empties it", {"spec": {"nodeSelector": {"$patch": "delete"}}},
     [("spec.nodeSelector", {})]),
    ("$patch: merge on a map is the default", {"metadata": {"labels": {"$patch": "merge", "x": "y"}}},
     [("metadata.labels", {"app": "web", "tier": "fe", "x": "y"})]),
    ("directives inside a field the live object lacks are applied too",
     {"spec": {"initContainers": [{"name": "i", "image": "x"}, {"name": "j", "$patch": "delete"}],
               "securityContext": {"runAsUser": 1, "fsGroup": None}}},
     [("spec.initContainers", [{"name": "i", "image": "x"}]), ("spec.securityContext", {"runAsUser": 1})]),
    ("a value of another type replaces", {"spec": {"containers": [{"name": "app", "resources": None}]}},
     [("spec.containers[app]", lambda v: "resources" not in v)]),
]


@pytest.mark.parametrize("patch, checks", [c[1:] for c in POD_CASES], ids=[c[0] for c in POD_CASES])
def test_pod_patches(patch, checks):
    before = copy.deepcopy(POD)
    patch_before = copy.deepcopy(patch)
    result = apply_strategic_patch(POD, patch, "", "v1", "Pod")
    for path, expected in checks:
        value = at(result, path)
        if callable(expected):
            assert expected(value), (path, value)
        else:
            assert value == expected, path
    assert POD == before and patch == patch_before  # inputs untouched


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
    "spec": {"replicas": 1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
             "selector": {"matchLabels": {"app": "d"}},
             "template": {"metadata": {"labels": {"app": "d"}},
                          "spec": {"containers": [{"name": "c", "image": "a", "env": [{"name": "X", "value": "1"}]}],
                                   "volumes": [{"name": "v", "emptyDir": {}}]}}},
}


@pytest.mark.parametrize("patch, path, expected", [
    ({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, "spec.strategy", {"type": "Recreate"}),
    ({"spec": {"strategy": {"type": "Recreate", "rollingUpdate": None}}}, "spec.strategy", {"type": "Recreate"}),
    ({"spec": {"template": {"spec": {"containers": [{"name": "c2", "image": "b"}]}}}},
     "spec.template.spec.containers", [{"name": "c2", "image": "b"},
                                       {"name": "c", "image": "a", "env": [{"name": "X", "value": "1"}]}]),
    ({"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "Y", "value": "2"}]}]}}}},
     "spec.template.spec.containers", [{"name": "c", "image": "a",
                                        "env": [{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]}]),
    ({"spec": {"template": {"spec": {"volumes": [{"name": "v", "$retainKeys": ["name", "secret"],
                                                  "secret": {"secretName": "s"}}]}}}},
     "spec.template.spec.volumes", [{"name": "v", "secret": {"secretName": "s"}}]),
    ({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}},
     "spec.template.metadata", {"labels": {"app": "d"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}),
    ({"spec": {"selector": {"matchExpressions": [{"key": "k", "operator": "Exists"}]}}},
     "spec.selector", {"matchLabels": {"app": "d"}, "matchExpressions": [{"key": "k", "operator": "Exists"}]}),
])
def test_deployment_patches(patch, path, expected):
    assert at(apply_strategic_patch(DEPLOYMENT, patch, "apps", "v1", "Deployment"), path) == expected


def test_service_ports_merge_by_port():
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080},
                                  {"name": "https", "port": 443, "targetPort": 8443}]}}
    result = apply_strategic_patch(service, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}, "", "v1", "Service")
    assert result["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 9090},
                                       {"name": "https", "port": 443, "targetPort": 8443}]


@pytest.mark.parametrize("kind, path, merge_key, strategy", [
    ("Pod", "spec.containers", "name", "merge"),
    ("Pod", "spec.initContainers", "name", "merge"),
    ("Pod", "spec.ephemeralContainers", "name", "merge"),
    ("Pod", "spec.containers.env", "name", "merge"),
    ("Pod", "spec.containers.ports", "containerPort", "merge"),
    ("Pod", "spec.containers.volumeMounts", "mountPath", "merge"),
    ("Pod", "spec.containers.volumeDevices", "devicePath", "merge"),
    ("Pod", "spec.volumes", "name", "merge,retainKeys"),
    ("Pod", "spec.imagePullSecrets", "name", "merge"),
    ("Pod", "spec.hostAliases", "ip", "merge"),
    ("Pod", "spec.topologySpreadConstraints", "topologyKey", "merge"),
    ("Pod", "spec.schedulingGates", "name", "merge"),
    ("Pod", "spec.resourceClaims", "name", "merge,retainKeys"),
    ("Pod", "status.conditions", "type", "merge"),
    ("Pod", "status.podIPs", "ip", "merge"),
    ("Pod", "metadata.finalizers", None, "merge"),
    ("Pod", "metadata.ownerReferences", "uid", "merge"),
    ("Pod", "spec.tolerations", None, None),
    ("Pod", "spec.containers.args", None, None),
    ("Pod", "spec.containers.envFrom", None, None),
    ("Service", "spec.ports", "port", "merge"),
    ("Node", "status.conditions", "type", "merge"),
    ("Node", "status.addresses", "type", "merge"),
    ("Node", "spec.podCIDRs", None, "merge"),
    ("Node", "spec.taints", None, None),
    ("Namespace", "status.conditions", "type", "merge"),
    ("ServiceAccount", "secrets", "name", "merge"),
    ("ReplicationController", "spec.template.spec.containers", "name", "merge"),
    ("PersistentVolumeClaim", "status.conditions", "type", "merge"),
    ("Endpoints", "subsets", None, None),
])
def test_core_v1_patch_metadata(kind, path, merge_key, strategy):
    meta = schemas.patch_strategy("", "v1", kind, path)
    assert (meta.merge_key, meta.strategy) == (merge_key, strategy)


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"])
@pytest.mark.parametrize("path, merge_key, strategy", [
    ("spec.template.spec.containers", "name", "merge"),
    ("spec.template.spec.containers.env", "name", "merge"),
    ("spec.template.spec.containers.ports", "containerPort", "merge"),
    ("spec.template.spec.containers.volumeMounts", "mountPath", "merge"),
    ("spec.template.spec.volumes", "name", "merge,retainKeys"),
    ("spec.template.metadata.finalizers", None, "merge"),
    ("status.conditions", "type", "merge"),
    ("spec.selector.matchExpressions", None, None),
])
def test_apps_v1_patch_metadata(kind, path, merge_key, strategy):
    meta = schemas.patch_strategy("apps", "v1", kind, path)
    assert (meta.merge_key, meta.strategy) == (merge_key, strategy)


def test_deployment_strategy_is_retain_keys():
    assert schemas.patch_strategy("apps", "v1", "Deployment", "spec.strategy").strategy == "retainKeys"


@pytest.mark.parametrize("patch, error, message", [
    ({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}}, BadRequest,
     "invalid patch format of retainKeys"),
    ({"spec": {"strategy": {"$retainKeys": "type"}}}, BadRequest, "invalid patch format of retainKeys"),
    ({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}, BadRequest,
     "does not contain declared merge key: name"),
    ({"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "image": "x"}]}}}}, BadRequest,
     "does not contain declared merge key: name"),
    ({"spec": {"template": {"spec": {"containers": [{"name": "c", "$patch": "frob"}]}}}}, BadRequest,
     "unknown patch type: frob"),
    ({"spec": {"strategy": {"$patch": "frob"}}}, BadRequest, "unknown patch type: frob"),
    ({"spec": {"template": {"spec": {"$setElementOrder/containers": {"name": "c"}}}}}, BadRequest,
     "invalid patch format of setElementOrder list"),
    ({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                                     "containers": [{"name": "b"}, {"name": "a"}]}}}}, BadRequest,
     "doesn't match $setElementOrder list"),
    ({"spec": {"$setElementOrder/": []}}, BadRequest, "invalid patch format of setElementOrder list"),
    ({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, BadRequest, "invalid patch format of primitive list"),
    ({"metadata": {"finalizers": [["a"]]}}, Invalid, "the server rejected our request"),
])
def test_bad_patches(patch, error, message):
    with pytest.raises(error, match=message.replace("$", r"\$")) as caught:
        apply_strategic_patch(DEPLOYMENT, patch, "apps", "v1", "Deployment")
    assert isinstance(caught.value, (StrategicPatchError, Invalid))


@pytest.mark.parametrize("body", [["a"], "x", None])
def test_a_patch_must_be_an_object(body):
    with pytest.raises(BadRequest):
        apply_strategic_patch(POD, body, "", "v1", "Pod")


@pytest.fixture
def widget_schema():
    schemas.register_schema("example.com", "v1", "Widget", {
        "type": "object", "properties": {"spec": {"type": "object", "properties": {
            "tags": {"type": "array", "items": {"type": "string"}}, "size": {"type": "integer"}}}}})
    yield
    schemas.unregister_schema("example.com", "v1", "Widget")


@pytest.mark.parametrize("registered", [True, False])
def test_custom_resources_get_merge_patch_semantics(request, registered):
    if registered:
        request.getfixturevalue("widget_schema")
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "finalizers": ["x"]},
              "spec": {"tags": ["a", "b"], "size": 1}}
    result = apply_strategic_patch(widget, {"metadata": {"finalizers": ["y"]}, "spec": {"tags": ["c"], "size": None}},
                                   "example.com", "v1", "Widget")
    assert result["spec"] == {"tags": ["c"]}
    assert result["metadata"]["finalizers"] == ["y"]
    assert lookup_for("example.com", "v1", "Widget") is None


# ---- patch creation: kubectl's client-side apply -----------------------------------------------

def pod_file(image, env):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": image, "env": env}, {"name": "log", "image": "busybox"}]}}


def test_three_way_patch_of_kubectl_apply():
    """last-applied -> new file: image changed, an env var removed; live: defaults and a label
    someone else added. The patch changes and removes only what the file did."""
    lookup = lookup_for("", "v1", "Pod")
    last = pod_file("nginx:1.26", [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    new = pod_file("nginx:1.27", [{"name": "A", "value": "1"}])
    live = copy.deepcopy(last)
    live["metadata"].update(labels={"app": "web", "team": "ops"}, resourceVersion="5", uid="u")
    for container in live["spec"]["containers"]:
        container.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log")
    live["spec"]["restartPolicy"] = "Always"
    live["status"] = {"phase": "Pending"}

    patch = create_three_way_patch(last, new, live, lookup)
    assert patch == {"spec": {
        "$setElementOrder/containers": [{"name": "app"}, {"name": "log"}],
        "containers": [{"name": "app", "image": "nginx:1.27", "$setElementOrder/env": [{"name": "A"}],
                        "env": [{"name": "B", "$patch": "delete"}]}]}}
    result = apply_strategic_patch(live, patch, "", "v1", "Pod")
    assert result["metadata"]["labels"] == {"app": "web", "team": "ops"}
    app = result["spec"]["containers"][0]
    assert app == {"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}],
                   "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"}
    assert [c["name"] for c in result["spec"]["containers"]] == ["app", "log"]
    assert result["status"] == {"phase": "Pending"}
    # applying the same file again: nothing to send ("pod/web unchanged")
    assert create_three_way_patch(new, new, result, lookup) == {}


def test_three_way_patch_removes_fields_and_list_values_the_file_dropped():
    lookup = lookup_for("", "v1", "Pod")
    last = {"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}, "finalizers": ["f/1", "f/2"]},
            "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c", "image": "i"}]}}
    new = {"metadata": {"name": "p", "labels": {"a": "1"}, "finalizers": ["f/1"]},
           "spec": {"containers": [{"name": "c", "image": "i"}]}}
    live = copy.deepcopy(last)
    live["metadata"]["finalizers"].append("other/3")
    patch = create_three_way_patch(last, new, live, lookup)
    assert patch == {"metadata": {"labels": {"b": None}, "$deleteFromPrimitiveList/finalizers": ["f/2"],
                                  "$setElementOrder/finalizers": ["f/1"]},
                     "spec": {"nodeSelector": None}}
    result = apply_strategic_patch(live, patch, "", "v1", "Pod")
    assert result["metadata"]["labels"] == {"a": "1"}
    assert result["metadata"]["finalizers"] == ["f/1", "other/3"]
    assert "nodeSelector" not in result["spec"]


def test_three_way_patch_sets_retain_keys_on_a_switched_volume_source():
    lookup = lookup_for("apps", "v1", "Deployment")
    last = copy.deepcopy(DEPLOYMENT)
    new = copy.deepcopy(DEPLOYMENT)
    new["spec"]["strategy"] = {"type": "Recreate"}
    new["spec"]["template"]["spec"]["volumes"] = [{"name": "v", "hostPath": {"path": "/x"}}]
    patch = create_three_way_patch(last, new, DEPLOYMENT, lookup)
    assert patch["spec"]["strategy"] == {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}
    assert patch["spec"]["template"]["spec"]["volumes"] == [
        {"name": "v", "$retainKeys": ["hostPath", "name"], "hostPath": {"path": "/x"}, "emptyDir": None}]
    result = apply_strategic_patch(DEPLOYMENT, patch, "apps", "v1", "Deployment")
    assert result["spec"]["strategy"] == {"type": "Recreate"}
    assert result["spec"]["template"]["spec"]["volumes"] == [{"name": "v", "hostPath": {"path": "/x"}}]


def test_three_way_patch_restores_what_someone_else_changed_in_the_file_fields():
    lookup = lookup_for("apps", "v1", "Deployment")
    live = copy.deepcopy(DEPLOYMENT)
    live["spec"]["replicas"] = 5
    patch = create_three_way_patch(DEPLOYMENT, DEPLOYMENT, live, lookup)
    assert patch == {"spec": {"replicas": 1}}


def test_three_way_patch_without_last_applied_only_adds():
    lookup = lookup_for("", "v1", "Pod")
    live = pod_file("a", [{"name": "A", "value": "1"}])
    new = pod_file("a", [])
    new["metadata"]["annotations"] = {"k": "v"}
    assert create_three_way_patch(None, new, live, lookup) == {"metadata": {"annotations": {"k": "v"}}}


@pytest.mark.parametrize("modified", [
    pod_file("nginx:2", [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]),
    pod_file("nginx:1", []),
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
     "spec": {"containers": [{"name": "log", "image": "busybox"}, {"name": "app", "image": "nginx:1"}]}},
])
def test_two_way_patch_round_trips(modified):
    lookup = lookup_for("", "v1", "Pod")
    original = pod_file("nginx:1", [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    patch = create_two_way_patch(original, modified, lookup)
    assert apply_strategic_patch(original, patch, "", "v1", "Pod") == modified
    assert create_two_way_patch(modified, modified, lookup) == {}


def test_two_way_patch_falls_back_to_merge_patch():
    assert create_two_way_patch({"a": [1, 2]}, {"a": [1]}, None) == {"a": [1]}


def test_three_way_patch_removes_a_container_the_file_dropped():
    lookup = lookup_for("", "v1", "Pod")
    last = pod_file("nginx:1", [])
    new = copy.deepcopy(last)
    new["spec"]["containers"] = [new["spec"]["containers"][0]]
    live = copy.deepcopy(last)
    live["spec"]["containers"].append({"name": "injected", "image": "proxy"})  # added by a webhook, say
    patch = create_three_way_patch(last, new, live, lookup)
    assert patch == {"spec": {"$setElementOrder/containers": [{"name": "app"}],
                              "containers": [{"name": "log", "$patch": "delete"}]}}
    result = apply_strategic_patch(live, patch, "", "v1", "Pod")
    assert [c["name"] for c in result["spec"]["containers"]] == ["app", "injected"]
