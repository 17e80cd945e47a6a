"""Kubernetes' bootstrap RBAC policy, as data: the ClusterRoles, ClusterRoleBindings and
kube-system Roles/RoleBindings every cluster starts with (``bootstrap.py`` reconciles them).

A rule is written ``R(verbs, groups, resources)`` or ``URL(verbs, urls)``; ``READ`` and friends
are Kubernetes' verb sets. The lists follow Kubernetes' bootstrappolicy, with one deliberate
difference: Kubernetes runs each controller under its own service account
(``--use-service-account-credentials``) with a ``system:controller:*`` role each, while
hyperkube's controller-manager runs every controller under the one identity
``system:kube-controller-manager``, so that role holds what all our controllers do together.

Identities the other components must use (client certificate CN / O):

========================================  ==========================================
kube-scheduler                            User ``system:kube-scheduler``
kube-controller-manager                   User ``system:kube-controller-manager``
kube-proxy                                User ``system:kube-proxy``
kubelet on node N                         User ``system:node:N``, Group ``system:nodes``
                                          (allowed by the Node authorizer, not RBAC)
DNS add-on                                ServiceAccount ``kube-system/kube-dns``
                                          (or User ``system:kube-dns``)
metrics add-on                            User ``system:metrics-server``
API server towards kubelets               User ``kube-apiserver-kubelet-client``
                                          (kubeadm's name; ClusterRole system:kubelet-api-admin)
admin                                     Group ``system:masters``
========================================  ==========================================
"""

from __future__ import annotations

from typing import Any

READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch", "delete", "deletecollection"]
READ_WRITE = READ + WRITE
EVENT_WRITE = ["create", "update", "patch"]

CORE, APPS, BATCH, AUTOSCALING, POLICY = "", "apps", "batch", "autoscaling", "policy"
NETWORKING, DISCOVERY, COORDINATION = "networking.k8s.io", "discovery.k8s.io", "coordination.k8s.io"
RBAC, STORAGE, CERTIFICATES = "rbac.authorization.k8s.io", "storage.k8s.io", "certificates.k8s.io"
AUTHENTICATION, AUTHORIZATION, EVENTS = "authentication.k8s.io", "authorization.k8s.io", "events.k8s.io"
NODE, METRICS, SCHEDULING = "node.k8s.io", "metrics.k8s.io", "scheduling.k8s.io"

AGGREGATE = "rbac.authorization.kubernetes.io/aggregate-to-"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING = {"kubernetes.io/bootstrapping": "rbac-defaults"}


