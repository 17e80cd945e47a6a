"""Objects built from flags: ``create namespace|configmap|secret generic|deployment`` and ``run``.

Each builds the object kubectl would build and sends it like ``create -f`` (JSON, field
manager ``kubectl-create``/``kubectl-run``), printing ``namespace/x created`` or, with
``-o``, the object; ``--dry-run=client -o yaml`` prints it without sending.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from hyperkube.kubectl.printers import ObjectPrinter, kind_prefix
from hyperkube.kubectl.session import KubectlError, Session


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise KubectlError(f"invalid {flag}: {value}")
        out[key] = rest
    return out


def _files(values: tuple[str, ...]) -> dict[str, bytes]:
    out = {}
    for value in values:
        key, sep, path = value.partition("=")
        if not sep:
            key, path = os.path.basename(value), value
        if os.path.isdir(path):
            for entry in sorted(os.listdir(path)):
                if os.path.isfile(os.path.join(path, entry)):
                    out[entry] = Path(path, entry).read_bytes()
        else:
            out[key] = Path(path).read_bytes()
    return out


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {}, "status": {}}


def configmap(name: str, literals: tuple[str, ...], files: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, str] = dict(_pairs(literals, "--from-literal"))
    binary: dict[str, str] = {}
    for key, raw in _files(files).items():
        try:
            data[key] = raw.decode()
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(raw).decode()
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if data:
        obj["data"] = data
    if binary:
        obj["binaryData"] = binary
    return obj


def secret(name: str, literals: tuple[str, ...], files: tuple[str, ...], secret_type: str | None) -> dict[str, Any]:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in _pairs(literals, "--from-literal").items()}
    data.update({k: base64.b64encode(v).decode() for k, v in _files(files).items()})
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
    if data:
        obj["data"] = data
    if secret_type:
        obj["type"] = secret_type
    return obj


def deployment(name: str, images: tuple[str, ...], replicas: int, port: int | None) -> dict[str, Any]:
    if not images:
        raise KubectlError("required flag(s) \"image\" not set")
    containers: list[dict[str, Any]] = []
    for image in images:
        base = image.rsplit("/", 1)[-1].split(":")[0].split("@")[0]
        container: dict[str, Any] = {"name": base, "image": image, "resources": {}}
        if port is not None:
            container["ports"] = [{"containerPort": port}]
        containers.append(container)
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "strategy": {},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}},
            "status": {}}


def pod(name: str, image: str, labels: dict[str, str], env: dict[str, str], port: int | None,
        command: bool, args: tuple[str, ...], restart: str) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image, "resources": {}}
    if args:
        container["command" if command else "args"] = list(args)
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"run": name}},
            "spec": {"containers": [container], "dnsPolicy": "ClusterFirst", "restartPolicy": restart},
            "status": {}}


async def send(session: Session, obj: dict[str, Any], *, dry_run: str, output: str, manager: str) -> int:
    """Create ``obj`` (namespaced kinds in the session's namespace) and print the result."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    resource = await session.discovery.for_kind(api_version, kind)
    namespace = session.namespace if resource.namespaced else None
    if namespace and dry_run != "client":  # kubectl leaves a client dry run's namespace unset
        obj["metadata"]["namespace"] = namespace
    if dry_run == "client":
        result = obj
    else:
        result = await session.client.create(resource, obj, namespace=namespace, dry_run=dry_run == "server",
                                             field_manager=manager)
    ref = f"{kind_prefix(resource.kind, resource.group)}/{obj['metadata']['name']}"
    if output:
        print(ObjectPrinter(output).render([result], single=True), end="")
    else:
        suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run, "")
        print(f"{ref} created{suffix}")
    return 0


