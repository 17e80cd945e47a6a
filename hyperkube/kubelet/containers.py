"""From a pod's container to what a process runs: command, environment, working directory.

Order, as the kubelet does it: ``envFrom`` sources first, then ``env`` entries (later wins),
each ``value`` expanded with ``$(VAR)`` against the variables defined before it; then the
service variables (``<SVC>_SERVICE_HOST`` ...) for names not already set. ``command`` and
``args`` are expanded against the final environment (``$$`` escapes a dollar; an unknown
``$(X)`` stays as written).

A container without ``command`` takes its image's default from the image map: a YAML file
(``--image-map``) of ``image: {command, args, env, workingDir}``, looked up by the full image
reference, then without the tag or digest, then by the last path element (``docker.io/library/
python:3.12`` -> ``python``). Built-in defaults: ``hyperkube`` runs this program, python
images run the host's python, busybox/alpine/ubuntu/debian run ``sh``, nginx serves with
python's http.server on port 80. An image with neither fails the container with the reason
``ImageMapMissing`` (a waiting state, as ``ErrImagePull`` would be).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from hyperkube.kubelet.runtime import ContainerSpec
from hyperkube.machinery.quantity import parse_quantity

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

BUILTIN_IMAGES: dict[str, dict[str, Any]] = {
    "hyperkube": {"command": [sys.executable, "-m", "hyperkube"]},
    "python": {"command": [sys.executable]},
    "busybox": {"command": ["sh"]},
    "alpine": {"command": ["sh"]},
    "ubuntu": {"command": ["sh"]},
    "debian": {"command": ["sh"]},
    "nginx": {"command": [sys.executable, "-m", "http.server", "80"]},
}


class ContainerConfigError(Exception):
    """The container cannot be started as written: ``reason`` is its waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def image_candidates(image: str) -> list[str]:
    names = [image]
    bare = image.split("@", 1)[0]
    last = bare.rsplit("/", 1)[-1]
    if ":" in last:
        bare = bare[: len(bare) - len(last)] + last.split(":", 1)[0]
    names.append(bare)
    names.append(bare.rsplit("/", 1)[-1])
    return list(dict.fromkeys(names))


