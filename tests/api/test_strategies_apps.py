"""apps/v1 workloads and ReplicationControllers: defaults, selector rules, scale, Table rows."""

from __future__ import annotations

import copy

from hyperkube.api.kinds import builtin_registry
from hyperkube.machinery.durations import parse_rfc3339

NOW = parse_rfc3339("2026-11-25T18:00:00Z")
REGISTRY = builtin_registry()


def strategy(plural, group="apps"):
    return REGISTRY.get(group, "v1", plural).strategy


def workload(name="web", labels=None, selector=True, **spec):
    labels = {"app": name} if labels is None else labels
    body = {"metadata": {"name": name, "namespace": "default", "creationTimestamp": "2026-11-25T17:00:00Z"},
            "spec": {"template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}, **spec}}
    if selector:
        body["spec"]["selector"] = {"matchLabels": {"app": name}}
    return body


def test_deployment_defaults():
    deploy = workload()
    strategy("deployments").prepare_for_create(deploy)
    spec = deploy["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%",
                                                                            "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    template = spec["template"]["spec"]
    assert template["restartPolicy"] == "Always" and template["dnsPolicy"] == "ClusterFirst"
    assert template["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert "serviceAccountName" not in template and "tolerations" not in template  # admission is pods only
    assert deploy["status"] == {}
    assert strategy("deployments").validate(deploy) == []
    recreate = workload(strategy={"type": "Recreate"})
    strategy("deployments").prepare_for_create(recreate)
    assert recreate["spec"]["strategy"] == {"type": "Recreate"}


def test_deployment_selector_rules():
    s = strategy("deployments")
    missing = workload(selector=False)
    s.prepare_for_create(missing)
    assert {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"} in \
        s.validate(missing)
    mismatch = workload(labels={"app": "other"})
    s.prepare_for_create(mismatch)
    (cause,) = s.validate(mismatch)
    assert cause["field"] == "spec.template.metadata.labels"
    assert cause["message"] == 'Invalid value: {"app":"other"}: `selector` does not match template `labels`'
    empty = workload()
    empty["spec"]["selector"] = {}
    s.prepare_for_create(empty)
    assert s.validate(empty)[0]["message"].endswith("empty selector is invalid for deployment")
    never = workload()
    never["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    s.prepare_for_create(never)
    assert s.validate(never) == [{"reason": "FieldValueNotSupported", "field": "spec.template.spec.restartPolicy",
                                  "message": 'Unsupported value: "Never": supported values: "Always"'}]
    stuck = workload(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}},
                     replicas=-1)
    s.prepare_for_create(stuck)
    messages = {c["field"]: c["message"] for c in s.validate(stuck)}
    assert messages["spec.strategy.rollingUpdate.maxUnavailable"].endswith("may not be 0 when `maxSurge` is 0")
    assert messages["spec.replicas"] == "Invalid value: -1: must be greater than or equal to 0"


def test_deployment_selector_is_immutable():
    s = strategy("deployments")
    old = workload()
    s.prepare_for_create(old)
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
    new["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    s.prepare_for_update(new, old)
    assert [c["field"] for c in s.validate_update(new, old)] == ["spec.selector"]
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 5
    assert s.validate_update(scaled, old) == []


def test_deployment_row_and_scale():
    s = strategy("deployments")
    deploy = workload(replicas=3)
    s.prepare_for_create(deploy)
    deploy["metadata"]["uid"] = "u1"
    deploy["status"] = {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    assert s.row(deploy, NOW) == ["web", "2/3", 3, 2, "60m", "c", "nginx:1.27", "app=web"]
    scale = s.scale(deploy)
    assert scale == {"kind": "Scale", "apiVersion": "autoscaling/v1",
                     "metadata": {"name": "web", "namespace": "default", "uid": "u1",
                                  "creationTimestamp": "2026-11-25T17:00:00Z"},
                     "spec": {"replicas": 3}, "status": {"replicas": 3, "selector": "app=web"}}
    assert s.apply_scale(deploy, {"spec": {"replicas": 5}}) == []
    assert deploy["spec"]["replicas"] == 5
    assert s.apply_scale(deploy, {"spec": {"replicas": -2}})[0]["field"] == "spec.replicas"


def test_selector_strings():
    s = strategy("deployments")
    deploy = workload()
    deploy["spec"]["selector"] = {"matchLabels": {"tier": "fe", "app": "web"},
                                  "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                                                       {"key": "canary", "operator": "DoesNotExist"}]}
    deploy["spec"]["template"]["metadata"]["labels"] = {"app": "web", "tier": "fe", "env": "prod"}
    s.prepare_for_create(deploy)
    assert s.validate(deploy) == []
    assert s.row(deploy, NOW)[7] == "app=web,!canary,env in (dev,prod),tier=fe"


def test_replicaset_and_replication_controller():
    rs_strategy = strategy("replicasets")
    rs = workload()
    rs_strategy.prepare_for_create(rs)
    assert rs["spec"]["replicas"] == 1
    rs["status"] = {"replicas": 1, "readyReplicas": 1}
    assert rs_strategy.row(rs, NOW) == ["web", 1, 1, 1, "60m", "c", "nginx:1.27", "app=web"]
    assert rs_strategy.field_values(rs) == {"status.replicas": "1"}
    rc_strategy = strategy("replicationcontrollers", "")
    rc = workload(selector=False)
    rc_strategy.prepare_for_create(rc)
    assert rc["spec"]["selector"] == {"app": "web"}  # defaulted from the template
    assert rc["metadata"]["labels"] == {"app": "web"}
    assert rc_strategy.validate(rc) == []
    assert rc_strategy.row(rc, NOW)[7] == "app=web"
    assert rc_strategy.scale(rc)["status"]["selector"] == "app=web"


def test_statefulset():
    s = strategy("statefulsets")
    sts = workload(serviceName="web", volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}])
    s.prepare_for_create(sts)
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["volumeClaimTemplates"][0]["spec"]["volumeMode"] == "Filesystem"
    assert s.validate(sts) == []
    assert s.row(sts, NOW) == ["web", "0/1", "60m", "c", "nginx:1.27"]
    renamed = copy.deepcopy(sts)
    renamed["spec"]["serviceName"] = "other"
    (cause,) = s.validate_update(renamed, sts)
    assert cause["field"] == "spec" and "updates to statefulset spec for fields other than" in cause["message"]
    scaled = copy.deepcopy(sts)
    scaled["spec"]["replicas"] = 3
    assert s.validate_update(scaled, sts) == []


def test_daemonset_and_controller_revision():
    s = strategy("daemonsets")
    ds = workload()
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
    s.prepare_for_create(ds)
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10
    assert s.validate(ds) == []
    assert s.row(ds, NOW)[:8] == ["web", 0, 0, 0, 0, 0, "kubernetes.io/os=linux", "60m"]
    cr = strategy("controllerrevisions")
    rev = {"metadata": {"name": "web-123", "namespace": "default", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "web", "uid": "1", "controller": True}]},
        "revision": 2, "data": {}}
    assert cr.validate(rev) == []
    assert cr.row(rev, NOW)[:3] == ["web-123", "daemonset.apps/web", 2]
    changed = copy.deepcopy(rev)
    changed["data"] = {"x": 1}
    assert cr.validate_update(changed, rev)[0]["field"] == "data"
