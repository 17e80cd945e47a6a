"""autoscaling, policy, coordination, scheduling, rbac, networking and storage kinds."""

from __future__ import annotations

import copy

from hyperkube.api.kinds import builtin_registry
from hyperkube.machinery.durations import parse_rfc3339

NOW = parse_rfc3339("2026-11-25T18:00:00Z")
REGISTRY = builtin_registry()
CREATED = "2026-11-25T17:00:00Z"


def strategy(group, plural, version="v1"):
    return REGISTRY.get(group, version, plural).strategy


def meta(name, namespace="default"):
    out = {"name": name, "creationTimestamp": CREATED}
    if namespace:
        out["namespace"] = namespace
    return out


def test_hpa_v2_defaults_and_targets():
    s = strategy("autoscaling", "horizontalpodautoscalers", "v2")
    hpa = {"metadata": meta("web"), "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                                "name": "web"}, "maxReplicas": 5}}
    s.prepare_for_create(hpa)
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    assert "behavior" not in hpa["spec"]
    assert s.validate(hpa) == []
    assert s.row(hpa, NOW) == ["web", "Deployment/web", "cpu: <unknown>/80%", "1", 5, 0, "60m"]
    tuned = copy.deepcopy(hpa)
    tuned["spec"]["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": 60}}
    s.prepare_for_update(tuned, hpa)
    assert tuned["spec"]["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 60, "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
    assert tuned["spec"]["behavior"]["scaleUp"]["policies"][0] == {"type": "Pods", "value": 4, "periodSeconds": 15}
    hpa["status"] = {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 42}}}]}
    hpa["spec"]["metrics"] += [{"type": "Pods", "pods": {"metric": {"name": "qps"},
                                                          "target": {"type": "AverageValue", "averageValue": "10"}}},
                               {"type": "External", "external": {"metric": {"name": "q"},
                                                                 "target": {"type": "Value", "value": "1"}}}]
    assert s.row(hpa, NOW)[2] == "cpu: 42%/80%, <unknown>/10 + 1 more..."
    bad = copy.deepcopy(hpa)
    bad["spec"].update(minReplicas=0, maxReplicas=0)
    fields = {c["field"] for c in s.validate(bad)}
    assert {"spec.minReplicas", "spec.maxReplicas"} <= fields


def test_hpa_v1_converts_onto_v2_storage():
    v1 = strategy("autoscaling", "horizontalpodautoscalers", "v1")
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": meta("web"),
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 4,
                    "targetCPUUtilizationPercentage": 50}}
    v1.prepare_for_create(hpa)
    assert v1.validate(hpa) == []
    stored = v1.to_storage(hpa)
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    assert strategy("autoscaling", "horizontalpodautoscalers", "v2").validate(stored) == []
    stored["status"] = {"currentReplicas": 1, "currentMetrics": [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 30}}}], "conditions": [{"type": "AbleToScale"}]}
    served = v1.from_storage(stored)
    assert served["spec"]["targetCPUUtilizationPercentage"] == 50 and "metrics" not in served["spec"]
    assert served["status"] == {"currentReplicas": 1, "desiredReplicas": 0, "currentCPUUtilizationPercentage": 30}
    assert v1.row(served, NOW)[2] == "cpu: 30%/50%"


def test_pdb():
    s = strategy("policy", "poddisruptionbudgets")
    pdb = {"metadata": meta("web"), "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}}
    s.prepare_for_create(pdb)
    assert s.validate(pdb) == []
    assert s.row(pdb, NOW) == ["web", "50%", "N/A", 0, "60m"]
    both = copy.deepcopy(pdb)
    both["spec"]["maxUnavailable"] = 1
    assert s.validate(both)[0]["message"].endswith("minAvailable and maxUnavailable cannot be both set")
    over = {"metadata": meta("x"), "spec": {"maxUnavailable": "150%"}}
    assert s.validate(over)[0]["message"].endswith("must not be greater than 100%")


def test_lease_and_priority_class():
    lease = strategy("coordination.k8s.io", "leases")
    obj = {"metadata": meta("kube-scheduler", "kube-system"), "spec": {"holderIdentity": "node-1_abc",
                                                                       "leaseDurationSeconds": 15}}
    assert lease.validate(obj) == []
    assert lease.row(obj, NOW) == ["kube-scheduler", "node-1_abc", "60m"]
    assert not lease.has_status and not lease.tracks_generation
    assert lease.validate({"metadata": meta("l"), "spec": {"leaseDurationSeconds": 0}})[0]["field"] == \
        "spec.leaseDurationSeconds"
    pc = strategy("scheduling.k8s.io", "priorityclasses")
    high = {"metadata": meta("high", None), "value": 1000}
    pc.prepare_for_create(high)
    assert high["preemptionPolicy"] == "PreemptLowerPriority"
    assert pc.validate(high) == []
    assert pc.row(high, NOW) == ["high", 1000, False, "60m", "PreemptLowerPriority"]
    reserved = {"metadata": meta("system-mine", None), "value": 1}
    assert pc.validate(reserved)[0]["message"] == \
        "Forbidden: priority class names with 'system-' prefix are reserved."
    bumped = copy.deepcopy(high)
    bumped["value"] = 2000
    assert pc.validate_update(bumped, high)[0]["field"] == "value"


def test_rbac():
    role = strategy("rbac.authorization.k8s.io", "roles")
    obj = {"metadata": meta("system:reader"), "rules": [{"apiGroups": [""], "resources": ["pods"],
                                                         "verbs": ["get"]}]}
    assert role.validate(obj) == []  # RBAC names are path segments, not DNS names
    assert role.row(obj, NOW) == ["system:reader", CREATED]
    bad = {"metadata": meta("r"), "rules": [{"resources": ["pods"]}, {"nonResourceURLs": ["/healthz"],
                                                                      "verbs": ["get"]}]}
    messages = {c["field"]: c["message"] for c in role.validate(bad)}
    assert messages["rules[0].verbs"] == "Required value: verbs must contain at least one value"
    assert messages["rules[0].apiGroups"] == "Required value: resource rules must supply at least one api group"
    assert messages["rules[1].nonResourceURLs"].endswith("namespaced rules cannot apply to non-resource URLs")
    cluster_role = strategy("rbac.authorization.k8s.io", "clusterroles")
    assert cluster_role.validate({"metadata": meta("health", None), "rules": [
        {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]}) == []
    binding = strategy("rbac.authorization.k8s.io", "rolebindings")
    rb = {"metadata": meta("read"), "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                "name": "system:reader"},
          "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "ci",
                                                          "namespace": "build"}, {"kind": "Group", "name": "devs"}]}
    binding.prepare_for_create(rb)
    assert rb["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io" and rb["subjects"][1]["apiGroup"] == ""
    assert binding.validate(rb) == []
    assert binding.row(rb, NOW) == ["read", "Role/system:reader", "60m", "jane", "devs", "build/ci"]
    moved = copy.deepcopy(rb)
    moved["roleRef"]["name"] = "admin"
    assert binding.validate_update(moved, rb)[0]["message"].endswith("cannot change roleRef")
    crb = strategy("rbac.authorization.k8s.io", "clusterrolebindings")
    assert {c["field"] for c in crb.validate({"metadata": meta("x", None), "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa"}]})} == {"roleRef.kind", "subjects[0].namespace"}


