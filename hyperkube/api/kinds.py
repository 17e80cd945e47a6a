"""Every built-in resource the API server serves, named as Kubernetes 1.37 discovery names it.

:func:`builtin_registry` builds a fresh :class:`~hyperkube.api.registry.Registry`; the API server
adds CRDs to it at run time. Subresources map to their response kind (``Resource.subresources``);
:func:`subresource_info` adds what discovery also needs (the response kind's group/version and
the verbs), since Scale and Eviction live in other groups than the resource they belong to.

When two versions of one resource are served (autoscaling v2 and v1; events in core/v1 and
events.k8s.io/v1) they share one ``storage_name`` and their strategies convert with
``to_storage``/``from_storage``. The preferred version is added first.
"""

from __future__ import annotations

from hyperkube.api.crd_strategy import CustomResourceDefinitionStrategy
from hyperkube.api.registry import ALL_VERBS, Registry, Resource
from hyperkube.api.strategies import (
    apps,
    batch,
    core,
    events,
    misc,
    networking,
    nodes,
    pods,
    rbac,
    services,
    storage,
)

NO_COLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")

#: response kind of a subresource -> (group, version) when not the parent's group/version
_KIND_GROUP_VERSION = {
    "Scale": ("autoscaling", "v1"),
    "Eviction": ("policy", "v1"),
    "Binding": ("", "v1"),
    "TokenRequest": ("authentication.k8s.io", "v1"),
}
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")
#: subresource name -> verbs, as discovery lists them
SUBRESOURCE_VERBS = {
    "status": ("get", "patch", "update"),
    "scale": ("get", "patch", "update"),
    "log": ("get",),
    "exec": ("create", "get"),
    "attach": ("create", "get"),
    "portforward": ("create", "get"),
    "binding": ("create",),
    "eviction": ("create",),
    "finalize": ("update",),
    "proxy": _PROXY_VERBS,
    "ephemeralcontainers": ("get", "patch", "update"),
    "resize": ("get", "patch", "update"),
    "token": ("create",),
}


def subresource_info(resource: Resource, name: str) -> dict[str, object] | None:
    """group, version, kind and verbs of ``resource``'s subresource ``name`` (None if it has none)."""
    kind = resource.subresources.get(name)
    if kind is None:
        return None
    group, version = _KIND_GROUP_VERSION.get(kind, (resource.group, resource.version))
    return {"group": group, "version": version, "kind": kind, "verbs": SUBRESOURCE_VERBS.get(name, ("get",))}


def _status(kind: str, **more: str) -> dict[str, str]:
    return {"status": kind, **more}


def _scalable(kind: str) -> dict[str, str]:
    return {"status": kind, "scale": "Scale"}


