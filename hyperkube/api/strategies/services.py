"""Services, Endpoints and EndpointSlices.

Cluster IPs and node ports are allocated by the API server (it owns the RangeAllocation
objects); this strategy only defaults, validates, carries allocated values over on update
(a replaced manifest usually lacks them, and Kubernetes keeps them) and prints.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import (
    Causes,
    KindStrategy,
    PlainStrategy,
    dicts,
    get,
    get_dicts,
    mapping,
    seq,
    spec,
    text,
)
from hyperkube.api.strategies.common import NONE, age, map_selector_string, more_list
from hyperkube.machinery import validation as v

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
PROTOCOLS = ("TCP", "UDP", "SCTP")


class ServiceStrategy(KindStrategy):
    tracks_generation = False
    name_check = staticmethod(v.dns1035_label)  # type: ignore[assignment]
    field_labels = ("spec.clusterIP", "spec.type")

    def default(self, obj: Object) -> None:
        s = spec(obj)
        s.setdefault("type", "ClusterIP")
        s.setdefault("sessionAffinity", "None")
        if s["sessionAffinity"] == "ClientIP":
            s.setdefault("sessionAffinityConfig", {"clientIP": {"timeoutSeconds": 10800}})
        for port in dicts(s.get("ports")):
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if port.get("targetPort") in (None, "", 0) and port.get("port") is not None:
                    port["targetPort"] = port["port"]
        if s["type"] != "ExternalName":
            s.setdefault("internalTrafficPolicy", "Cluster")
        if s["type"] in ("NodePort", "LoadBalancer"):
            s.setdefault("externalTrafficPolicy", "Cluster")
        if s["type"] == "LoadBalancer":
            s.setdefault("allocateLoadBalancerNodePorts", True)
        if s["type"] != "ExternalName":
            if s.get("clusterIP") and not s.get("clusterIPs"):
                s["clusterIPs"] = [s["clusterIP"]]
            headless_without_selector = s.get("clusterIP") == "None" and not s.get("selector")
            s.setdefault("ipFamilyPolicy", "RequireDualStack" if headless_without_selector else "SingleStack")
            s.setdefault("ipFamilies", ["IPv4"])

    def initial_status(self, obj: Object) -> Object:
        return {"loadBalancer": {}}

    def prepare_for_update(self, new: Object, old: Object) -> None:
        """Keep what the server allocated when the new body leaves it out."""
        new_spec, old_spec = spec(new), mapping(old.get("spec"))
        same_type = new_spec.get("type", "ClusterIP") == old_spec.get("type")
        if same_type or new_spec.get("type") not in ("ExternalName",):
            for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if field in old_spec and not new_spec.get(field) and old_spec.get("type") != "ExternalName":
                    new_spec[field] = copy.deepcopy(old_spec[field])
        if new_spec.get("type") in ("NodePort", "LoadBalancer"):
            old_ports = {(repr(p.get("port")), repr(p.get("protocol", "TCP"))): p.get("nodePort")
                         for p in dicts(old_spec.get("ports"))}
            for port in dicts(new_spec.get("ports")):
                if not port.get("nodePort"):
                    node_port = old_ports.get((repr(port.get("port")), repr(port.get("protocol", "TCP"))))
                    if node_port:
                        port["nodePort"] = node_port
            if old_spec.get("healthCheckNodePort") and not new_spec.get("healthCheckNodePort"):
                new_spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
        super().prepare_for_update(new, old)

    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
        out: Causes = v.enum("spec.type", s.get("type"), SERVICE_TYPES)
        out += v.enum("spec.sessionAffinity", s.get("sessionAffinity"), ("None", "ClientIP"))
        kind = s.get("type", "ClusterIP")
        ports = dicts(s.get("ports"))
        if kind == "ExternalName":
            if not s.get("externalName"):
                out.append(v.required("spec.externalName"))
            else:
                out += v.checked("spec.externalName", s["externalName"].rstrip("."), v.dns1123_subdomain)
        elif not ports and s.get("clusterIP") != "None":
            out.append(v.required("spec.ports"))
        names: set[str] = set()
        seen: set[tuple[Any, Any]] = set()
        for i, port in enumerate(ports):
            if not isinstance(port, dict):
                continue
            p = f"spec.ports[{i}]"
            name = port.get("name") or ""
            if len(ports) > 1 and not name:
                out.append(v.required(f"{p}.name"))
            elif name:
                out += v.checked(f"{p}.name", name, v.dns1123_label)
                if name in names:
                    out.append(v.duplicate(f"{p}.name", name))
                names.add(name)
            if "port" not in port:
                out.append(v.required(f"{p}.port"))
            else:
                out += [v.invalid(f"{p}.port", port["port"], m) for m in v.port_number(port["port"])]
            out += v.enum(f"{p}.protocol", port.get("protocol"), PROTOCOLS)
            target = port.get("targetPort")
            if isinstance(target, str):
                out += v.checked(f"{p}.targetPort", target, v.port_name)
            elif target is not None:
                out += [v.invalid(f"{p}.targetPort", target, m) for m in v.port_number(target)]
            if port.get("nodePort"):
                if kind not in ("NodePort", "LoadBalancer"):
                    out.append(v.forbidden(f"{p}.nodePort", "may not be used when `type` is 'ClusterIP'"))
                out += [v.invalid(f"{p}.nodePort", port["nodePort"], m) for m in v.port_number(port["nodePort"])]
            key = (repr(port.get("port")), repr(port.get("protocol", "TCP")))
            if key in seen:
                out.append(v.duplicate(p, {"port": port.get("port"), "protocol": port.get("protocol", "TCP")}))
            seen.add(key)
        out += v.validate_labels(s.get("selector"), "spec.selector")
        out += _validate_addresses(s, kind)
        if kind == "LoadBalancer" and s.get("clusterIP") == "None":
            out.append(v.invalid("spec.clusterIP", "None", "may not be set to 'None' for LoadBalancer services"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
        old_ip = old_spec.get("clusterIP")
        if (old_ip and old_spec.get("type") != "ExternalName" and new_spec.get("type") != "ExternalName"
                and new_spec.get("clusterIP") != old_ip):
            return [v.immutable("spec.clusterIP", new_spec.get("clusterIP", ""))]
        return []

    def field_values(self, obj: Object) -> dict[str, str]:
        return {"spec.clusterIP": str(get(obj, "spec", "clusterIP", default="")),
                "spec.type": str(get(obj, "spec", "type", default=""))}

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Type", description="The type of the service"),
                Column("Cluster-IP", description="The cluster IP of the service"),
                Column("External-IP", description="The external IPs of the service"),
                Column("Port(s)", description="The ports of the service"), AGE_COLUMN,
                Column("Selector", priority=1, description="Route service traffic to pods with label keys and "
                       "values matching this selector.")]

    def row(self, obj: Object, now: float) -> list[Any]:
        s = mapping(obj.get("spec"))
        cluster_ips = seq(s.get("clusterIPs")) or [s.get("clusterIP")]
        return [get(obj, "metadata", "name", default=""), s.get("type", ""), text(cluster_ips[0]) or NONE,
                external_ip(obj), service_ports(s), age(obj, now), map_selector_string(s.get("selector"))]


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _validate_addresses(s: dict[str, Any], kind: Any) -> Causes:
    """clusterIP(s), externalIPs, IP families and traffic policies."""
    out: Causes = []
    cluster_ip = s.get("clusterIP")
    if kind == "ExternalName":
        if cluster_ip not in (None, ""):
            out.append(v.forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
    elif cluster_ip not in (None, "", "None") and not _is_ip(cluster_ip):
        out.append(v.invalid("spec.clusterIPs[0]", cluster_ip, "must be a valid IP address, (e.g. 10.9.8.7 or "
                             "2001:db8::ffff)"))
    ips = seq(s.get("clusterIPs"))
    if ips and cluster_ip and ips[0] != cluster_ip:
        out.append(v.invalid("spec.clusterIPs", ips, "first value must match `clusterIP`"))
    for i, ip in enumerate(seq(s.get("externalIPs"))):
        if not _is_ip(ip):
            out.append(v.invalid(f"spec.externalIPs[{i}]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or "
                                 "2001:db8::ffff)"))
    for i, family in enumerate(seq(s.get("ipFamilies"))):
        out += v.enum(f"spec.ipFamilies[{i}]", family, ("IPv4", "IPv6"), allow_empty=False)
    out += v.enum("spec.ipFamilyPolicy", s.get("ipFamilyPolicy"),
                  ("SingleStack", "PreferDualStack", "RequireDualStack"))
    out += v.enum("spec.internalTrafficPolicy", s.get("internalTrafficPolicy"), ("Cluster", "Local"))
    policy = s.get("externalTrafficPolicy")
    if policy not in (None, "") and kind not in ("NodePort", "LoadBalancer"):
        out.append(v.invalid("spec.externalTrafficPolicy", policy,
                             "may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
    else:
        out += v.enum("spec.externalTrafficPolicy", policy, ("Cluster", "Local"))
    return out


def service_ports(s: dict[str, Any]) -> str:
    cells = []
    for port in dicts(s.get("ports")):
        if not isinstance(port, dict):
            continue
        if port.get("nodePort"):
            cells.append(f"{port.get('port')}:{port['nodePort']}/{port.get('protocol', 'TCP')}")
        else:
            cells.append(f"{port.get('port')}/{port.get('protocol', 'TCP')}")
    return ",".join(cells) or NONE


def external_ip(service: Object) -> str:
    s = mapping(service.get("spec"))
    kind = s.get("type", "ClusterIP")
    external = [str(ip) for ip in seq(s.get("externalIPs"))]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        found = load_balancer_addresses(get_dicts(service, "status", "loadBalancer", "ingress")) + external
        return ",".join(found) or "<pending>"
    if kind == "ExternalName":
        return s.get("externalName", "")
    return "<unknown>"


def load_balancer_addresses(ingress: Any) -> list[str]:
    """IPs (or hostnames when no IP) of load-balancer ingress points, sorted and unique."""
    found = {text(i.get("ip")) or text(i.get("hostname")) for i in dicts(ingress)}
    return sorted(f for f in found if f)


class EndpointsStrategy(PlainStrategy):
    name_check = staticmethod(v.dns1123_subdomain)  # type: ignore[assignment]

    def validate_spec(self, obj: Object) -> Causes:
        out: Causes = []
        for i, subset in enumerate(dicts(obj.get("subsets"))):
            if not isinstance(subset, dict):
                continue
            for kind in ("addresses", "notReadyAddresses"):
                for j, addr in enumerate(dicts(subset.get(kind))):
                    if isinstance(addr, dict) and not addr.get("ip"):
                        out.append(v.required(f"subsets[{i}].{kind}[{j}].ip"))
            for j, port in enumerate(dicts(subset.get("ports"))):
                if isinstance(port, dict):
                    out += [v.invalid(f"subsets[{i}].ports[{j}].port", port.get("port"), m)
                            for m in v.port_number(port.get("port"))]
                    out += v.enum(f"subsets[{i}].ports[{j}].protocol", port.get("protocol"), PROTOCOLS)
        return out

    def default(self, obj: Object) -> None:
        for subset in dicts(obj.get("subsets")):
            for port in dicts(mapping(subset).get("ports")):
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Endpoints", description="Endpoints of the service"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        return [get(obj, "metadata", "name", default=""), endpoints_cell(obj), age(obj, now)]


def endpoints_cell(obj: Object) -> str:
    """``ip:port`` pairs (ports outer, addresses inner), three at most then ``+ N more...``."""
    subsets = dicts(obj.get("subsets"))
    if not subsets:
        return NONE
    cells: list[str] = []
    total = 0
    for subset in subsets:
        addresses = [text(a.get("ip")) for a in dicts(subset.get("addresses"))]
        ports = [p.get("port") for p in dicts(subset.get("ports"))]
        pairs = [ip for ip in addresses] if not ports else \
            [f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}" for port in ports for ip in addresses]
        total += len(pairs)
        cells += pairs[:max(0, 3 - len(cells))]
    joined = ",".join(cells)
    return f"{joined} + {total - 3} more..." if total > 3 else joined


class EndpointSliceStrategy(PlainStrategy):
    tracks_generation = True

    def default(self, obj: Object) -> None:
        for port in dicts(obj.get("ports")):
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("name", "")

    def validate_spec(self, obj: Object) -> Causes:
        out = v.enum("addressType", obj.get("addressType"), ("IPv4", "IPv6", "FQDN"), allow_empty=False)
        for i, endpoint in enumerate(dicts(obj.get("endpoints"))):
            if isinstance(endpoint, dict) and not endpoint.get("addresses"):
                out.append(v.required(f"endpoints[{i}].addresses"))
        for i, port in enumerate(dicts(obj.get("ports"))):
            if isinstance(port, dict) and port.get("port") is not None:
                out += [v.invalid(f"ports[{i}].port", port["port"], m) for m in v.port_number(port["port"])]
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        if old.get("addressType") and new.get("addressType") != old.get("addressType"):
            return [v.immutable("addressType", new.get("addressType"))]
        return []

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("AddressType", description="The IP protocol for this slice"),
                Column("Ports", description="The ports of the endpoint slice"),
                Column("Endpoints", description="Endpoints of the endpoint slice"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        ports = []
        for port in dicts(obj.get("ports")):
            number = port.get("port")
            ports.append(str(number) if number is not None else (port.get("name") or "*"))
        addresses = [str(a) for e in dicts(obj.get("endpoints")) for a in seq(e.get("addresses"))]
        return [get(obj, "metadata", "name", default=""), obj.get("addressType", ""), more_list(ports),
                more_list(addresses), age(obj, now)]