def R(verbs: list[str], groups: str | list[str], resources: list[str], names: list[str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"verbs": list(verbs), "apiGroups": [groups] if isinstance(groups, str) else list(groups),
                            "resources": list(resources)}
    if names:
        rule["resourceNames"] = list(names)
    return rule


def URL(verbs: list[str], urls: list[str]) -> dict[str, Any]:
    return {"verbs": list(verbs), "nonResourceURLs": list(urls)}


def events_rules() -> list[dict[str, Any]]:
    return [R(EVENT_WRITE, [CORE, EVENTS], ["events"])]


#: ClusterRole name -> (rules, extra labels, aggregated-from labels or None)
CLUSTER_ROLES: dict[str, tuple[list[dict[str, Any]], dict[str, str], list[str] | None]] = {
    "cluster-admin": ([R(["*"], "*", ["*"]), URL(["*"], ["*"])], {}, None),
    "admin": ([], {}, ["admin"]),
    "edit": ([], {AGGREGATE + "admin": "true"}, ["edit"]),
    "view": ([], {AGGREGATE + "edit": "true"}, ["view"]),
    "system:aggregate-to-admin": ([
        R(["create"], AUTHORIZATION, ["localsubjectaccessreviews"]),
        R(READ_WRITE, RBAC, ["rolebindings", "roles"]),
    ], {AGGREGATE + "admin": "true"}, None),
    "system:aggregate-to-edit": ([
        R(READ_WRITE, CORE, ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets",
                             "services/proxy", "replicationcontrollers", "replicationcontrollers/scale",
                             "serviceaccounts", "services", "endpoints", "persistentvolumeclaims", "configmaps"]),
        R(["impersonate"], CORE, ["serviceaccounts"]),
        R(["create"], CORE, ["serviceaccounts/token"]),
        R(WRITE, CORE, ["pods/eviction"]),
        R(READ_WRITE, APPS, ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                             "replicasets/scale", "statefulsets", "statefulsets/scale"]),
        R(READ_WRITE, AUTOSCALING, ["horizontalpodautoscalers"]),
        R(READ_WRITE, BATCH, ["cronjobs", "jobs"]),
        R(READ_WRITE, POLICY, ["poddisruptionbudgets"]),
        R(READ_WRITE, NETWORKING, ["ingresses", "networkpolicies"]),
        R(READ_WRITE, COORDINATION, ["leases"]),
        R(READ_WRITE, DISCOVERY, ["endpointslices"]),
    ], {AGGREGATE + "edit": "true"}, None),
    "system:aggregate-to-view": ([
        R(READ, CORE, ["pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                       "services", "services/status", "endpoints", "persistentvolumeclaims",
                       "persistentvolumeclaims/status", "configmaps"]),
        R(READ, CORE, ["limitranges", "resourcequotas", "bindings", "events", "pods/status", "resourcequotas/status",
                       "namespaces/status", "replicationcontrollers/status", "pods/log"]),
        R(READ, CORE, ["namespaces"]),
        R(READ, DISCOVERY, ["endpointslices"]),
        R(READ, APPS, ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                       "deployments/status", "replicasets", "replicasets/scale", "replicasets/status",
                       "statefulsets", "statefulsets/scale", "statefulsets/status"]),
        R(READ, AUTOSCALING, ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        R(READ, BATCH, ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
        R(READ, POLICY, ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        R(READ, NETWORKING, ["ingresses", "ingresses/status", "networkpolicies"]),
        R(READ, METRICS, ["pods", "nodes"]),
    ], {AGGREGATE + "view": "true"}, None),
    "system:discovery": ([URL(["get"], ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                                        "/openapi/*", "/readyz", "/version", "/version/"]),
                          # the dashboard's static files (what it shows, it reads with the user's rights)
                          URL(["get"], ["/ui", "/ui/*"])], {}, None),
    "system:public-info-viewer": ([URL(["get"], ["/healthz", "/livez", "/readyz", "/version", "/version/"])],
                                  {}, None),
    "system:basic-user": ([
        R(["create"], AUTHORIZATION, ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
        R(["create"], AUTHENTICATION, ["selfsubjectreviews"]),
    ], {}, None),
    "system:monitoring": ([URL(["get"], ["/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*",
                                         "/metrics", "/metrics/slis"])], {}, None),
    "system:auth-delegator": ([
        R(["create"], AUTHENTICATION, ["tokenreviews"]),
        R(["create"], AUTHORIZATION, ["subjectaccessreviews"]),
    ], {}, None),
    "system:service-account-issuer-discovery": (
        [URL(["get"], ["/.well-known/openid-configuration", "/.well-known/openid-configuration/",
                       "/openid/v1/jwks", "/openid/v1/jwks/"])], {}, None),
    "system:node-bootstrapper": ([R(["create", "get", "list", "watch"], CERTIFICATES,
                                    ["certificatesigningrequests"])], {}, None),
    # what a kubelet may do, as the Node authorizer's static part; bound to nobody by default
    "system:node": ([
        R(["create"], AUTHENTICATION, ["tokenreviews"]),
        R(["create"], AUTHORIZATION, ["subjectaccessreviews", "localsubjectaccessreviews"]),
        R(READ, CORE, ["services"]),
        R(["create", "get", "list", "watch"], CORE, ["nodes"]),
        R(["patch", "update"], CORE, ["nodes/status", "nodes"]),
        *events_rules(),
        R(READ, CORE, ["pods"]),
        R(["create", "delete"], CORE, ["pods"]),
        R(["update", "patch"], CORE, ["pods/status"]),
        R(["create"], CORE, ["pods/eviction"]),
        R(READ, CORE, ["secrets", "configmaps"]),
        R(["get"], CORE, ["persistentvolumeclaims", "persistentvolumes", "endpoints"]),
        R(["get", "update", "patch"], CORE, ["persistentvolumeclaims/status"]),
        R(["create"], CORE, ["serviceaccounts/token"]),
        R(["create", "get", "list", "watch"], CERTIFICATES, ["certificatesigningrequests"]),
        R(["get", "create", "update", "patch", "delete"], COORDINATION, ["leases"]),
        R(["get"], STORAGE, ["volumeattachments"]),
        R(READ, STORAGE, ["csidrivers"]),
        R(READ_WRITE, STORAGE, ["csinodes"]),
        R(READ, NODE, ["runtimeclasses"]),
        R(READ, DISCOVERY, ["endpointslices"]),
    ], {}, None),
    "system:node-proxier": ([
        R(["list", "watch"], CORE, ["services", "endpoints"]),
        R(READ, CORE, ["nodes"]),
        *events_rules(),
        R(["list", "watch"], DISCOVERY, ["endpointslices"]),
    ], {}, None),
    "system:kube-scheduler": ([
        *events_rules(),
        R(["create"], COORDINATION, ["leases"]),
        R(["get", "update"], COORDINATION, ["leases"], ["kube-scheduler"]),
        R(["create"], CORE, ["endpoints"]),
        R(["get", "update"], CORE, ["endpoints"], ["kube-scheduler"]),
        R(READ, CORE, ["nodes"]),
        R(["delete", "get", "list", "watch"], CORE, ["pods"]),
        R(["create"], CORE, ["bindings", "pods/binding"]),
        R(["patch", "update"], CORE, ["pods/status"]),
        R(READ, CORE, ["replicationcontrollers", "services", "namespaces", "persistentvolumeclaims",
                       "persistentvolumes", "configmaps"]),
        R(READ, APPS, ["replicasets", "statefulsets"]),
        R(READ, POLICY, ["poddisruptionbudgets"]),
        R(["create"], AUTHENTICATION, ["tokenreviews"]),
        R(["create"], AUTHORIZATION, ["subjectaccessreviews"]),
        R(READ, STORAGE, ["csinodes", "csidrivers", "csistoragecapacities", "storageclasses"]),
        R(READ, SCHEDULING, ["priorityclasses"]),
    ], {}, None),
    # every controller of the manager under one identity: the garbage collector and the namespace
    # controller alone need read/update/delete on everything; creates are listed one by one
    "system:kube-controller-manager": ([
        R(READ + ["update", "patch", "delete", "deletecollection"], "*", ["*"]),
        R(["create"], CORE, ["pods", "events", "endpoints", "serviceaccounts", "serviceaccounts/token", "secrets",
                             "configmaps", "pods/eviction", "pods/binding", "bindings", "persistentvolumes",
                             "persistentvolumeclaims", "namespaces/finalize"]),
        R(["create"], STORAGE, ["storageclasses"]),
        R(["create"], APPS, ["replicasets", "controllerrevisions", "deployments"]),
        R(["create"], BATCH, ["jobs"]),
        R(["create"], DISCOVERY, ["endpointslices"]),
        R(["create"], COORDINATION, ["leases"]),
        R(["create"], EVENTS, ["events"]),
        R(["create"], AUTHENTICATION, ["tokenreviews"]),
        R(["create"], AUTHORIZATION, ["subjectaccessreviews"]),
        R(["create", "get", "list", "watch"], CERTIFICATES, ["certificatesigningrequests"]),
    ], {}, None),
    "system:kube-dns": ([
        R(["list", "watch"], CORE, ["endpoints", "services"]),
        R(["list", "watch"], DISCOVERY, ["endpointslices"]),
    ], {}, None),
    # the API server's client certificate towards kubelets (exec, logs, port-forward, stats)
    "system:kubelet-api-admin": ([
        R(READ + ["proxy"], CORE, ["nodes"]),
        R(["*"], CORE, ["nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log", "nodes/spec"]),
    ], {}, None),
    "system:heapster": ([
        R(READ, CORE, ["events", "namespaces", "nodes", "pods"]),
        R(READ, APPS, ["deployments"]),
    ], {}, None),
    "system:metrics-server": ([
        R(READ, CORE, ["nodes", "nodes/metrics", "nodes/stats", "nodes/proxy", "pods", "namespaces"]),
        URL(["get"], ["/metrics"]),
    ], {}, None),
}


def _group(name: str) -> dict[str, str]:
    return {"kind": "Group", "apiGroup": RBAC, "name": name}


def _user(name: str) -> dict[str, str]:
    return {"kind": "User", "apiGroup": RBAC, "name": name}


def _account(namespace: str, name: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


#: ClusterRoleBinding name (= its ClusterRole) -> subjects
CLUSTER_ROLE_BINDINGS: dict[str, list[dict[str, str]]] = {
    "cluster-admin": [_group("system:masters")],
    "system:discovery": [_group("system:authenticated")],
    "system:basic-user": [_group("system:authenticated")],
    "system:public-info-viewer": [_group("system:authenticated"), _group("system:unauthenticated")],
    "system:monitoring": [_group("system:monitoring")],
    "system:service-account-issuer-discovery": [_group("system:serviceaccounts")],
    "system:node": [],
    "system:node-proxier": [_user("system:kube-proxy")],
    "system:kube-scheduler": [_user("system:kube-scheduler")],
    "system:kube-controller-manager": [_user("system:kube-controller-manager")],
    "system:kube-dns": [_account("kube-system", "kube-dns"), _user("system:kube-dns")],
    "system:metrics-server": [_user("system:metrics-server")],
    "system:kubelet-api-admin": [_user("kube-apiserver-kubelet-client")],
}

#: kube-system Roles (name -> rules) and their RoleBindings (name -> (role, subjects))
SYSTEM_NAMESPACE = "kube-system"
ROLES: dict[str, list[dict[str, Any]]] = {
    "extension-apiserver-authentication-reader": [
        R(READ, CORE, ["configmaps"], ["extension-apiserver-authentication"])],
    "system::leader-locking-kube-scheduler": [
        R(["watch"], CORE, ["configmaps"]),
        R(["get", "update"], CORE, ["configmaps"], ["kube-scheduler"]),
        R(["get", "update"], COORDINATION, ["leases"], ["kube-scheduler"]),
    ],
}
ROLE_BINDINGS: dict[str, tuple[str, list[dict[str, str]]]] = {
    "system::leader-locking-kube-scheduler": ("system::leader-locking-kube-scheduler",
                                              [_user("system:kube-scheduler")]),
}


def _metadata(name: str, labels: dict[str, str] | None = None, namespace: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": {**BOOTSTRAPPING, **(labels or {})},
                                "annotations": {AUTOUPDATE: "true"}}
    if namespace:
        metadata["namespace"] = namespace
    return metadata


def objects() -> list[tuple[str, dict[str, Any]]]:
    """(plural, object) of every bootstrap object, roles before the bindings that name them."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name, (rules, labels, aggregate) in CLUSTER_ROLES.items():
        role: dict[str, Any] = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                                "metadata": _metadata(name, labels), "rules": rules}
        if aggregate:
            role["aggregationRule"] = {"clusterRoleSelectors": [
                {"matchLabels": {AGGREGATE + target: "true"}} for target in aggregate]}
        out.append(("clusterroles", role))
    for name, subjects in CLUSTER_ROLE_BINDINGS.items():
        out.append(("clusterrolebindings", {
            "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": _metadata(name),
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name}, "subjects": subjects}))
    for name, rules in ROLES.items():
        out.append(("roles", {"apiVersion": f"{RBAC}/v1", "kind": "Role",
                              "metadata": _metadata(name, namespace=SYSTEM_NAMESPACE), "rules": rules}))
    for name, (role_name, subjects) in ROLE_BINDINGS.items():
        out.append(("rolebindings", {
            "apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": _metadata(name, namespace=SYSTEM_NAMESPACE),
            "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": role_name}, "subjects": subjects}))
    return out
