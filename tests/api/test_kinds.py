"""builtin_registry(): every built-in resource, named as Kubernetes 1.37 discovery names it."""

from __future__ import annotations

import json
import time

import pytest

from hyperkube.api.kinds import builtin_registry, subresource_info
from hyperkube.api.registry import ALL_VERBS

NO_COLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")

# (group, version, plural): (kind, singular, namespaced, shortNames, categories)
EXPECTED = {
    ("", "v1", "bindings"): ("Binding", "binding", True, (), ()),
    ("", "v1", "componentstatuses"): ("ComponentStatus", "componentstatus", False, ("cs",), ()),
    ("", "v1", "configmaps"): ("ConfigMap", "configmap", True, ("cm",), ()),
    ("", "v1", "endpoints"): ("Endpoints", "endpoints", True, ("ep",), ()),
    ("", "v1", "events"): ("Event", "event", True, ("ev",), ()),
    ("", "v1", "limitranges"): ("LimitRange", "limitrange", True, ("limits",), ()),
    ("", "v1", "namespaces"): ("Namespace", "namespace", False, ("ns",), ()),
    ("", "v1", "nodes"): ("Node", "node", False, ("no",), ()),
    ("", "v1", "persistentvolumeclaims"): ("PersistentVolumeClaim", "persistentvolumeclaim", True, ("pvc",), ()),
    ("", "v1", "persistentvolumes"): ("PersistentVolume", "persistentvolume", False, ("pv",), ()),
    ("", "v1", "pods"): ("Pod", "pod", True, ("po",), ("all",)),
    ("", "v1", "podtemplates"): ("PodTemplate", "podtemplate", True, (), ()),
    ("", "v1", "replicationcontrollers"): ("ReplicationController", "replicationcontroller", True, ("rc",),
                                           ("all",)),
    ("", "v1", "resourcequotas"): ("ResourceQuota", "resourcequota", True, ("quota",), ()),
    ("", "v1", "secrets"): ("Secret", "secret", True, (), ()),
    ("", "v1", "serviceaccounts"): ("ServiceAccount", "serviceaccount", True, ("sa",), ()),
    ("", "v1", "services"): ("Service", "service", True, ("svc",), ("all",)),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions"): ("CustomResourceDefinition",
                                                                   "customresourcedefinition", False,
                                                                   ("crd", "crds"), ("api-extensions",)),
    ("apps", "v1", "controllerrevisions"): ("ControllerRevision", "controllerrevision", True, (), ()),
    ("apps", "v1", "daemonsets"): ("DaemonSet", "daemonset", True, ("ds",), ("all",)),
    ("apps", "v1", "deployments"): ("Deployment", "deployment", True, ("deploy",), ("all",)),
    ("apps", "v1", "replicasets"): ("ReplicaSet", "replicaset", True, ("rs",), ("all",)),
    ("apps", "v1", "statefulsets"): ("StatefulSet", "statefulset", True, ("sts",), ("all",)),
    ("autoscaling", "v1", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", "horizontalpodautoscaler", True,
                                                        ("hpa",), ("all",)),
    ("autoscaling", "v2", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", "horizontalpodautoscaler", True,
                                                        ("hpa",), ("all",)),
    ("batch", "v1", "cronjobs"): ("CronJob", "cronjob", True, ("cj",), ("all",)),
    ("batch", "v1", "jobs"): ("Job", "job", True, (), ("all",)),
    ("coordination.k8s.io", "v1", "leases"): ("Lease", "lease", True, (), ()),
    ("discovery.k8s.io", "v1", "endpointslices"): ("EndpointSlice", "endpointslice", True, (), ()),
    ("events.k8s.io", "v1", "events"): ("Event", "event", True, ("ev",), ()),
    ("networking.k8s.io", "v1", "ingressclasses"): ("IngressClass", "ingressclass", False, (), ()),
    ("networking.k8s.io", "v1", "ingresses"): ("Ingress", "ingress", True, ("ing",), ()),
    ("networking.k8s.io", "v1", "networkpolicies"): ("NetworkPolicy", "networkpolicy", True, ("netpol",), ()),
    ("policy", "v1", "poddisruptionbudgets"): ("PodDisruptionBudget", "poddisruptionbudget", True, ("pdb",), ()),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings"): ("ClusterRoleBinding", "clusterrolebinding",
                                                                 False, (), ()),
    ("rbac.authorization.k8s.io", "v1", "clusterroles"): ("ClusterRole", "clusterrole", False, (), ()),
    ("rbac.authorization.k8s.io", "v1", "rolebindings"): ("RoleBinding", "rolebinding", True, (), ()),
    ("rbac.authorization.k8s.io", "v1", "roles"): ("Role", "role", True, (), ()),
    ("scheduling.k8s.io", "v1", "priorityclasses"): ("PriorityClass", "priorityclass", False, ("pc",), ()),
    ("storage.k8s.io", "v1", "storageclasses"): ("StorageClass", "storageclass", False, ("sc",), ()),
}