async def expose(session: Session, args: list[str], *, port: int | None, target_port: str | None,
                 name: str | None, service_type: str | None, protocol: str, dry_run: str, output: str) -> int:
    """``kubectl expose``: a Service selecting what a pod, deployment, replica set or service selects."""
    from hyperkube.kubectl.get import resolve_requests

    requests = await resolve_requests(session, args)
    if len(requests) != 1 or len(requests[0].names) != 1:
        raise KubectlError("expose takes exactly one resource: TYPE NAME or TYPE/NAME")
    resource, source_name = requests[0].resource, requests[0].names[0]
    source = await session.client.get(resource, source_name, namespace=session.namespace)
    spec = source.get("spec") or {}
    if resource.kind == "Pod":
        selector = (source.get("metadata") or {}).get("labels") or {}
        ports = [p for c in spec.get("containers") or [] for p in c.get("ports") or []]
    elif resource.kind == "Service":
        selector = spec.get("selector") or {}
        ports = [{"containerPort": p.get("port")} for p in spec.get("ports") or []]
    else:
        raw = spec.get("selector") or {}
        selector = raw.get("matchLabels") if "matchLabels" in raw or "matchExpressions" in raw else raw
        if not selector or (raw.get("matchExpressions")):
            raise KubectlError(f"couldn't retrieve selectors via --selector flag or introspection: the "
                               f"{resource.kind} has no plain label selector")
        template = (spec.get("template") or {}).get("spec") or {}
        ports = [p for c in template.get("containers") or [] for p in c.get("ports") or []]
    if port is None:
        if not ports:
            raise KubectlError("couldn't find port via --port flag or introspection")
        port = ports[0].get("containerPort")
    target: Any = port if target_port is None else (int(target_port) if target_port.isdigit() else target_port)
    service: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name or source_name},
        "spec": {"ports": [{"port": port, "protocol": protocol, "targetPort": target}], "selector": selector}}
    labels = (source.get("metadata") or {}).get("labels")
    if labels:
        service["metadata"]["labels"] = labels
    if service_type:
        service["spec"]["type"] = service_type
    resource_v1 = await session.discovery.for_kind("v1", "Service")
    if dry_run == "client":
        result = service
    else:
        service["metadata"]["namespace"] = session.namespace
        result = await session.client.create(resource_v1, service, namespace=session.namespace,
                                             dry_run=dry_run == "server", field_manager="kubectl-expose")
    if output:
        print(ObjectPrinter(output).render([result], single=True), end="")
    else:
        suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run, "")
        print(f"service/{service['metadata']['name']} exposed{suffix}")
    return 0


def service(kind: str, name: str, tcp: tuple[str, ...], node_port: int | None) -> dict[str, Any]:
    """``create service clusterip|nodeport|loadbalancer NAME --tcp=PORT:TARGET``."""
    types = {"clusterip": "ClusterIP", "nodeport": "NodePort", "loadbalancer": "LoadBalancer"}
    if kind not in types:
        raise KubectlError(f'unknown service type "{kind}"')
    ports = []
    for spec in tcp:
        port, _, target = spec.partition(":")
        entry: dict[str, Any] = {"name": f"{port}-{target or port}", "port": int(port), "protocol": "TCP",
                                 "targetPort": int(target or port)}
        if node_port and kind == "nodeport":
            entry["nodePort"] = node_port
        ports.append(entry)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"ports": ports, "selector": {"app": name}, "type": types[kind]}, "status": {"loadBalancer": {}}}


def job(name: str, image: str, command: tuple[str, ...]) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image, "resources": {}}
    if command:
        container["command"] = list(command)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"metadata": {}, "spec": {"containers": [container], "restartPolicy": "Never"}}},
            "status": {}}


async def set_image(session: Session, args: list[str], *, selection: Any) -> int:
    """``set image TYPE NAME CONTAINER=IMAGE ...`` (``*`` for every container)."""
    from hyperkube.kubectl.delete import targets

    resources = [a for a in args if "=" not in a]
    images = dict(a.split("=", 1) for a in args if "=" in a)
    if not images:
        raise KubectlError("at least one image update is required")
    chosen, _ = await targets(session, resources, selection)
    for target in chosen:
        obj = await session.client.get(target.resource, target.name, namespace=target.namespace)
        spec = obj.get("spec") or {}
        pod_spec = spec if target.resource.kind == "Pod" else ((spec.get("template") or {}).get("spec") or {})
        if target.resource.kind == "CronJob":
            pod_spec = ((((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {})
        changed = []
        for field in ("initContainers", "containers"):
            for container in pod_spec.get(field) or []:
                for key, image in images.items():
                    if key in ("*", container.get("name")) and container.get("image") != image:
                        changed.append({"name": container["name"], "image": image})
        known = {c.get("name") for f in ("initContainers", "containers") for c in pod_spec.get(f) or []}
        missing = [k for k in images if k != "*" and k not in known]
        ref = f"{kind_prefix(target.resource.kind, target.resource.group)}/{target.name}"
        if missing:
            raise KubectlError(f'unable to find container named "{missing[0]}"')
        if not changed:
            continue
        containers = {"containers": changed}
        patch = {"spec": containers} if target.resource.kind == "Pod" else {"spec": {"template": {"spec": containers}}}
        await session.client.patch(target.resource, target.name, patch, namespace=target.namespace,
                                   patch_type="strategic", field_manager="kubectl-set")
        print(f"{ref} image updated")
    return 0
