"""``apply --prune``: delete what an earlier ``apply`` made and this one no longer names.

A candidate is an object of an allowlisted kind (``--prune-allowlist``, or kubectl's default
list below) that matches ``-l`` (or every one, with ``--all``), lives in a namespace this
apply wrote to (cluster-scoped kinds: anywhere), carries the last-applied-configuration
annotation (so ``apply`` made it) and is not one of the objects just applied. Namespaced
kinds are pruned first, then cluster-scoped ones, each in allowlist order, and each deletion
is printed ``secret/x pruned`` like kubectl.
"""

from __future__ import annotations

from typing import Any

from hyperkube.kubectl.printers import kind_prefix
from hyperkube.kubectl.session import KubectlError, Session

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEFAULT_ALLOWLIST = (
    "core/v1/ConfigMap", "core/v1/Endpoints", "core/v1/Namespace", "core/v1/PersistentVolumeClaim",
    "core/v1/PersistentVolume", "core/v1/Pod", "core/v1/ReplicationController", "core/v1/Secret", "core/v1/Service",
    "batch/v1/Job", "batch/v1/CronJob", "networking.k8s.io/v1/Ingress", "apps/v1/DaemonSet",
    "apps/v1/Deployment", "apps/v1/ReplicaSet", "apps/v1/StatefulSet",
)
NEEDS_SELECTOR = ("all resources selected for prune without explicitly passing --all. To prune all resources, "
                  "pass the --all flag. If you did not mean to prune all resources, specify a label selector")


def check(prune: bool, selector: str | None, all_: bool) -> None:
    if prune and not selector and not all_:
        raise KubectlError(NEEDS_SELECTOR)


async def _resources(session: Session, allowlist: tuple[str, ...]) -> list[Any]:
    found = []
    for entry in allowlist or DEFAULT_ALLOWLIST:
        parts = entry.split("/")
        if len(parts) != 3:
            raise KubectlError(f"invalid GroupVersionKind format: {entry}, please follow <group/version/kind>")
        group, version, kind = parts
        api_version = version if group in ("core", "") else f"{group}/{version}"
        try:
            found.append(await session.discovery.for_kind(api_version, kind))
        except Exception as error:  # noqa: BLE001 - kubectl: the server does not serve that kind
            raise KubectlError(f"invalid resource {entry}: {error}") from error
    return [r for r in found if r.namespaced] + [r for r in found if not r.namespaced]


async def prune(session: Session, applied: list[Any], *, selector: str | None, allowlist: tuple[str, ...],
                dry_run: str, done: Any) -> None:
    """Delete the leftovers; ``done(ref, obj)`` reports each (the caller prints)."""
    kept = {(item.resource.group, item.resource.kind, item.namespace or "", item.name) for item in applied}
    namespaces = sorted({item.namespace for item in applied if item.namespace})
    for resource in await _resources(session, allowlist):
        scopes: list[str | None] = list(namespaces) if resource.namespaced else [None]
        for namespace in scopes:
            listed = await session.client.list(resource, namespace=namespace, label_selector=selector)
            for obj in listed.get("items") or []:
                meta = obj.get("metadata") or {}
                key = (resource.group, resource.kind, meta.get("namespace") or "", meta.get("name"))
                if key in kept or LAST_APPLIED not in (meta.get("annotations") or {}):
                    continue
                if dry_run != "client":
                    await session.client.delete(resource, meta["name"], namespace=meta.get("namespace"),
                                                propagation_policy="Background", dry_run=dry_run == "server")
                obj = {**obj, "apiVersion": resource.group_version, "kind": resource.kind}
                done(f"{kind_prefix(resource.kind, resource.group)}/{meta.get('name')}", obj)
