"""The table of controllers ``hyperkube controller-manager`` can run, by name.

Each entry names the class (imported only when the controller is enabled), its
``--concurrent-*-syncs`` flag and default, whether ``*`` enables it, and any extra flags it
reads. The command line is generated from this table, so adding a controller is one entry
here plus its module: nothing else changes.

``--controllers`` follows Kubernetes: a comma-separated list where ``name`` enables a
controller, ``-name`` disables it and ``*`` means "every controller on by default"; an
explicit name wins over ``*`` whatever the order.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ControllerOption:
    """An extra flag a controller reads, from ``ControllerContext.options[key]``."""

    flag: str
    key: str
    default: Any
    help: str


@dataclass(frozen=True)
class ControllerSpec:
    name: str
    target: str  # "module:Class" under hyperkube.controllers
    workers_flag: str = ""  # e.g. concurrent-replicaset-syncs
    default_workers: int = 5
    enabled_by_default: bool = True
    options: tuple[ControllerOption, ...] = field(default=())

    def load(self) -> type:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(f"hyperkube.controllers.{module}"), attribute)


CONTROLLERS: dict[str, ControllerSpec] = {}


def register(spec: ControllerSpec) -> ControllerSpec:
    if spec.name in CONTROLLERS:
        raise ValueError(f"controller {spec.name!r} registered twice")
    CONTROLLERS[spec.name] = spec
    return spec


for _spec in (
    ControllerSpec("replicaset", "replicaset:ReplicaSetController", "concurrent-replicaset-syncs", 5),
    ControllerSpec("replicationcontroller", "replicaset:ReplicationManager", "concurrent-rc-syncs", 5),
    ControllerSpec("deployment", "deployment:DeploymentController", "concurrent-deployment-syncs", 5),
    ControllerSpec("garbagecollector", "garbagecollector:GarbageCollector", "concurrent-gc-syncs", 20),
    ControllerSpec("job", "job:JobController", "concurrent-job-syncs", 5),
    ControllerSpec("cronjob", "cronjob:CronJobController", "concurrent-cron-job-syncs", 5),
    ControllerSpec("statefulset", "statefulset:StatefulSetController", "concurrent-statefulset-syncs", 5),
    ControllerSpec("daemonset", "daemonset:DaemonSetController", "concurrent-daemonset-syncs", 2),
    ControllerSpec("podgc", "podgc:PodGCController", options=(ControllerOption(
        "terminated-pod-gc-threshold", "terminated_pod_gc_threshold", 12500,
        "Terminated pods kept before the oldest are deleted (0: never)."),)),
    ControllerSpec("ttl-after-finished", "ttlafterfinished:TTLAfterFinishedController",
                   "concurrent-ttl-after-finished-syncs", 5),
):
    register(_spec)


for _spec in (  # part 2 (issue 10): endpoints, namespaces, nodes, service accounts, quota, volumes, autoscaling
    ControllerSpec("endpoint", "endpoints:EndpointsController", "concurrent-endpoint-syncs", 5),
    ControllerSpec("endpointslice", "endpointslice:EndpointSliceController", "concurrent-service-endpoint-syncs", 5, options=(ControllerOption("max-endpoints-per-slice", "max_endpoints_per_slice", 100, "Most endpoints in one EndpointSlice."),)),  # noqa: E501
    ControllerSpec("endpointslicemirroring", "endpointslicemirroring:EndpointSliceMirroringController", "mirroring-concurrent-service-endpoint-syncs", 5, options=(ControllerOption("mirroring-max-endpoints-per-subset", "mirroring_max_endpoints_per_subset", 1000, "Most endpoints in one mirrored EndpointSlice."),)),  # noqa: E501
    ControllerSpec("namespace", "namespace:NamespaceController", "concurrent-namespace-syncs", 10),
    ControllerSpec("nodelifecycle", "nodelifecycle:NodeLifecycleController", "", 5, options=(ControllerOption("node-monitor-grace-period", "node_monitor_grace_period", "40s", "How long a node may go unheard (Lease and status) before it is Unknown."), ControllerOption("node-startup-grace-period", "node_startup_grace_period", "1m", "How long a new node may take to post Ready."), ControllerOption("node-monitor-period", "node_monitor_period", "5s", "How often every node's health is checked."), ControllerOption("node-eviction-rate", "node_eviction_rate", 0.1, "Nodes per second that may get NoExecute taints (pod eviction)."))),  # noqa: E501
    ControllerSpec("serviceaccount", "serviceaccount:ServiceAccountsController", "concurrent-serviceaccount-syncs", 5),  # noqa: E501
    ControllerSpec("serviceaccount-token", "serviceaccount:TokensController", "concurrent-serviceaccount-token-syncs", 5, options=(ControllerOption("service-account-private-key-file", "service_account_private_key_file", "", "Key (PEM, EC or RSA) that signs legacy service account tokens; the API server verifies them with its public half."), ControllerOption("root-ca-file", "root_ca_file", "", "CA bundle written into token Secrets as ca.crt."))),  # noqa: E501
    ControllerSpec("resourcequota", "resourcequota:ResourceQuotaController", "concurrent-resource-quota-syncs", 5, options=(ControllerOption("resource-quota-sync-period", "resource_quota_sync_period", 300.0, "Seconds between full recomputations of every quota's usage."),)),  # noqa: E501
    ControllerSpec("horizontalpodautoscaling", "hpa:HorizontalPodAutoscalerController", "concurrent-horizontal-pod-autoscaler-syncs", 5, options=(ControllerOption("horizontal-pod-autoscaler-sync-period", "horizontal_pod_autoscaler_sync_period", 15.0, "Seconds between two evaluations of an HPA."), ControllerOption("horizontal-pod-autoscaler-downscale-stabilization", "horizontal_pod_autoscaler_downscale_stabilization", 300.0, "Default scale-down stabilization window (seconds)."))),  # noqa: E501
    ControllerSpec("persistentvolume-binder", "pvbinder:PersistentVolumeBinder", "", 1, options=(ControllerOption("local-path-dir", "local_path_dir", "", "Where the local-path provisioner puts hostPath volumes (default: a dir under the system temp dir)."),)),  # noqa: E501
    ControllerSpec("nodeipam", "nodeipam:NodeIPAMController", "", 1, options=(ControllerOption("allocate-node-cidrs", "allocate_node_cidrs", False, "Give every node a spec.podCIDR from --cluster-cidr."), ControllerOption("cluster-cidr", "cluster_cidr", "", "The pods' IP range, cut into one subnet per node."), ControllerOption("node-cidr-mask-size", "node_cidr_mask_size", 0, "Prefix length of each node's subnet (0: 24 for IPv4, 64 for IPv6)."))),  # noqa: E501
    ControllerSpec("root-ca-cert-publisher", "rootcacertpublisher:RootCACertPublisher", "concurrent-rootca-cert-publisher-syncs", 5),  # noqa: E501
):
    register(_spec)


class UnknownControllerError(ValueError):
    pass


def enabled_controllers(value: str | list[str], known: dict[str, ControllerSpec] | None = None) -> list[str]:
    """The names ``--controllers`` enables, in table order; unknown names raise."""
    known = CONTROLLERS if known is None else known
    items = [item.strip() for item in (value.split(",") if isinstance(value, str) else value) if item.strip()]
    for item in items:
        name = item[1:] if item.startswith("-") else item
        if name != "*" and name not in known:
            raise UnknownControllerError(f'"{name}" is not in the list of known controllers')
    enabled = []
    for name, spec in known.items():
        explicit = next((not item.startswith("-") for item in items if item.lstrip("-") == name), None)
        if explicit is None:
            explicit = "*" in items and spec.enabled_by_default
        if explicit:
            enabled.append(name)
    return enabled