def _resources() -> list[Resource]:
    r = Resource
    all_ = ("all",)
    return [
        # core/v1
        r("", "v1", "Binding", "bindings", "binding", True, verbs=("create",), strategy=core.BindingStrategy()),
        r("", "v1", "ComponentStatus", "componentstatuses", "componentstatus", False, ("cs",),
          verbs=("get", "list"), strategy=core.ComponentStatusStrategy()),
        r("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",), strategy=core.ConfigMapStrategy()),
        r("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",), strategy=services.EndpointsStrategy()),
        r("", "v1", "Event", "events", "event", True, ("ev",), strategy=events.EventStrategy()),
        r("", "v1", "LimitRange", "limitranges", "limitrange", True, ("limits",),
          strategy=core.LimitRangeStrategy()),
        r("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",), verbs=NO_COLLECTION,
          subresources={"finalize": "Namespace", "status": "Namespace"}, strategy=core.NamespaceStrategy()),
        r("", "v1", "Node", "nodes", "node", False, ("no",),
          subresources=_status("Node", proxy="NodeProxyOptions"), strategy=nodes.NodeStrategy()),
        r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", True, ("pvc",),
          subresources=_status("PersistentVolumeClaim"), strategy=storage.PersistentVolumeClaimStrategy()),
        r("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", False, ("pv",),
          subresources=_status("PersistentVolume"), strategy=storage.PersistentVolumeStrategy()),
        r("", "v1", "Pod", "pods", "pod", True, ("po",), all_,
          subresources={"attach": "PodAttachOptions", "binding": "Binding", "ephemeralcontainers": "Pod",
                        "eviction": "Eviction", "exec": "PodExecOptions", "log": "Pod",
                        "portforward": "PodPortForwardOptions", "proxy": "PodProxyOptions", "resize": "Pod",
                        "status": "Pod"},
          strategy=pods.PodStrategy()),
        r("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller", True, ("rc",),
          all_, subresources=_scalable("ReplicationController"),
          strategy=apps.ReplicationControllerStrategy()),
        r("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", True, ("quota",),
          subresources=_status("ResourceQuota"), strategy=core.ResourceQuotaStrategy()),
        r("", "v1", "PodTemplate", "podtemplates", "podtemplate", True, strategy=pods.PodTemplateStrategy()),
        r("", "v1", "Secret", "secrets", "secret", True, strategy=core.SecretStrategy()),
        r("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",),
          subresources={"token": "TokenRequest"}, strategy=core.ServiceAccountStrategy()),
        r("", "v1", "Service", "services", "service", True, ("svc",), all_,
          subresources=_status("Service", proxy="ServiceProxyOptions"), strategy=services.ServiceStrategy()),
        # apiextensions.k8s.io/v1: CRDs; the API server adds each one's custom resources
        r("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
          "customresourcedefinition", False, ("crd", "crds"), ("api-extensions",),
          subresources=_status("CustomResourceDefinition"), strategy=CustomResourceDefinitionStrategy(),
          storage_name="apiextensions.k8s.io/customresourcedefinitions"),
        # apps/v1
        r("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", True,
          strategy=apps.ControllerRevisionStrategy()),
        r("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ("ds",), all_,
          subresources=_status("DaemonSet"), strategy=apps.DaemonSetStrategy()),
        r("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), all_,
          subresources=_scalable("Deployment"), strategy=apps.DeploymentStrategy()),
        r("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",), all_,
          subresources=_scalable("ReplicaSet"), strategy=apps.ReplicaSetStrategy()),
        r("apps", "v1", "StatefulSet", "statefulsets", "statefulset", True, ("sts",), all_,
          subresources=_scalable("StatefulSet"), strategy=apps.StatefulSetStrategy()),
        # autoscaling: v2 preferred, v1 converted onto the same storage
        r("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler",
          True, ("hpa",), all_, subresources=_status("HorizontalPodAutoscaler"),
          strategy=misc.HorizontalPodAutoscalerStrategy()),
        r("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler",
          True, ("hpa",), all_, subresources=_status("HorizontalPodAutoscaler"),
          strategy=misc.HorizontalPodAutoscalerV1Strategy(), storage_name="horizontalpodautoscalers"),
        # batch/v1
        r("batch", "v1", "CronJob", "cronjobs", "cronjob", True, ("cj",), all_, subresources=_status("CronJob"),
          strategy=batch.CronJobStrategy()),
        r("batch", "v1", "Job", "jobs", "job", True, (), all_, subresources=_status("Job"),
          strategy=batch.JobStrategy()),
        # coordination, discovery, events
        r("coordination.k8s.io", "v1", "Lease", "leases", "lease", True, strategy=misc.LeaseStrategy()),
        r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True,
          strategy=services.EndpointSliceStrategy()),
        r("events.k8s.io", "v1", "Event", "events", "event", True, ("ev",), strategy=events.EventsV1Strategy(),
          storage_name="events"),
        # networking.k8s.io/v1
        r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", False,
          strategy=networking.IngressClassStrategy()),
        r("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", True, ("ing",),
          subresources=_status("Ingress"), strategy=networking.IngressStrategy()),
        r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", True, ("netpol",),
          strategy=networking.NetworkPolicyStrategy()),
        # policy/v1
        r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", True, ("pdb",),
          subresources=_status("PodDisruptionBudget"), strategy=misc.PodDisruptionBudgetStrategy()),
        # rbac.authorization.k8s.io/v1
        r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding",
          False, strategy=rbac.ClusterRoleBindingStrategy()),
        r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", False,
          strategy=rbac.ClusterRoleStrategy()),
        r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", True,
          strategy=rbac.RoleBindingStrategy()),
        r("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", True, strategy=rbac.RoleStrategy()),
        # scheduling.k8s.io/v1, storage.k8s.io/v1
        r("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", False, ("pc",),
          strategy=misc.PriorityClassStrategy()),
        r("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", False, ("sc",),
          strategy=storage.StorageClassStrategy()),
    ]


def builtin_registry() -> Registry:
    """A new registry holding every built-in resource (fresh strategy objects each call)."""
    registry = Registry()
    for resource in _resources():
        registry.add(resource)
    return registry


__all__ = ["ALL_VERBS", "NO_COLLECTION", "SUBRESOURCE_VERBS", "builtin_registry", "subresource_info"]
