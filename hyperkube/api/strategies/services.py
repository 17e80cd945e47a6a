"""Services, Endpoints and EndpointSlices.

Cluster IPs and node ports are allocated by the API server (it owns the RangeAllocation
objects); this strategy only defaults, validates, carries allocated values over on update
(a replaced manifest usually lacks them, and Kubernetes keeps them) and prints.
"""

from __future__ import annotations

import copy
from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import Causes, KindStrategy, PlainStrategy, get, spec
from hyperkube.api.strategies.common import NONE, map_selector_string, more_list
from hyperkube.machinery import validation as v
from hyperkube.machinery.durations import age

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
        for port in s.get("ports") or []:
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
        new_spec, old_spec = spec(new), old.get("spec") or {}
        same_type = new_spec.get("type", "ClusterIP") == old_spec.get("type")
        if same_type or new_spec.get("type") not in ("ExternalName",):
            for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if field in old_spec and not new_spec.get(field) and old_spec.get("type") != "ExternalName":
                    new_spec[field] = copy.deepcopy(old_spec[field])
        if new_spec.get("type") in ("NodePort", "LoadBalancer"):
            old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                         for p in old_spec.get("ports") or [] if isinstance(p, dict)}
            for port in new_spec.get("ports") or []:
                if isinstance(port, dict) and not port.get("nodePort"):
                    node_port = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
                    if node_port:
                        port["nodePort"] = node_port
            if old_spec.get("healthCheckNodePort") and not new_spec.get("healthCheckNodePort"):
                new_spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
        super().prepare_for_update(new, old)

    def validate_spec(self, obj: Object) -> Causes:
        s = obj.get("spec") or {}
        out: Causes = v.enum("spec.type", s.get("type"), SERVICE_TYPES)
        out += v.enum("spec.sessionAffinity", s.get("sessionAffinity"), ("None", "ClientIP"))
        kind = s.get("type", "ClusterIP")
        ports = s.get("ports") or []
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
            key = (port.get("port"), port.get("protocol", "TCP"))
            if key in seen:
                out.append(v.duplicate(p, {"port": key[0], "protocol": key[1]}))
            seen.add(key)
        out += v.validate_labels(s.get("selector"), "spec.selector")
        if kind == "LoadBalancer" and s.get("clusterIP") == "None":
            out.append(v.invalid("spec.clusterIP", "None", "may not be set to 'None' for LoadBalancer services"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
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
        s = obj.get("spec") or {}
        return [get(obj, "metadata", "name", default=""), s.get("type", ""), s.get("clusterIP") or NONE,
                external_ip(obj), service_ports(s), age(obj, now), map_selector_string(s.get("selector"))]


def service_ports(s: dict[str, Any]) -> str:
    cells = []
    for port in s.get("ports") or []:
        if not isinstance(port, dict):
            continue
        if port.get("nodePort"):
            cells.append(f"{port.get('port')}:{port['nodePort']}/{port.get('protocol', 'TCP')}")
        else:
            cells.append(f"{port.get('port')}/{port.get('protocol', 'TCP')}")
    return ",".join(cells) or NONE


def external_ip(service: Object) -> str:
    s = service.get("spec") or {}
    kind = s.get("type", "ClusterIP")
    external = [ip for ip in s.get("externalIPs") or []]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        ingress = get(service, "status", "loadBalancer", "ingress", default=[])
        found = [i.get("ip") or i.get("hostname") for i in ingress if isinstance(i, dict)]
        found = [f for f in found if f] + external
        return ",".join(found) or "<pending>"
    if kind == "ExternalName":
        return s.get("externalName", "")
    return "<unknown>"


class EndpointsStrategy(PlainStrategy):
    name_check = staticmethod(v.dns1123_subdomain)  # type: ignore[assignment]

    def validate_spec(self, obj: Object) -> Causes:
        out: Causes = []
        for i, subset in enumerate(obj.get("subsets") or []):
            if not isinstance(subset, dict):
                continue
            for kind in ("addresses", "notReadyAddresses"):
                for j, addr in enumerate(subset.get(kind) or []):
                    if isinstance(addr, dict) and not addr.get("ip"):
                        out.append(v.required(f"subsets[{i}].{kind}[{j}].ip"))
            for j, port in enumerate(subset.get("ports") or []):
                if isinstance(port, dict):
                    out += [v.invalid(f"subsets[{i}].ports[{j}].port", port.get("port"), m)
                            for m in v.port_number(port.get("port"))]
                    out += v.enum(f"subsets[{i}].ports[{j}].protocol", port.get("protocol"), PROTOCOLS)
        return out

    def default(self, obj: Object) -> None:
        for subset in obj.get("subsets") or []:
            for port in (subset or {}).get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Endpoints", description="Endpoints of the service"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        cells: list[str] = []
        total = 0
        for subset in obj.get("subsets") or []:
            ports = [p.get("port") for p in subset.get("ports") or []] or [None]
            for addr in subset.get("addresses") or []:
                for port in ports:
                    total += 1
                    if len(cells) < 3:
                        cells.append(f"{addr.get('ip')}:{port}" if port is not None else str(addr.get("ip")))
        text = ",".join(cells) or NONE
        if total > 3:
            text += f" + {total - 3} more..."
        return [get(obj, "metadata", "name", default=""), text, age(obj, now)]


class EndpointSliceStrategy(PlainStrategy):
    tracks_generation = True

    def default(self, obj: Object) -> None:
        for port in obj.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("name", "")

    def validate_spec(self, obj: Object) -> Causes:
        out = v.enum("addressType", obj.get("addressType"), ("IPv4", "IPv6", "FQDN"), allow_empty=False)
        for i, endpoint in enumerate(obj.get("endpoints") or []):
            if isinstance(endpoint, dict) and not endpoint.get("addresses"):
                out.append(v.required(f"endpoints[{i}].addresses"))
        for i, port in enumerate(obj.get("ports") or []):
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
        for port in obj.get("ports") or []:
            number = port.get("port")
            ports.append(str(number) if number is not None else (port.get("name") or "*"))
        addresses = [a for e in obj.get("endpoints") or [] for a in (e.get("addresses") or [])]
        return [get(obj, "metadata", "name", default=""), obj.get("addressType", ""), more_list(ports),
                more_list(addresses), age(obj, now)]