def lookup_image(image: str, image_map: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    for name in image_candidates(image):
        if name in image_map:
            return image_map[name]
    for name in image_candidates(image):
        if name in BUILTIN_IMAGES:
            return BUILTIN_IMAGES[name]
    return None


_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _VAR.sub(replace, text)


def _field_ref(pod: dict[str, Any], path: str, node_ip: str) -> str:
    meta = pod.get("metadata") or {}
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    values = {
        "metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""), "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", ""),
        "status.hostIP": node_ip, "status.podIP": node_ip, "status.podIPs": node_ip, "status.hostIPs": node_ip,
    }
    return str(values.get(path, ""))


def _resource_ref(container: dict[str, Any], ref: dict[str, Any], node_allocatable: dict[str, str]) -> str:
    resource = ref.get("resource", "")
    kind, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(name)
    if value is None and kind == "limits":
        value = node_allocatable.get(name)
    if value is None:
        value = "0"
    divisor = parse_quantity(ref.get("divisor") or "1").value
    number = parse_quantity(str(value)).value / (divisor or 1)
    return str(int(number.to_integral_value(rounding="ROUND_CEILING")))


def service_env(services: list[dict[str, Any]]) -> dict[str, str]:
    """Docker-links style variables for each Service with a cluster IP."""
    env: dict[str, str] = {}
    for service in services:
        spec = service.get("spec") or {}
        ip = spec.get("clusterIP")
        ports = spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        first = ports[0]
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(first.get("port"))
        env[f"{prefix}_PORT"] = f"{(first.get('protocol') or 'TCP').lower()}://{ip}:{first.get('port')}"
        for port in ports:
            protocol = port.get("protocol") or "TCP"
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(port.get("port"))
            base = f"{prefix}_PORT_{port.get('port')}_{protocol}"
            env[base] = f"{protocol.lower()}://{ip}:{port.get('port')}"
            env[f"{base}_PROTO"] = protocol.lower()
            env[f"{base}_PORT"] = str(port.get("port"))
            env[f"{base}_ADDR"] = ip
    return env


async def resolve(pod: dict[str, Any], container: dict[str, Any], *, image_map: dict[str, dict[str, Any]],
                  node_ip: str, lookup: Any, services: list[dict[str, Any]],
                  node_allocatable: dict[str, str] | None = None) -> ContainerSpec:
    """Build the process spec. ``lookup(kind, namespace, name)`` returns a ConfigMap or Secret
    (or None); a missing required key raises :class:`ContainerConfigError`
    (``CreateContainerConfigError``, as Kubernetes names it)."""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    image = container.get("image") or ""
    mapped = lookup_image(image, image_map) if not container.get("command") else None
    env: dict[str, str] = {"PATH": os.environ.get("PATH", DEFAULT_PATH), "HOSTNAME": pod["metadata"].get("name", ""),
                           "HOME": os.environ.get("HOME", "/root")}
    if mapped:
        env.update({str(k): str(v) for k, v in (mapped.get("env") or {}).items()})
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, key in (("configmaps", "configMapRef"), ("secrets", "secretRef")):
            ref = source.get(key)
            if not ref:
                continue
            obj = await lookup(kind, namespace, ref.get("name"))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError("CreateContainerConfigError", f'{kind[:-1]} "{ref.get("name")}" not found')
            for name, value in _data(obj).items():
                env[prefix + name] = value
    for item in container.get("env") or []:
        name = item.get("name")
        if "valueFrom" not in item:
            env[name] = expand(str(item.get("value", "")), env)
            continue
        source = item["valueFrom"] or {}
        if "fieldRef" in source:
            env[name] = _field_ref(pod, source["fieldRef"].get("fieldPath", ""), node_ip)
        elif "resourceFieldRef" in source:
            env[name] = _resource_ref(container, source["resourceFieldRef"], node_allocatable or {})
        else:
            for kind, key in (("configmaps", "configMapKeyRef"), ("secrets", "secretKeyRef")):
                ref = source.get(key)
                if not ref:
                    continue
                obj = await lookup(kind, namespace, ref.get("name"))
                data = _data(obj) if obj else None
                if data is None or ref.get("key") not in data:
                    if ref.get("optional"):
                        break
                    what = f'{kind[:-1]} "{ref.get("name")}"' if data is None else \
                        f'couldn\'t find key {ref.get("key")} in {kind[:-1]} {namespace}/{ref.get("name")}'
                    raise ContainerConfigError("CreateContainerConfigError",
                                               what + (" not found" if data is None else ""))
                env[name] = data[ref["key"]]
    if (pod.get("spec") or {}).get("enableServiceLinks", True) is not False:
        for name, value in service_env(services).items():
            env.setdefault(name, value)
    if container.get("command"):
        command = list(container["command"])
        args = list(container.get("args") or [])
    elif mapped:
        command = list(mapped.get("command") or [])
        args = list(container["args"]) if container.get("args") is not None else list(mapped.get("args") or [])
    else:
        raise ContainerConfigError(
            "ImageMapMissing", f'image "{image}" has no command here: the container sets no command and '
                               f"the image map (--image-map) has no entry for it")
    argv = [expand(str(part), env) for part in command + args]
    if not argv:
        raise ContainerConfigError("CreateContainerConfigError", "the container has an empty command")
    working_dir = container.get("workingDir") or (mapped or {}).get("workingDir")
    limits: dict[str, int] = {}
    declared = (container.get("resources") or {}).get("limits") or {}
    if declared.get("memory"):
        limits["memoryBytes"] = parse_quantity(str(declared["memory"])).integer()
    if declared.get("cpu"):
        limits["cpuMillis"] = parse_quantity(str(declared["cpu"])).milli()
    return ContainerSpec(container["name"], argv, env, working_dir, image, limits,
                         stdin=bool(container.get("stdin")), stdin_once=bool(container.get("stdinOnce")))


def _data(obj: dict[str, Any]) -> dict[str, str]:
    import base64

    data: dict[str, str] = {}
    if obj.get("kind") == "Secret" or "type" in obj:
        for key, value in (obj.get("data") or {}).items():
            data[key] = base64.b64decode(value).decode(errors="replace")
        data.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
    else:
        data.update({k: str(v) for k, v in (obj.get("data") or {}).items()})
    return data
