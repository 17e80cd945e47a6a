"""Nodes: status kept on create (the kubelet registers with it), taints, pod CIDRs, and the
``kubectl get nodes`` Table (STATUS from the Ready condition, ROLES from node-role labels).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import Causes, ClusterStrategy, get, get_dicts, get_map, seq
from hyperkube.api.strategies.common import NONE, age, validate_resource_list
from hyperkube.machinery import validation as v


class NodeStrategy(ClusterStrategy):
    tracks_generation = False
    field_labels = ("spec.unschedulable",)

    def default(self, obj: Object) -> None:
        status = obj.get("status")
        if isinstance(status, dict) and status.get("capacity") and not status.get("allocatable"):
            status["allocatable"] = dict(status["capacity"])

    def initial_status(self, obj: Object) -> Object:
        """Nodes may set their whole status on create (the kubelet registers that way)."""
        status = obj.get("status")
        return status if isinstance(status, dict) else {}

    def validate_spec(self, obj: Object) -> Causes:
        out: Causes = []
        for i, taint in enumerate(get_dicts(obj, "spec", "taints")):
            if not isinstance(taint, dict):
                continue
            if not taint.get("key"):
                out.append(v.required(f"spec.taints[{i}].key"))
            else:
                out += v.checked(f"spec.taints[{i}].key", taint["key"], v.qualified_name)
            if taint.get("value"):
                out += [v.invalid(f"spec.taints[{i}].value", taint["value"], m) for m in v.label_value(taint["value"])]
            out += v.enum(f"spec.taints[{i}].effect", taint.get("effect"),
                          ("NoSchedule", "PreferNoSchedule", "NoExecute"), allow_empty=False)
        out += validate_resource_list(get(obj, "status", "capacity"), "status.capacity")
        cidrs = seq(get(obj, "spec", "podCIDRs"))
        for i, cidr in enumerate(cidrs):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except (TypeError, ValueError):
                out.append(v.invalid(f"spec.podCIDRs[{i}]", cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 "
                                     "or 2001:db8::/64)"))
        pod_cidr = get(obj, "spec", "podCIDR")
        if pod_cidr and cidrs and cidrs[0] != pod_cidr:
            out.append(v.invalid("spec.podCIDRs", cidrs, "first entry must match `podCIDR`"))
        for i, address in enumerate(get_dicts(obj, "status", "addresses")):
            out += v.enum(f"status.addresses[{i}].type", address.get("type"),
                          ("Hostname", "InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS"), allow_empty=False)
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        old_cidr = get(old, "spec", "podCIDR", default="")
        if old_cidr and get(new, "spec", "podCIDR", default="") != old_cidr:
            return [v.forbidden("spec.podCIDR", "node updates may not change podCIDR except from \"\" to valid")]
        return []

    def field_values(self, obj: Object) -> dict[str, str]:
        return {"spec.unschedulable": "true" if get(obj, "spec", "unschedulable") else "false"}

    def columns(self) -> list[Column]:
        return [
            NAME_COLUMN, Column("Status", description="The status of the node"),
            Column("Roles", description="The roles of the node"), AGE_COLUMN,
            Column("Version", description="Kubelet Version reported by the node."),
            Column("Internal-IP", priority=1, description="List of addresses reachable to the node"),
            Column("External-IP", priority=1, description="List of addresses reachable to the node"),
            Column("OS-Image", priority=1, description="OS Image reported by the node from /etc/os-release"),
            Column("Kernel-Version", priority=1, description="Kernel Version reported by the node"),
            Column("Container-Runtime", priority=1, description="Container Runtime Version reported by the node"),
        ]

    def row(self, obj: Object, now: float) -> list[Any]:
        return [get(obj, "metadata", "name", default=""), node_status(obj), node_roles(obj), age(obj, now),
                get(obj, "status", "nodeInfo", "kubeletVersion", default=""),
                _address(obj, "InternalIP"), _address(obj, "ExternalIP"),
                get(obj, "status", "nodeInfo", "osImage", default="") or "<unknown>",
                get(obj, "status", "nodeInfo", "kernelVersion", default="") or "<unknown>",
                get(obj, "status", "nodeInfo", "containerRuntimeVersion", default="") or "<unknown>"]


def node_status(node: Object) -> str:
    ready = [c for c in get_dicts(node, "status", "conditions")
             if isinstance(c, dict) and c.get("type") == "Ready"]
    states = ["Unknown"] if not ready else ["Ready" if ready[0].get("status") == "True" else "NotReady"]
    if get(node, "spec", "unschedulable"):
        states.append("SchedulingDisabled")
    return ",".join(states)


def node_roles(node: Object) -> str:
    roles = set()
    for key, value in get_map(node, "metadata", "labels").items():
        if key.startswith("node-role.kubernetes.io/"):
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(r for r in roles if r)) or NONE


def _address(node: Object, kind: str) -> str:
    for addr in get_dicts(node, "status", "addresses"):
        if isinstance(addr, dict) and addr.get("type") == kind:
            return str(addr.get("address", ""))
    return NONE

