"""core/v1 kinds besides pods: namespaces, services, configmaps, secrets, nodes, events, endpoints ..."""

from __future__ import annotations

import base64
import copy

from hyperkube.api.kinds import builtin_registry
from hyperkube.machinery.durations import parse_rfc3339

NOW = parse_rfc3339("2026-11-25T18:00:00Z")
REGISTRY = builtin_registry()


def strategy(plural, group="", version="v1"):
    return REGISTRY.get(group, version, plural).strategy


def meta(name="x", namespace="default", **more):
    out = {"name": name, "creationTimestamp": "2026-11-25T15:00:00Z", **more}
    if namespace:
        out["namespace"] = namespace
    return out


def created(plural, obj, group="", version="v1"):
    strategy(plural, group, version).prepare_for_create(obj)
    return obj


def test_namespace_defaults_validation_and_row():
    s = strategy("namespaces")
    ns = created("namespaces", {"metadata": meta("team-a", None)})
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert s.validate(ns) == []
    assert s.row(ns, NOW) == ["team-a", "Active", "3h"]
    assert s.field_values(ns) == {"status.phase": "Active"}
    bad = created("namespaces", {"metadata": meta("team.a", None)})
    (cause,) = s.validate(bad)
    assert cause["field"] == "metadata.name" and "RFC 1123 label" in cause["message"]
    scoped = created("namespaces", {"metadata": meta("b", "default")})
    assert {"reason": "FieldValueForbidden", "message": "Forbidden: not allowed on this type",
            "field": "metadata.namespace"} in s.validate(scoped)


def test_namespace_update_keeps_finalizers_and_finalize_changes_them():
    s = strategy("namespaces")
    old = created("namespaces", {"metadata": meta("a", None)})
    new = copy.deepcopy(old)
    new["spec"]["finalizers"] = []
    s.prepare_for_update(new, old)
    assert new["spec"]["finalizers"] == ["kubernetes"]
    finalize = copy.deepcopy(old)
    finalize["spec"]["finalizers"] = []
    finalize["metadata"]["labels"]["x"] = "y"
    s.prepare_for_finalize(finalize, old)
    assert finalize["spec"]["finalizers"] == [] and "x" not in finalize["metadata"]["labels"]
    status = copy.deepcopy(old)
    status["status"]["phase"] = "Gone"
    assert s.validate_status_update(status, old)[0]["reason"] == "FieldValueNotSupported"


def test_service_defaults():
    svc = created("services", {"metadata": meta("web"), "spec": {"selector": {"app": "web"},
                                                                 "ports": [{"port": 80}]}})
    assert svc["spec"] == {"selector": {"app": "web"}, "type": "ClusterIP", "sessionAffinity": "None",
                           "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                           "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack",
                           "ipFamilies": ["IPv4"]}
    assert svc["status"] == {"loadBalancer": {}}
    node_port = created("services", {"metadata": meta("np"), "spec": {"type": "NodePort",
                                                                      "ports": [{"port": 80, "targetPort": "http"}]}})
    assert node_port["spec"]["externalTrafficPolicy"] == "Cluster"
    assert node_port["spec"]["ports"][0]["targetPort"] == "http"
    assert strategy("services").validate(node_port) == []


