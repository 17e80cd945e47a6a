"""``rollout status|restart`` and ``wait --for=condition|delete|jsonpath``.

Both watch one object by name: a GET, then a watch from that resourceVersion with a
``metadata.name`` field selector, re-checking the predicate on every event (and starting
over after a dropped stream), until it holds or ``--timeout`` passes. ``rollout status``
prints kubectl's progress lines as they change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from hyperkube.kubectl import jsonpath
from hyperkube.kubectl.printers import kind_prefix
from hyperkube.kubectl.session import KubectlError, Session

Check = Callable[[dict[str, Any] | None], tuple[bool, str]]


async def follow(session: Session, resource: Any, name: str, namespace: str | None, check: Check,
                 limit: float | None) -> None:
    """Until ``check(obj)`` says done (``obj`` is None once deleted). Raises TimeoutError."""
    from hyperkube.client import NotFound

    client = session.client

    async def loop() -> None:
        while True:
            try:
                current: dict[str, Any] | None = await client.get(resource, name, namespace=namespace)
            except NotFound:
                current = None
            if check(current)[0]:
                return
            if current is None:
                await asyncio.sleep(0.5)
                continue
            version = (current.get("metadata") or {}).get("resourceVersion")
            try:
                async with client.watch(resource, namespace=namespace, field_selector=f"metadata.name={name}",
                                        resource_version=version, timeout_seconds=300) as stream:
                    async for event in stream:
                        if check(None if event.type == "DELETED" else event.object)[0]:
                            return
            except Exception:  # noqa: BLE001 - a 410 or a dropped stream: read it again
                await asyncio.sleep(0.2)

    async with asyncio.timeout(limit):
        await loop()


def deployment_status(obj: dict[str, Any]) -> tuple[bool, str]:
    name = (obj.get("metadata") or {}).get("name")
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if (obj.get("metadata") or {}).get("generation", 0) > status.get("observedGeneration", 0):
        return False, "Waiting for deployment spec update to be observed...\n"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            raise KubectlError(f'deployment "{name}" exceeded its progress deadline')
    replicas, updated = spec.get("replicas", 1), status.get("updatedReplicas", 0)
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < replicas:
        return False, f"{prefix}{updated} out of {replicas} new replicas have been updated...\n"
    if status.get("replicas", 0) > updated:
        return False, f"{prefix}{status['replicas'] - updated} old replicas are pending termination...\n"
    if status.get("availableReplicas", 0) < updated:
        return False, f"{prefix}{status.get('availableReplicas', 0)} of {updated} updated replicas are available...\n"
    return True, f'deployment "{name}" successfully rolled out\n'


def daemonset_status(obj: dict[str, Any]) -> tuple[bool, str]:
    name = (obj.get("metadata") or {}).get("name")
    status = obj.get("status") or {}
    if (obj.get("metadata") or {}).get("generation", 0) > status.get("observedGeneration", 0):
        return False, "Waiting for daemon set spec update to be observed...\n"
    desired, updated = status.get("desiredNumberScheduled", 0), status.get("updatedNumberScheduled", 0)
    prefix = f'Waiting for daemon set "{name}" rollout to finish: '
    if updated < desired:
        return False, f"{prefix}{updated} out of {desired} new pods have been updated...\n"
    if status.get("numberAvailable", 0) < desired:
        return False, f"{prefix}{status.get('numberAvailable', 0)} of {desired} updated pods are available...\n"
    return True, f'daemon set "{name}" successfully rolled out\n'


def statefulset_status(obj: dict[str, Any]) -> tuple[bool, str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if (obj.get("metadata") or {}).get("generation", 0) > status.get("observedGeneration", 0):
        return False, "Waiting for statefulset spec update to be observed...\n"
    replicas = spec.get("replicas", 1)
    if status.get("readyReplicas", 0) < replicas:
        return False, f"Waiting for {replicas - status.get('readyReplicas', 0)} pods to be ready...\n"
    if status.get("updateRevision") and status.get("updateRevision") != status.get("currentRevision"):
        return False, (f"waiting for statefulset rolling update to complete {status.get('updatedReplicas', 0)} "
                       f"pods at revision {status['updateRevision']}...\n")
    return True, (f"statefulset rolling update complete {replicas} pods at revision "
                  f"{status.get('currentRevision', '')}...\n")


VIEWERS = {"Deployment": deployment_status, "DaemonSet": daemonset_status, "StatefulSet": statefulset_status}


async def _target(session: Session, args: list[str]) -> tuple[Any, str]:
    text = "/".join(args) if len(args) == 2 else (args[0] if args else "")
    kind, sep, name = text.partition("/")
    if not sep or not name:
        raise KubectlError("required resource not specified")
    return await session.discovery.resolve(kind), name


async def status(session: Session, args: list[str], *, watch: bool, limit: float | None) -> int:
    resource, name = await _target(session, args)
    viewer = VIEWERS.get(resource.kind)
    if viewer is None:
        raise KubectlError(f"no status viewer has been implemented for {resource.kind}")
    namespace = session.namespace if resource.namespaced else None
    last = [""]

    def check(obj: dict[str, Any] | None) -> tuple[bool, str]:
        if obj is None:
            raise KubectlError(f'{resource.name}.{resource.group} "{name}" not found')
        done, message = viewer(obj)
        if message != last[0]:
            print(message, end="", flush=True)
            last[0] = message
        return done or not watch, message

    if not watch:
        check(await session.client.get(resource, name, namespace=namespace))
        return 0
    try:
        await follow(session, resource, name, namespace, check, limit)
    except TimeoutError as error:
        raise KubectlError("timed out waiting for the condition") from error
    return 0


async def restart(session: Session, args: list[str]) -> int:
    resource, name = await _target(session, args)
    if resource.kind not in VIEWERS:
        raise KubectlError(f'{kind_prefix(resource.kind, resource.group)}/{name} restarting is not supported')
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    now = now[:-2] + ":" + now[-2:]
    patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}}
    await session.client.patch(resource, name, patch, namespace=session.namespace if resource.namespaced else None,
                               patch_type="strategic", field_manager="kubectl-rollout")
    print(f"{kind_prefix(resource.kind, resource.group)}/{name} restarted")
    return 0


def _condition_check(spec: str) -> Callable[[dict[str, Any] | None], bool]:
    kind, _, rest = spec.partition("=")
    if kind == "delete":
        return lambda obj: obj is None
    if kind == "condition":
        name, _, wanted = rest.partition("=")
        wanted = wanted or "True"

        def has(obj: dict[str, Any] | None) -> bool:
            for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
                if str(condition.get("type", "")).lower() == name.lower():
                    return str(condition.get("status", "")).lower() == wanted.lower()
            return False
        return has
    if kind == "jsonpath":
        path, sep, value = rest.rpartition("=") if not rest.endswith("}") else (rest, "", "")
        steps = jsonpath.relaxed(path if sep else rest)

        def matches(obj: dict[str, Any] | None) -> bool:
            found = jsonpath.find(obj or {}, steps) if obj is not None else []
            if not sep:
                return bool(found)
            return any(jsonpath.format_value(v) == value for v in found)
        return matches
    raise KubectlError(f"unrecognized condition: {spec!r}")


async def wait(session: Session, args: list[str], *, condition: str, limit: float | None, selector: str | None,
               all_: bool) -> int:
    from hyperkube.kubectl.delete import DeleteOptions, targets

    predicate = _condition_check(condition)
    chosen, _ = await targets(session, args, DeleteOptions(selector=selector, all=all_))
    if not chosen:
        raise KubectlError("no matching resources found")
    for target in chosen:
        ref = f"{kind_prefix(target.resource.kind, target.resource.group)}/{target.name}"
        try:
            await follow(session, target.resource, target.name, target.namespace,
                         lambda obj: (predicate(obj), ""), limit if limit is not None else 30.0)
        except TimeoutError as error:
            raise KubectlError(f"timed out waiting for the condition on {target.resource.name}/{target.name}") \
                from error
        print(f"{ref} condition met", flush=True)
    return 0


async def pause(session: Session, args: list[str], *, paused: bool) -> int:
    """``rollout pause|resume``: set ``spec.paused`` (kubectl says when nothing changes)."""
    resource, name = await _target(session, args)
    if resource.kind != "Deployment":
        raise KubectlError(f"{kind_prefix(resource.kind, resource.group)}/{name} is not a deployment")
    namespace = session.namespace if resource.namespaced else None
    current = await session.client.get(resource, name, namespace=namespace)
    ref = f"{kind_prefix(resource.kind, resource.group)}/{name}"
    verb = "paused" if paused else "resumed"
    if bool((current.get("spec") or {}).get("paused")) == paused:
        qualified = f"{resource.name}.{resource.group}" if resource.group else resource.name
        raise KubectlError(f'{qualified} "{name}" ' + ("is already paused" if paused else "is not paused"))
    await session.client.patch(resource, name, {"spec": {"paused": paused or None}}, namespace=namespace,
                               patch_type="merge", field_manager="kubectl-rollout")
    print(f"{ref} {verb}")
    return 0
