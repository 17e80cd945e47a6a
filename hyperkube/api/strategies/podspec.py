"""PodSpec defaults and validation, shared by Pods and every kind with a pod template.

``default_pod_spec`` is Kubernetes' ``SetDefaults_PodSpec`` with the container, port, probe
and volume defaults underneath it; ``validate_pod_spec`` the semantic rules of
``ValidatePodSpec``. Pods add their own bits (image required, requests from limits) in
``pods.py``; templates add theirs (labels matching a selector) in their kind's module.
"""

from __future__ import annotations

from typing import Any

from hyperkube.api.strategies.common import (
    dicts,
    ensure_map,
    mapping,
    parse_quantity,
    text,
    validate_resource_list,
)
from hyperkube.machinery import validation as v

Causes = list[dict[str, str]]

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("TCP", "UDP", "SCTP")
VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI",
    "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk",
    "projected", "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image")


def default_pull_policy(image: str) -> str:
    """Always for ``:latest`` or an untagged image (no digest), else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("path", "/")
        probe["httpGet"].setdefault("scheme", "HTTP")
    if isinstance(probe.get("grpc"), dict):
        probe["grpc"].setdefault("service", "")


def _default_container(container: dict[str, Any], host_network: bool) -> None:
    if container.get("image") is not None and not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = default_pull_policy(str(container.get("image") or ""))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    ensure_map(container, "resources")
    for port in dicts(container.get("ports")):
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if host_network and port.get("containerPort") and not port.get("hostPort"):
                port["hostPort"] = port["containerPort"]
    for env in dicts(container.get("env")):
        ref = mapping(env.get("valueFrom")).get("fieldRef")
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(probe))
    for hook in ("postStart", "preStop"):
        handler = mapping(container.get("lifecycle")).get(hook)
        if isinstance(handler, dict) and isinstance(handler.get("httpGet"), dict):
            handler["httpGet"].setdefault("scheme", "HTTP")


def _default_volume(volume: dict[str, Any]) -> None:
    if not any(source in volume for source in VOLUME_SOURCES):
        volume["emptyDir"] = {}
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(volume.get(source), dict):
            volume[source].setdefault("defaultMode", 420)
    if isinstance(volume.get("hostPath"), dict):
        volume["hostPath"].setdefault("type", "")


def default_pod_spec(spec: dict[str, Any]) -> None:
    """SetDefaults_PodSpec and below, in place."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    elif spec.get("serviceAccount") and not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    host_network = bool(spec.get("hostNetwork"))
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in dicts(spec.get(group)):
            if isinstance(container, dict):
                _default_container(container, host_network)
    for volume in dicts(spec.get("volumes")):
        if isinstance(volume, dict):
            _default_volume(volume)


def _validate_ports(ports: Any, path: str, host_network: bool) -> Causes:
    out: Causes = []
    names: set[str] = set()
    for i, port in enumerate(dicts(ports)):
        p = f"{path}[{i}]"
        name = port.get("name")
        if name:
            out += v.checked(f"{p}.name", name, v.port_name)
            if text(name) in names:
                out.append(v.duplicate(f"{p}.name", name))
            names.add(text(name))
        if "containerPort" not in port:
            out.append(v.required(f"{p}.containerPort"))
        else:
            out += [v.invalid(f"{p}.containerPort", port["containerPort"], m)
                    for m in v.port_number(port["containerPort"])]
        if port.get("hostPort"):
            out += [v.invalid(f"{p}.hostPort", port["hostPort"], m) for m in v.port_number(port["hostPort"])]
            if host_network and port.get("hostPort") != port.get("containerPort"):
                out.append(v.invalid(f"{p}.hostPort", port["hostPort"],
                                     "must match `containerPort` when `hostNetwork` is true"))
        out += v.enum(f"{p}.protocol", port.get("protocol"), PROTOCOLS)
    return out


PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def _validate_probe(probe: Any, path: str, *, success_must_be_one: bool) -> Causes:
    if probe is None:
        return []
    if not isinstance(probe, dict):
        return [v.invalid(path, probe, "must be an object")]
    handlers = [h for h in PROBE_HANDLERS if probe.get(h) is not None]
    out: Causes = []
    if not handlers:
        out.append(v.required(path, "must specify a handler type"))
    elif len(handlers) > 1:
        out.append(v.forbidden(f"{path}.{handlers[1]}", "may not specify more than 1 handler type"))
    for field in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        out += v.non_negative(f"{path}.{field}", probe.get(field))
    if success_must_be_one and probe.get("successThreshold") not in (None, 1):
        out.append(v.invalid(f"{path}.successThreshold", probe.get("successThreshold"), "must be 1"))
    http = probe.get("httpGet")
    if isinstance(http, dict):
        port = http.get("port")
        if port is None:
            out.append(v.required(f"{path}.httpGet.port"))
        elif isinstance(port, str):
            out += v.checked(f"{path}.httpGet.port", port, v.port_name)
        else:
            out += [v.invalid(f"{path}.httpGet.port", port, m) for m in v.port_number(port)]
        out += v.enum(f"{path}.httpGet.scheme", http.get("scheme"), ("HTTP", "HTTPS"))
    exec_ = probe.get("exec")
    if isinstance(exec_, dict) and not exec_.get("command"):
        out.append(v.required(f"{path}.exec.command"))
    return out


