"""``set env``: change (or ``--list``) the environment of the containers in a pod template.

``set env TYPE/NAME KEY=value KEY2-`` sets and removes variables; ``--from=configmap/x`` or
``--from=secret/x`` adds one ``valueFrom`` reference per key (named as kubectl names them:
upper case, anything but ``[A-Za-z0-9_]`` turned into ``_``, after ``--prefix``); ``-c``
picks containers by glob. New variables are appended, existing ones replaced in place (unless
``--overwrite=false``). The changed object is written back with its resourceVersion, so a
concurrent change makes it fail instead of being lost.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from typing import Any

from hyperkube.kubectl.printers import kind_prefix
from hyperkube.kubectl.session import KubectlError, Session

_NOT_ENV = re.compile(r"[^A-Za-z0-9_]")


def pod_spec_of(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The pod spec inside a workload (the object's own spec for a Pod), or None."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return None
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    return template.get("spec") if isinstance(template, dict) else None


def env_name(key: str) -> str:
    return _NOT_ENV.sub("_", key).upper()


def _describe(var: dict[str, Any]) -> str:
    source = var.get("valueFrom")
    if not source:
        return f"{var.get('name')}={var.get('value', '')}"
    name = var.get("name")
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        return f"# {name} from configmap {ref.get('name')}, key {ref.get('key')}"
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        return f"# {name} from secret {ref.get('name')}, key {ref.get('key')}"
    if "fieldRef" in source:
        return f"# {name} from field path {source['fieldRef'].get('fieldPath')}"
    if "resourceFieldRef" in source:
        return f"# {name} from resource {source['resourceFieldRef'].get('resource')}"
    return f"# {name} from a source"


async def _from_source(session: Session, source: str, prefix: str) -> list[dict[str, Any]]:
    kind, _, name = source.partition("/")
    resource = await session.discovery.resolve(kind)
    if resource.kind not in ("ConfigMap", "Secret"):
        raise KubectlError(f"unsupported resource specified in --from: {source}")
    obj = await session.client.get(resource, name, namespace=session.namespace)
    keys = sorted(set(obj.get("data") or {}) | set(obj.get("binaryData") or {}))
    ref_kind = "configMapKeyRef" if resource.kind == "ConfigMap" else "secretKeyRef"
    for key in keys:
        if env_name(key) != key:
            print(f"Warning: key {key} transferred to {env_name(key)}", file=sys.stderr)
    return [{"name": prefix + env_name(key), "valueFrom": {ref_kind: {"key": key, "name": name}}} for key in keys]


def _split(args: list[str], env: tuple[str, ...]) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    resources: list[str] = []
    added: list[dict[str, Any]] = []
    removed: list[str] = []
    for arg in [*args, *env]:
        if "=" in arg:
            key, _, value = arg.partition("=")
            added.append({"name": key, "value": value})
        elif arg.endswith("-") and (resources or env):
            removed.append(arg[:-1])
        elif added or removed:
            raise KubectlError(f"all resources must be specified before environment changes: {arg}")
        else:
            resources.append(arg)
    return resources, added, removed


def _update(container: dict[str, Any], added: list[dict[str, Any]], removed: list[str], overwrite: bool,
            where: str) -> bool:
    env = [dict(v) for v in container.get("env") or [] if v.get("name") not in removed]
    changed = len(env) != len(container.get("env") or [])
    for var in added:
        index = next((i for i, v in enumerate(env) if v.get("name") == var["name"]), None)
        if index is None:
            env.append(var)
            changed = True
        elif env[index] != var:
            if not overwrite:
                raise KubectlError(f"{where} '{var['name']}' already has a value ({env[index].get('value', '')}), "
                                   "and --overwrite is false")
            env[index] = var
            changed = True
    if env:
        container["env"] = env
    else:
        container.pop("env", None)
    return changed


async def set_env(session: Session, args: list[str], *, selection: Any, env: tuple[str, ...], sources: tuple[str, ...],
                  prefix: str, containers: str, list_only: bool, overwrite: bool) -> int:
    from hyperkube.kubectl.delete import targets

    resources, added, removed = _split(args, env)
    for source in sources:
        added += await _from_source(session, source, prefix)
    chosen, _ = await targets(session, resources, selection)
    for target in chosen:
        obj = await session.client.get(target.resource, target.name, namespace=target.namespace)
        pod_spec = pod_spec_of(obj, target.resource.kind)
        ref = f"{kind_prefix(target.resource.kind, target.resource.group)}/{target.name}"
        if pod_spec is None:
            session.report(KubectlError(f"{ref} does not have a pod template"))
            continue
        matched = [c for field in ("initContainers", "containers") for c in pod_spec.get(field) or []
                   if fnmatch.fnmatchcase(c.get("name", ""), containers)]
        if list_only:
            for container in matched:
                print(f"# {target.resource.kind} {target.name}, container {container.get('name')}")
                for var in container.get("env") or []:
                    print(_describe(var))
            continue
        if not matched:
            print(f'Warning: {target.resource.kind}/{target.name} does not have any containers matching '
                  f'"{containers}"', file=sys.stderr)
            continue
        where = f"{target.resource.name}/{target.name}"
        if any([_update(c, added, removed, overwrite, where) for c in matched]):  # noqa: C419 - update them all
            await session.client.update(target.resource, obj, namespace=target.namespace,
                                        field_manager="kubectl-set")
            print(f"{ref} env updated")
    return 0