def test_every_builtin_resource_and_nothing_else():
    registry = builtin_registry()
    assert {(r.group, r.version, r.plural) for r in registry} == set(EXPECTED)


@pytest.mark.parametrize("gvr", sorted(EXPECTED), ids=lambda g: "/".join(x for x in g if x))
def test_discovery_names(gvr):
    resource = builtin_registry().get(*gvr)
    kind, singular, namespaced, short, categories = EXPECTED[gvr]
    assert (resource.kind, resource.singular, resource.namespaced) == (kind, singular, namespaced)
    assert resource.short_names == short
    assert resource.categories == categories


def test_verbs():
    registry = builtin_registry()
    assert registry.get("", "v1", "pods").verbs == ALL_VERBS
    assert registry.get("", "v1", "namespaces").verbs == NO_COLLECTION
    assert registry.get("", "v1", "bindings").verbs == ("create",)
    assert registry.get("", "v1", "componentstatuses").verbs == ("get", "list")


def test_subresources_and_their_response_kinds():
    registry = builtin_registry()
    pods = registry.get("", "v1", "pods")
    assert set(pods.subresources) == {"status", "log", "exec", "binding", "eviction", "attach", "portforward",
                                      "proxy", "ephemeralcontainers", "resize"}
    assert subresource_info(pods, "proxy")["verbs"] == ("create", "delete", "get", "patch", "update")
    token = subresource_info(registry.get("", "v1", "serviceaccounts"), "token")
    assert token == {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ("create",)}
    assert subresource_info(pods, "log") == {"group": "", "version": "v1", "kind": "Pod", "verbs": ("get",)}
    assert subresource_info(pods, "eviction") == {"group": "policy", "version": "v1", "kind": "Eviction",
                                                  "verbs": ("create",)}
    assert subresource_info(pods, "exec")["verbs"] == ("create", "get")
    assert subresource_info(pods, "nope") is None
    for group, plural in (("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
                          ("", "replicationcontrollers")):
        resource = registry.get(group, "v1", plural)
        assert subresource_info(resource, "scale") == {"group": "autoscaling", "version": "v1", "kind": "Scale",
                                                       "verbs": ("get", "patch", "update")}
        assert resource.subresources["status"] == resource.kind
    namespaces = registry.get("", "v1", "namespaces")
    assert namespaces.subresources == {"finalize": "Namespace", "status": "Namespace"}
    assert subresource_info(namespaces, "finalize")["verbs"] == ("update",)
    for group, version, plural in (("", "v1", "nodes"), ("", "v1", "services"), ("batch", "v1", "jobs"),
                                   ("batch", "v1", "cronjobs"), ("apps", "v1", "daemonsets"),
                                   ("autoscaling", "v2", "horizontalpodautoscalers"),
                                   ("policy", "v1", "poddisruptionbudgets"), ("", "v1", "persistentvolumeclaims"),
                                   ("", "v1", "persistentvolumes"), ("", "v1", "resourcequotas")):
        assert "status" in registry.get(group, version, plural).subresources
    assert registry.get("", "v1", "configmaps").subresources == {}
    assert registry.get("", "v1", "services").subresources == {"status": "Service", "proxy": "ServiceProxyOptions"}


def test_shared_storage_and_preferred_versions():
    registry = builtin_registry()
    core_events = registry.get("", "v1", "events")
    new_events = registry.get("events.k8s.io", "v1", "events")
    assert core_events.key_prefix() == new_events.key_prefix() == "/registry/events/"
    hpa_v1 = registry.get("autoscaling", "v1", "horizontalpodautoscalers")
    hpa_v2 = registry.get("autoscaling", "v2", "horizontalpodautoscalers")
    assert hpa_v1.key("web", "default") == hpa_v2.key("web", "default") == \
        "/registry/horizontalpodautoscalers/default/web"
    assert registry.group_versions()["autoscaling"] == ["v2", "v1"]
    assert registry.get("apps", "v1", "deployments").key("web", "ns1") == "/registry/deployments/ns1/web"
    assert registry.get("", "v1", "nodes").key("n1") == "/registry/nodes/n1"


def test_fresh_registry_per_call():
    a, b = builtin_registry(), builtin_registry()
    assert a.get("", "v1", "pods").strategy is not b.get("", "v1", "pods").strategy


NO_STATUS = {"configmaps", "secrets", "serviceaccounts", "events", "endpoints", "limitranges", "leases",
             "roles", "rolebindings", "clusterroles", "clusterrolebindings", "controllerrevisions",
             "endpointslices", "storageclasses", "priorityclasses", "ingressclasses", "networkpolicies",
             "bindings", "componentstatuses", "podtemplates"}
GENERATION = {"pods", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs",
              "replicationcontrollers", "horizontalpodautoscalers", "poddisruptionbudgets", "ingresses",
              "networkpolicies", "ingressclasses", "endpointslices", "priorityclasses", "podtemplates",
              "customresourcedefinitions"}


def test_status_split_and_generation():
    for resource in builtin_registry():
        assert resource.strategy.has_status == (resource.plural not in NO_STATUS), resource.plural
        assert resource.strategy.tracks_generation == (resource.plural in GENERATION), resource.plural
        assert ("status" in resource.subresources) == resource.strategy.has_status, resource.plural


def test_field_labels():
    registry = builtin_registry()
    assert set(registry.get("", "v1", "pods").strategy.field_labels) >= {
        "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"}
    assert set(registry.get("", "v1", "events").strategy.field_labels) == {
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
        "reportingComponent", "source", "type"}
    assert registry.get("", "v1", "nodes").strategy.field_labels == ("spec.unschedulable",)
    assert registry.get("", "v1", "namespaces").strategy.field_labels == ("status.phase",)
    assert registry.get("", "v1", "secrets").strategy.field_labels == ("type",)
    assert registry.get("apps", "v1", "replicasets").strategy.field_labels == ("status.replicas",)
    assert registry.get("", "v1", "replicationcontrollers").strategy.field_labels == ("status.replicas",)
    assert registry.get("batch", "v1", "jobs").strategy.field_labels == ("status.successful",)
    assert set(registry.get("", "v1", "services").strategy.field_labels) == {"spec.clusterIP", "spec.type"}
    for resource in registry:
        values = resource.strategy.field_values({"metadata": {"name": "x"}})
        assert set(values) == set(resource.strategy.field_labels), resource.plural
        assert all(isinstance(value, str) for value in values.values())


def test_every_kind_prints_a_table_row_matching_its_columns():
    now = time.time()
    for resource in builtin_registry():
        strategy = resource.strategy
        columns = strategy.columns()
        json.dumps([c.definition() for c in columns])
        obj = {"metadata": {"name": "x", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"}}
        strategy.prepare_for_create(obj)
        cells = strategy.row(obj, now)
        assert len(cells) == len(columns), resource.plural
        json.dumps(cells)
        names = [c.name for c in columns]
        if resource.plural != "events":
            assert names[0] == "Name" and columns[0].format == "name", resource.plural
            assert cells[0] == "x"


COLUMNS = {
    "pods": ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"],
    "deployments": ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"],
    "services": ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"],
    "nodes": ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image",
              "Kernel-Version", "Container-Runtime"],
    "namespaces": ["Name", "Status", "Age"],
    "events": ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count",
               "Name"],
    "configmaps": ["Name", "Data", "Age"],
    "secrets": ["Name", "Type", "Data", "Age"],
    "replicasets": ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"],
    "statefulsets": ["Name", "Ready", "Age", "Containers", "Images"],
    "daemonsets": ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age",
                   "Containers", "Images", "Selector"],
    "jobs": ["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"],
    "cronjobs": ["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", "Containers",
                 "Images", "Selector"],
    "roles": ["Name", "Created At"],
    "resourcequotas": ["Name", "Request", "Limit", "Age"],
}


def test_column_names_as_kubectl_prints_them():
    registry = builtin_registry()
    by_plural = {r.plural: r for r in registry if r.group in ("", "apps", "batch", "rbac.authorization.k8s.io")}
    for plural, names in COLUMNS.items():
        columns = by_plural[plural].strategy.columns()
        assert [c.name for c in columns] == names, plural
    wide = [c.name for c in by_plural["pods"].strategy.columns() if c.priority > 0]
    assert wide == ["IP", "Node", "Nominated Node", "Readiness Gates"]