def test_networking():
    ing = strategy("networking.k8s.io", "ingresses")
    obj = {"metadata": meta("web"), "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
                                             "rules": [{"host": "a.example.com", "http": {"paths": [
                                                 {"path": "/", "pathType": "Prefix", "backend": {"service": {
                                                     "name": "web", "port": {"number": 80}}}}]}}]}}
    ing.prepare_for_create(obj)
    assert ing.validate(obj) == []
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}}
    assert ing.row(obj, NOW) == ["web", "nginx", "a.example.com", "10.0.0.9", "80, 443", "60m"]
    bad = {"metadata": meta("bad"), "spec": {"rules": [{"http": {"paths": [{"path": "x", "backend": {}}]}}]}}
    fields = {c["field"] for c in ing.validate(bad)}
    assert {"spec.rules[0].http.paths[0].pathType", "spec.rules[0].http.paths[0].backend"} <= fields
    assert ing.validate({"metadata": meta("none"), "spec": {}})[0]["field"] == "spec"
    by_ip = {"metadata": meta("ip"), "spec": {"rules": [{"host": "10.0.0.1"}]}}
    assert ing.validate(by_ip)[0]["message"] == 'Invalid value: "10.0.0.1": must be a DNS name, not an IP address'
    netpol = strategy("networking.k8s.io", "networkpolicies")
    policy = {"metadata": meta("deny"), "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}}
    netpol.prepare_for_create(policy)
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"
    assert netpol.validate(policy) == []
    assert netpol.row(policy, NOW) == ["deny", "<none>", "60m"]
    classes = strategy("networking.k8s.io", "ingressclasses")
    klass = {"metadata": meta("nginx", None), "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {
        "apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}}
    assert classes.validate(klass) == []
    assert classes.row(klass, NOW) == ["nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/p",
                                       "60m"]


def test_storage():
    pv_strategy = strategy("", "persistentvolumes")
    pv = {"metadata": meta("pv1", None), "spec": {"capacity": {"storage": "10Gi"},
                                                  "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                                                  "hostPath": {"path": "/data"},
                                                  "claimRef": {"namespace": "default", "name": "data"}}}
    pv_strategy.prepare_for_create(pv)
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain" and pv["status"] == {"phase": "Pending"}
    assert pv_strategy.validate(pv) == []
    assert pv_strategy.row(pv, NOW) == ["pv1", "10Gi", "RWO,ROX", "Retain", "Pending", "default/data", "",
                                        "<unset>", "", "60m", "Filesystem"]
    assert {c["field"] for c in pv_strategy.validate({"metadata": meta("p", None), "spec": {}})} == {
        "spec.capacity", "spec.accessModes", "spec"}
    pvc_strategy = strategy("", "persistentvolumeclaims")
    pvc = {"metadata": meta("data"), "spec": {"accessModes": ["ReadWriteOnce"],
                                              "resources": {"requests": {"storage": "1Gi"}}}}
    pvc_strategy.prepare_for_create(pvc)
    assert pvc_strategy.validate(pvc) == []
    assert pvc_strategy.row(pvc, NOW) == ["data", "Pending", "", "", "", "", "<unset>", "60m", "Filesystem"]
    grown = copy.deepcopy(pvc)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert pvc_strategy.validate_update(grown, pvc) == []
    remode = copy.deepcopy(pvc)
    remode["spec"]["accessModes"] = ["ReadWriteMany"]
    assert pvc_strategy.validate_update(remode, pvc)[0]["field"] == "spec"
    sc_strategy = strategy("storage.k8s.io", "storageclasses")
    sc = {"metadata": {**meta("standard", None), "annotations": {
        "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "rancher.io/local-path"}
    sc_strategy.prepare_for_create(sc)
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    assert sc_strategy.validate(sc) == []
    assert sc_strategy.row(sc, NOW) == ["standard (default)", "rancher.io/local-path", "Delete", "Immediate", False,
                                        "60m"]
    changed = copy.deepcopy(sc)
    changed["provisioner"] = "other.io/x"
    assert sc_strategy.validate_update(changed, sc)[0]["message"] == \
        "Forbidden: updates to provisioner are forbidden."