def test_service_validation():
    s = strategy("services")
    svc = created("services", {"metadata": meta("1web"), "spec": {"ports": [
        {"port": 80, "name": "http"}, {"port": 70000}, {"port": 81, "name": "http"}], "type": "Magic"}})
    by_field = {c["field"]: c["message"] for c in s.validate(svc)}
    assert "a DNS-1035 label must consist of" in by_field["metadata.name"]
    assert by_field["spec.ports[1].name"] == "Required value"
    assert by_field["spec.ports[1].port"] == "Invalid value: 70000: must be between 1 and 65535, inclusive"
    assert by_field["spec.ports[2].name"] == 'Duplicate value: "http"'
    assert by_field["spec.type"].startswith('Unsupported value: "Magic"')
    no_ports = created("services", {"metadata": meta("web"), "spec": {}})
    assert {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.ports"} in \
        s.validate(no_ports)
    headless = created("services", {"metadata": meta("db"), "spec": {"clusterIP": "None"}})
    assert s.validate(headless) == []
    addresses = created("services", {"metadata": meta("web"), "spec": {
        "ports": [{"port": 80}], "clusterIP": "10.0.0.300", "externalIPs": ["nope"],
        "externalTrafficPolicy": "Local", "ipFamilyPolicy": "TripleStack"}})
    fields = {c["field"] for c in s.validate(addresses)}
    assert fields == {"spec.clusterIPs[0]", "spec.externalIPs[0]", "spec.externalTrafficPolicy",
                      "spec.ipFamilyPolicy"}
    external = created("services", {"metadata": meta("ext"), "spec": {"type": "ExternalName"}})
    assert s.validate(external) == [{"reason": "FieldValueRequired", "message": "Required value",
                                     "field": "spec.externalName"}]


def test_service_update_keeps_allocations_and_cluster_ip_is_immutable():
    s = strategy("services")
    old = created("services", {"metadata": meta("web"), "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
    old["spec"].update(clusterIP="127.64.0.10", clusterIPs=["127.64.0.10"])
    old["spec"]["ports"][0]["nodePort"] = 30080
    replacement = {"metadata": meta("web"), "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    s.prepare_for_update(replacement, old)
    assert replacement["spec"]["clusterIP"] == "127.64.0.10"
    assert replacement["spec"]["ports"][0]["nodePort"] == 30080
    assert s.validate_update(replacement, old) == []
    moved = copy.deepcopy(old)
    moved["spec"]["clusterIP"] = "127.64.0.11"
    assert {"reason": "FieldValueInvalid", "message": 'Invalid value: "127.64.0.11": field is immutable',
            "field": "spec.clusterIP"} in s.validate_update(moved, old)


def test_service_rows():
    s = strategy("services")
    svc = created("services", {"metadata": meta("web"), "spec": {"selector": {"app": "web", "tier": "fe"},
                                                                 "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}})
    svc["spec"].update(clusterIP="127.64.0.10", clusterIPs=["127.64.0.10"])
    assert s.row(svc, NOW) == ["web", "ClusterIP", "127.64.0.10", "<none>", "80/TCP,53/UDP", "3h",
                               "app=web,tier=fe"]
    lb = created("services", {"metadata": meta("lb"), "spec": {"type": "LoadBalancer",
                                                               "ports": [{"port": 443, "nodePort": 31443}]}})
    assert s.row(lb, NOW)[2:5] == ["<none>", "<pending>", "443:31443/TCP"]
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}]}}
    assert s.row(lb, NOW)[3] == "203.0.113.9,lb.example.com"
    ext = created("services", {"metadata": meta("ext"), "spec": {"type": "ExternalName",
                                                                 "externalName": "db.example.com"}})
    assert s.row(ext, NOW)[1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]
    assert s.field_values(svc) == {"spec.clusterIP": "127.64.0.10", "spec.type": "ClusterIP"}


def test_configmap_rules_and_row():
    s = strategy("configmaps")
    assert not s.has_status and not s.tracks_generation
    cm = created("configmaps", {"metadata": meta("cfg"), "data": {"a.properties": "x", "b": "y"},
                                "binaryData": {"c": "AA=="}})
    assert s.validate(cm) == []
    assert s.row(cm, NOW) == ["cfg", 3, "3h"]
    bad = created("configmaps", {"metadata": meta("cfg"), "data": {"bad/key": "x"}})
    (cause,) = s.validate(bad)
    assert cause["field"] == "data[bad/key]" and "a valid config key must consist of" in cause["message"]
    both = created("configmaps", {"metadata": meta("cfg"), "data": {"k": "x"}, "binaryData": {"k": "eA=="}})
    assert s.validate(both) == [{"reason": "FieldValueInvalid", "field": "data[k]",
                                 "message": 'Invalid value: "k": duplicate of key present in binaryData'}]
    big = created("configmaps", {"metadata": meta("cfg"), "data": {"a": "x" * (1024 * 1024 + 1)}})
    assert s.validate(big)[0]["reason"] == "FieldValueTooLong"


def test_immutable_configmaps_and_secrets():
    for plural in ("configmaps", "secrets"):
        s = strategy(plural)
        old = created(plural, {"metadata": meta("frozen"), "data": {"a": "eA=="}, "immutable": True})
        new = copy.deepcopy(old)
        new["data"]["a"] = "eQ=="
        assert {"reason": "FieldValueForbidden", "message": "Forbidden: field is immutable when `immutable` is set",
                "field": "data"} in s.validate_update(new, old)
        thawed = copy.deepcopy(old)
        thawed["immutable"] = False
        assert any(c["field"] == "immutable" for c in s.validate_update(thawed, old))
        assert s.validate_update(copy.deepcopy(old), old) == []


def test_secret_defaults_string_data_and_types():
    s = strategy("secrets")
    secret = created("secrets", {"metadata": meta("creds"), "stringData": {"password": "hunter2"},
                                 "data": {"user": base64.b64encode(b"admin").decode()}})
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"
    assert s.row(secret, NOW) == ["creds", "Opaque", 2, "3h"]
    assert s.field_values(secret) == {"type": "Opaque"}
    tls = created("secrets", {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}})
    assert s.validate(tls) == [{"reason": "FieldValueRequired", "message": "Required value",
                                "field": "data[tls.key]"}]
    changed = copy.deepcopy(tls)
    changed["type"] = "Opaque"
    assert any(c["field"] == "type" for c in s.validate_update(changed, tls))


def test_serviceaccount_limitrange_quota():
    sa = created("serviceaccounts", {"metadata": meta("builder"), "secrets": [{"name": "t"}]})
    assert strategy("serviceaccounts").row(sa, NOW) == ["builder", 1, "3h"]
    lr = created("limitranges", {"metadata": meta("limits"), "spec": {"limits": [
        {"type": "Container", "max": {"cpu": "2"}, "default": {"memory": "256Mi"}}]}})
    item = lr["spec"]["limits"][0]
    assert item["default"] == {"memory": "256Mi", "cpu": "2"}
    assert item["defaultRequest"] == {"memory": "256Mi", "cpu": "2"}
    assert strategy("limitranges").row(lr, NOW) == ["limits", "2026-11-25T15:00:00Z"]
    quota = created("resourcequotas", {"metadata": meta("q"), "spec": {"hard": {"cpu": "4"}}})
    quota["status"] = {"hard": {"limits.memory": "4Gi", "pods": "10", "cpu": "4"},
                       "used": {"pods": "3", "cpu": "500m"}}
    assert strategy("resourcequotas").row(quota, NOW) == ["q", "cpu: 500m/4, pods: 3/10", "limits.memory: 0/4Gi",
                                                           "3h"]


def test_node_status_roles_and_fields():
    s = strategy("nodes")
    node = {"metadata": meta("node-1", None, labels={"node-role.kubernetes.io/control-plane": "",
                                                     "kubernetes.io/role": "worker"}),
            "spec": {"unschedulable": True},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                       "nodeInfo": {"kubeletVersion": "v1.37.0", "osImage": "Debian"}}}
    s.prepare_for_create(node)
    assert node["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}  # kept on create
    assert s.validate(node) == []
    assert s.row(node, NOW) == ["node-1", "Ready,SchedulingDisabled", "control-plane,worker", "3h", "v1.37.0",
                                "10.0.0.1", "<none>", "Debian", "<unknown>", "<unknown>"]
    assert s.field_values(node) == {"spec.unschedulable": "true"}
    node["status"]["conditions"][0]["status"] = "Unknown"
    assert s.row(node, NOW)[1] == "NotReady,SchedulingDisabled"
    bare = created("nodes", {"metadata": meta("n2", None)})
    assert s.row(bare, NOW)[1:3] == ["Unknown", "<none>"]
    tainted = created("nodes", {"metadata": meta("n3", None), "spec": {"taints": [{"key": "k", "effect": "Bad"}]}})
    assert s.validate(tainted)[0]["field"] == "spec.taints[0].effect"
    cidrs = created("nodes", {"metadata": meta("n4", None), "spec": {"podCIDR": "10.0.0.0/24",
                                                                     "podCIDRs": ["10.0.0.0/24", "nope"]}})
    assert [c["field"] for c in s.validate(cidrs)] == ["spec.podCIDRs[1]"]


def test_core_event_fields_validation_and_row():
    s = strategy("events")
    event = {"metadata": meta("web.1"), "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default",
                                                           "uid": "u1", "fieldPath": "spec.containers{c}"},
             "reason": "Pulled", "message": "Pulled image ", "type": "Normal", "count": 3,
             "source": {"component": "kubelet", "host": "node-1"},
             "firstTimestamp": "2026-11-25T16:00:00Z", "lastTimestamp": "2026-11-25T17:58:00Z"}
    s.prepare_for_create(event)
    assert s.validate(event) == []
    assert s.row(event, NOW) == ["2m", "Normal", "Pulled", "pod/web", "spec.containers{c}", "kubelet, node-1",
                                 "Pulled image", "120m", 3, "web.1"]
    values = s.field_values(event)
    assert values["involvedObject.name"] == "web" and values["source"] == "kubelet"
    assert values["involvedObject.resourceVersion"] == "" and values["type"] == "Normal"
    kopf = {"metadata": {"namespace": "default", "generateName": "kopf-event-", "name": "kopf-event-x"},
            "action": "Action?", "type": "Normal", "reason": "TagsChanged", "message": "...",
            "reportingComponent": "kopf", "reportingInstance": "dev", "source": {"component": "kopf"},
            "involvedObject": {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w1", "uid": "u",
                               "namespace": "default"},
            "firstTimestamp": "2026-11-25T17:30:17.300884+00:00", "lastTimestamp": "2026-11-25T17:30:17.300884+00:00",
            "eventTime": "2026-11-25T17:30:17.300884+00:00"}
    s.prepare_for_create(kopf)
    assert s.validate(kopf) == []
    assert s.row(kopf, NOW)[:4] == ["29m", "Normal", "TagsChanged", "widget/w1"]
    anonymous = copy.deepcopy(kopf)
    del anonymous["reportingComponent"], anonymous["action"]
    assert {c["field"] for c in s.validate(anonymous)} == {"reportingComponent", "action"}
    elsewhere = copy.deepcopy(event)
    elsewhere["involvedObject"]["namespace"] = "other"
    assert s.validate(elsewhere)[0] == {"reason": "FieldValueInvalid", "field": "involvedObject.namespace",
                                        "message": 'Invalid value: "other": does not match event.namespace'}


def test_events_k8s_io_shares_storage_with_core_events():
    s = strategy("events", "events.k8s.io")
    event = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta("web.2"),
             "eventTime": "2026-11-25T17:59:00.000000Z", "reportingController": "example.com/ctl",
             "reportingInstance": "ctl-1", "action": "Sync", "reason": "Synced", "type": "Normal",
             "regarding": {"kind": "Deployment", "name": "web", "namespace": "default"}, "note": "ok"}
    s.prepare_for_create(event)
    assert s.validate(event) == []
    stored = s.to_storage(event)
    assert stored["apiVersion"] == "v1" and stored["involvedObject"]["name"] == "web"
    assert stored["message"] == "ok" and stored["reportingComponent"] == "example.com/ctl"
    assert strategy("events").validate(stored) == []
    assert s.from_storage(stored) == event
    assert s.row(stored, NOW)[:4] == ["60s", "Normal", "Synced", "deployment/web"]
    assert s.field_values(stored)["regarding.name"] == "web"
    incomplete = {"apiVersion": "events.k8s.io/v1", "metadata": meta("e"), "regarding": {}}
    fields = {c["field"] for c in s.validate(incomplete)}
    assert {"eventTime", "reportingController", "reportingInstance", "action", "reason", "type"} <= fields


def test_endpoints_and_endpointslices():
    ep = created("endpoints", {"metadata": meta("web"), "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]})
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"
    assert strategy("endpoints").row(ep, NOW)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
    empty = created("endpoints", {"metadata": meta("none")})
    assert strategy("endpoints").row(empty, NOW)[1] == "<none>"
    es = strategy("endpointslices", "discovery.k8s.io")
    sl = {"metadata": meta("web-abc"), "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}],
          "ports": [{"port": 80, "name": "http"}]}
    es.prepare_for_create(sl)
    assert es.validate(sl) == []
    assert es.row(sl, NOW) == ["web-abc", "IPv4", "80", "10.0.0.1", "3h"]
    assert es.row({"metadata": meta("e"), "addressType": "IPv4"}, NOW)[2:4] == ["<unset>", "<unset>"]
    moved = copy.deepcopy(sl)
    moved["addressType"] = "IPv6"
    assert es.validate_update(moved, sl)[0]["field"] == "addressType"


def test_binding_validation():
    s = strategy("bindings")
    assert s.validate({"metadata": meta("web"), "target": {"kind": "Node", "name": "n1"}}) == []
    assert s.validate({"metadata": meta("web"), "target": {}}) == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "target.name"}]