def _validate_env(env: Any, path: str) -> Causes:
    out: Causes = []
    for i, item in enumerate(dicts(env)):
        p = f"{path}[{i}]"
        if not item.get("name"):
            out.append(v.required(f"{p}.name"))
        else:
            out += v.checked(f"{p}.name", item["name"], v.env_var_name)
        source = item.get("valueFrom")
        if source is None:
            continue
        if item.get("value"):
            out.append(v.invalid(f"{p}.valueFrom", "", "may not be specified when `value` is not empty"))
        kinds = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
                 if mapping(source).get(k) is not None]
        if not kinds:
            out.append(v.invalid(f"{p}.valueFrom", "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                 "`configMapKeyRef` or `secretKeyRef`"))
        elif len(kinds) > 1:
            out.append(v.invalid(f"{p}.valueFrom", "", "may not have more than one field specified at a time"))
        for ref in ("configMapKeyRef", "secretKeyRef"):
            selector = mapping(source).get(ref)
            if isinstance(selector, dict) and not selector.get("key"):
                out.append(v.required(f"{p}.valueFrom.{ref}.key"))
        field_ref = mapping(source).get("fieldRef")
        if isinstance(field_ref, dict) and not field_ref.get("fieldPath"):
            out.append(v.required(f"{p}.valueFrom.fieldRef.fieldPath"))
    return out


def _validate_resources(resources: Any, path: str) -> Causes:
    if not isinstance(resources, dict):
        return []
    out = validate_resource_list(resources.get("limits"), f"{path}.limits")
    out += validate_resource_list(resources.get("requests"), f"{path}.requests")
    limits = mapping(resources.get("limits"))
    for name, qty in mapping(resources.get("requests")).items():
        if name in limits:
            request, limit = parse_quantity(qty), parse_quantity(limits[name])
            if request is not None and limit is not None and request > limit:
                out.append(v.invalid(f"{path}.requests", qty,
                                     f"must be less than or equal to {name} limit of {limits[name]}"))
    return out


def _validate_container(c: dict[str, Any], path: str, volumes: set[str], *, for_pod: bool, group: str,
                        host_network: bool) -> Causes:
    out: Causes = []
    if not c.get("name"):
        out.append(v.required(f"{path}.name"))
    else:
        out += v.checked(f"{path}.name", c["name"], v.dns1123_label)
    image = c.get("image")
    if for_pod and not image:
        out.append(v.required(f"{path}.image"))
    elif isinstance(image, str) and image != image.strip():
        out.append(v.invalid(f"{path}.image", image, "must not have leading or trailing whitespace"))
    out += v.enum(f"{path}.imagePullPolicy", c.get("imagePullPolicy"), PULL_POLICIES)
    out += v.enum(f"{path}.terminationMessagePolicy", c.get("terminationMessagePolicy"),
                  ("File", "FallbackToLogsOnError"))
    out += _validate_ports(c.get("ports"), f"{path}.ports", host_network)
    out += _validate_env(c.get("env"), f"{path}.env")
    sidecar = group == "initContainers" and c.get("restartPolicy") == "Always"
    if group == "initContainers":
        out += v.enum(f"{path}.restartPolicy", c.get("restartPolicy"), ("Always",))
    elif c.get("restartPolicy") is not None and group == "ephemeralContainers":
        out.append(v.forbidden(f"{path}.restartPolicy", "may not be set for ephemeral containers"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if c.get(probe) is None:
            continue
        if group == "ephemeralContainers" or (group == "initContainers" and not sidecar):
            out.append(v.forbidden(f"{path}.{probe}", "may not be set for init containers without "
                                   "restartPolicy=Always" if group == "initContainers" else
                                   "may not be set for ephemeral containers"))
            continue
        out += _validate_probe(c[probe], f"{path}.{probe}", success_must_be_one=probe != "readinessProbe")
    mount_paths: set[str] = set()
    for i, mount in enumerate(dicts(c.get("volumeMounts"))):
        mp = f"{path}.volumeMounts[{i}]"
        if not mount.get("name"):
            out.append(v.required(f"{mp}.name"))
        elif text(mount["name"]) not in volumes:
            out.append(v.not_found(f"{mp}.name", mount["name"]))
        mount_path = text(mount.get("mountPath"))
        if not mount_path:
            out.append(v.required(f"{mp}.mountPath"))
        elif mount_path in mount_paths:
            out.append(v.invalid(f"{mp}.mountPath", mount_path, "must be unique"))
        mount_paths.add(mount_path)
    out += _validate_resources(c.get("resources"), f"{path}.resources")
    return out


def _validate_volumes(volumes: Any, path: str) -> tuple[Causes, set[str]]:
    out: Causes = []
    names: set[str] = set()
    for i, volume in enumerate(dicts(volumes)):
        if not isinstance(volume, dict):
            continue
        p = f"{path}[{i}]"
        name = volume.get("name")
        if not name:
            out.append(v.required(f"{p}.name"))
        else:
            out += v.checked(f"{p}.name", name, v.dns1123_label)
            if text(name) in names:
                out.append(v.duplicate(f"{p}.name", name))
            names.add(text(name))
        sources = [s for s in VOLUME_SOURCES if s in volume]
        if not sources:
            out.append(v.required(p, "must specify a volume type"))
        elif len(sources) > 1:
            out.append(v.forbidden(f"{p}.{sources[1]}", "may not specify more than 1 volume type"))
        claim = volume.get("persistentVolumeClaim")
        if isinstance(claim, dict) and not claim.get("claimName"):
            out.append(v.required(f"{p}.persistentVolumeClaim.claimName"))
        for kind, key in (("configMap", "name"), ("secret", "secretName")):
            src = volume.get(kind)
            if isinstance(src, dict) and not src.get(key):
                out.append(v.required(f"{p}.{kind}.{key}"))
        host = volume.get("hostPath")
        if isinstance(host, dict) and not host.get("path"):
            out.append(v.required(f"{p}.hostPath.path"))
    return out, names


def validate_pod_spec(spec: Any, path: str = "spec", *, for_pod: bool = False) -> Causes:
    """ValidatePodSpec's semantic rules; ``for_pod`` adds what only real pods need (images)."""
    if not isinstance(spec, dict):
        return [v.required(path)]
    out, volumes = _validate_volumes(spec.get("volumes"), f"{path}.volumes")
    containers = spec.get("containers")
    if not containers:
        out.append(v.required(f"{path}.containers"))
    seen: set[str] = set()
    host_ports: set[str] = set()
    host_network = bool(spec.get("hostNetwork"))
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(dicts(spec.get(group))):
            cpath = f"{path}.{group}[{i}]"
            out += _validate_container(c, cpath, volumes, for_pod=for_pod, group=group, host_network=host_network)
            name = text(c.get("name"))
            if name and name in seen:
                out.append(v.duplicate(f"{cpath}.name", name))
            seen.add(name)
            if group == "ephemeralContainers":
                continue
            for j, port in enumerate(dicts(c.get("ports"))):
                host_port = port.get("hostPort")
                if host_port:
                    key = f"{host_port}/{text(port.get('protocol')) or 'TCP'}"
                    if key in host_ports:
                        out.append(v.duplicate(f"{cpath}.ports[{j}].hostPort", key))
                    host_ports.add(key)
    out += v.enum(f"{path}.restartPolicy", spec.get("restartPolicy"), RESTART_POLICIES)
    dns = spec.get("dnsPolicy")
    out += v.enum(f"{path}.dnsPolicy", dns, DNS_POLICIES)
    if dns == "None" and not spec.get("dnsConfig"):
        out.append(v.required(f"{path}.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
    out += v.non_negative(f"{path}.terminationGracePeriodSeconds", spec.get("terminationGracePeriodSeconds"))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or not 1 <= deadline <= 2147483647):
        out.append(v.invalid(f"{path}.activeDeadlineSeconds", deadline, v.in_range_message(1, 2147483647)))
    for field, check in (("nodeName", v.dns1123_subdomain), ("serviceAccountName", v.dns1123_subdomain),
                         ("hostname", v.dns1123_label), ("subdomain", v.dns1123_label),
                         ("priorityClassName", v.dns1123_subdomain)):
        if spec.get(field):
            out += v.checked(f"{path}.{field}", spec[field], check)
    out += v.validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for i, tol in enumerate(dicts(spec.get("tolerations"))):
        if not isinstance(tol, dict):
            continue
        op = tol.get("operator") or "Equal"
        out += v.enum(f"{path}.tolerations[{i}].operator", op, ("Equal", "Exists"))
        out += v.enum(f"{path}.tolerations[{i}].effect", tol.get("effect"),
                      ("NoSchedule", "PreferNoSchedule", "NoExecute"))
        if op == "Exists" and tol.get("value"):
            out.append(v.invalid(f"{path}.tolerations[{i}].operator", tol.get("value"),
                                 "value must be empty when `operator` is 'Exists'"))
        if not tol.get("key") and op != "Exists":
            out.append(v.invalid(f"{path}.tolerations[{i}].operator", op,
                                 "operator must be Exists when `key` is empty, which means \"match all values "
                                 "and all keys\""))
    return out


def validate_template(template: Any, path: str, *, restart_policies: tuple[str, ...] = ("Always",)) -> Causes:
    """A PodTemplateSpec inside a workload: its labels, its pod spec, the restart policies allowed."""
    if not isinstance(template, dict):
        return [v.required(path)]
    meta = mapping(template.get("metadata"))
    out = v.validate_labels(meta.get("labels"), f"{path}.metadata.labels")
    out += v.validate_annotations(meta.get("annotations"), f"{path}.metadata.annotations")
    pod_spec = template.get("spec")
    out += validate_pod_spec(pod_spec, f"{path}.spec")
    policy = (pod_spec or {}).get("restartPolicy") if isinstance(pod_spec, dict) else None
    if policy and policy not in restart_policies:
        out.append(v.not_supported(f"{path}.spec.restartPolicy", policy, restart_policies))
    return out


def default_template(template: Any) -> None:
    """Pod template defaults (no pod-only defaults such as requests from limits)."""
    if isinstance(template, dict):
        if not isinstance(template.get("spec"), dict):
            template["spec"] = {}
        default_pod_spec(template["spec"])
