"""networking.k8s.io/v1: Ingresses, IngressClasses and NetworkPolicies."""

from __future__ import annotations

import ipaddress
from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import (
    Causes,
    ClusterStrategy,
    KindStrategy,
    dicts,
    ensure_map,
    get,
    get_dicts,
    mapping,
    seq,
    spec,
    text,
)
from hyperkube.api.strategies.common import NONE, age, format_label_selector, validate_label_selector
from hyperkube.api.strategies.services import load_balancer_addresses
from hyperkube.machinery import validation as v

PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _validate_backend(backend: Any, path: str) -> Causes:
    if not isinstance(backend, dict):
        return [v.required(path)]
    service, resource = backend.get("service"), backend.get("resource")
    if service and resource:
        return [v.invalid(path, "", "cannot set both resource and service backends")]
    if resource:
        out = [] if resource.get("kind") else [v.required(f"{path}.resource.kind")]
        return out + ([] if resource.get("name") else [v.required(f"{path}.resource.name")])
    if not isinstance(service, dict):
        return [v.invalid(path, "", "resource or service backend is required")]
    out = v.checked(f"{path}.service.name", service.get("name", ""), v.dns1035_label)
    port = mapping(service.get("port"))
    if port.get("name") and port.get("number"):
        out.append(v.invalid(f"{path}.service.port", port, "cannot set both port name & port number"))
    elif port.get("name"):
        out += v.checked(f"{path}.service.port.name", port["name"], v.port_name)
    elif port.get("number") is not None:
        out += [v.invalid(f"{path}.service.port.number", port["number"], m) for m in v.port_number(port["number"])]
    else:
        out.append(v.required(f"{path}.service.port", "port name or number is required"))
    return out


class IngressStrategy(KindStrategy):
    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
        out: Causes = []
        if not s.get("defaultBackend") and not s.get("rules"):
            out.append(v.invalid("spec", s, "either `defaultBackend` or `rules` must be specified"))
        if s.get("defaultBackend"):
            out += _validate_backend(s["defaultBackend"], "spec.defaultBackend")
        if s.get("ingressClassName"):
            out += v.checked("spec.ingressClassName", s["ingressClassName"], v.dns1123_subdomain)
        for i, rule in enumerate(dicts(s.get("rules"))):
            if not isinstance(rule, dict):
                continue
            host = text(rule.get("host"))
            if host and _is_ip(host):
                out.append(v.invalid(f"spec.rules[{i}].host", host, "must be a DNS name, not an IP address"))
            elif host:
                check = host[2:] if host.startswith("*.") else host
                out += [v.invalid(f"spec.rules[{i}].host", host, m) for m in v.dns1123_subdomain(check)]
            if rule.get("http") is None:
                continue
            http = mapping(rule.get("http"))
            if not http.get("paths"):
                out.append(v.required(f"spec.rules[{i}].http.paths"))
            for j, item in enumerate(dicts(http.get("paths"))):
                p = f"spec.rules[{i}].http.paths[{j}]"
                path_type = item.get("pathType")
                if not path_type:
                    out.append(v.required(f"{p}.pathType", "pathType must be specified"))
                else:
                    out += v.enum(f"{p}.pathType", path_type, PATH_TYPES)
                if path_type in ("Exact", "Prefix") and not str(item.get("path", "")).startswith("/"):
                    out.append(v.invalid(f"{p}.path", item.get("path", ""), "must be an absolute path"))
                out += _validate_backend(item.get("backend"), f"{p}.backend")
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Class", description="The name of the IngressClass resource that should be "
                                    "used for ingress."),
                Column("Hosts", description="Hosts that incoming requests are matched against before the ingress "
                       "rule"),
                Column("Address", description="Address is a list containing ingress points for the load-balancer"),
                Column("Ports", description="Ports of TLS configurations that open"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        s = mapping(obj.get("spec"))
        rules = [rule for rule in dicts(s.get("rules")) if isinstance(rule, dict)]
        hosts = [rule["host"] for rule in rules[:3] if rule.get("host")]
        hosts_cell = ",".join(hosts) or "*"
        if len(rules) > 3 and hosts:
            hosts_cell += f" + {len(rules) - 3} more..."
        address = ",".join(load_balancer_addresses(get_dicts(obj, "status", "loadBalancer", "ingress")))
        ports = "80, 443" if s.get("tls") else "80"
        return [get(obj, "metadata", "name", default=""), s.get("ingressClassName") or NONE, hosts_cell, address,
                ports, age(obj, now)]


class IngressClassStrategy(ClusterStrategy):
    has_status = False

    def validate_spec(self, obj: Object) -> Causes:
        controller = get(obj, "spec", "controller", default="")
        if not controller:
            return [v.required("spec.controller")]
        if len(controller) > 250:
            return [v.too_long("spec.controller", 250)]
        return []

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        if get(new, "spec", "controller") != get(old, "spec", "controller"):
            return [v.immutable("spec.controller", get(new, "spec", "controller", default=""))]
        return []

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Controller", description="Controller that is responsible for handling this "
                                    "class"),
                Column("Parameters", description="A reference to a resource with additional parameters"),
                AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        params = get(obj, "spec", "parameters")
        cell = NONE
        if isinstance(params, dict):
            cell = params.get("kind", "")
            if params.get("apiGroup"):
                cell += "." + params["apiGroup"]
            cell += "/" + params.get("name", "")
        return [get(obj, "metadata", "name", default=""), get(obj, "spec", "controller", default=""), cell,
                age(obj, now)]


class NetworkPolicyStrategy(KindStrategy):
    has_status = False

    def default(self, obj: Object) -> None:
        s = spec(obj)
        ensure_map(s, "podSelector")
        if not s.get("policyTypes"):
            s["policyTypes"] = ["Ingress"] + (["Egress"] if s.get("egress") else [])
        for direction in ("ingress", "egress"):
            for rule in dicts(s.get(direction)):
                for port in dicts(rule.get("ports")):
                    if isinstance(port, dict):
                        port.setdefault("protocol", "TCP")

    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
        out = validate_label_selector(s.get("podSelector"), "spec.podSelector")
        for i, kind in enumerate(seq(s.get("policyTypes"))):
            out += v.enum(f"spec.policyTypes[{i}]", kind, ("Ingress", "Egress"), allow_empty=False)
        for direction in ("ingress", "egress"):
            for i, rule in enumerate(dicts(s.get(direction))):
                for j, port in enumerate(dicts(rule.get("ports"))):
                    p = f"spec.{direction}[{i}].ports[{j}]"
                    out += v.enum(f"{p}.protocol", port.get("protocol"), ("TCP", "UDP", "SCTP"))
                    number = port.get("port")
                    if isinstance(number, int):
                        out += [v.invalid(f"{p}.port", number, m) for m in v.port_number(number)]
                    elif isinstance(number, str):
                        out += v.checked(f"{p}.port", number, v.port_name)
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Pod-Selector", description="Selects the pods to which this NetworkPolicy "
                                    "object applies."), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        return [get(obj, "metadata", "name", default=""), format_label_selector(get(obj, "spec", "podSelector")),
                age(obj, now)]
