"""``rollout history`` and ``rollout undo``: the revisions a workload keeps, as kubectl reads them.

A Deployment's history is its ReplicaSets: each carries ``deployment.kubernetes.io/revision``
and, optionally, ``kubernetes.io/change-cause``; the template to roll back to is the
ReplicaSet's, less the ``pod-template-hash`` label. A DaemonSet's and a StatefulSet's history
is ControllerRevisions (``.revision``), whose ``data`` is a strategic merge patch that puts
the old template back. Only objects the workload controls (an ownerReference with its uid)
count. Revision 0 for ``undo`` means "the one before the current one".
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hyperkube.kubectl.describe import pod_template, selector_text
from hyperkube.kubectl.printers import kind_prefix, tabwrite
from hyperkube.kubectl.session import KubectlError, Session

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"
# annotations an undo keeps from the Deployment instead of taking them from the ReplicaSet
KEEP_ON_UNDO = {LAST_APPLIED, REVISION,
                "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
                "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to"}
KINDS = ("Deployment", "DaemonSet", "StatefulSet")


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return _meta(obj).get("annotations") or {}


async def _owned(session: Session, resource: str, owner: dict[str, Any]) -> list[dict[str, Any]]:
    meta = _meta(owner)
    found = await session.client.list(resource, namespace=meta.get("namespace"),
                                      label_selector=selector_text((owner.get("spec") or {}).get("selector")))
    return [item for item in found.get("items") or []
            if any(ref.get("uid") == meta.get("uid") and ref.get("controller")
                   for ref in _meta(item).get("ownerReferences") or [])]


class Revision:
    """One entry of a workload's history."""

    def __init__(self, number: int, template: dict[str, Any], source: dict[str, Any]) -> None:
        self.number, self.template, self.source = number, template, source

    @property
    def change_cause(self) -> str:
        return (_annotations(self.source).get(CHANGE_CAUSE)
                or ((self.template.get("metadata") or {}).get("annotations") or {}).get(CHANGE_CAUSE) or "")


def _revision_number(text: Any) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


async def revisions(session: Session, obj: dict[str, Any]) -> dict[int, Revision]:
    """The workload's revisions by number (a later duplicate number wins, as in kubectl)."""
    found: dict[int, Revision] = {}
    if obj.get("kind") == "Deployment":
        for rs in await _owned(session, "apps/v1/replicasets", obj):
            number = _revision_number(_annotations(rs).get(REVISION))
            if number is not None:
                found[number] = Revision(number, (rs.get("spec") or {}).get("template") or {}, rs)
        return found
    for history in await _owned(session, "apps/v1/controllerrevisions", obj):
        template = (((history.get("data") or {}).get("spec") or {}).get("template") or {})
        template = {k: v for k, v in template.items() if k != "$patch"}
        found[int(history.get("revision") or 0)] = Revision(int(history.get("revision") or 0), template, history)
    return found


async def _target(session: Session, args: list[str]) -> tuple[Any, dict[str, Any], str]:
    text = "/".join(args) if len(args) == 2 else (args[0] if args else "")
    kind, sep, name = text.partition("/")
    if not sep or not name:
        raise KubectlError("required resource not specified")
    resource = await session.discovery.resolve(kind)
    obj = await session.client.get(resource, name, namespace=session.namespace if resource.namespaced else None)
    return resource, obj, f"{kind_prefix(resource.kind, resource.group)}/{name}"


async def history(session: Session, args: list[str], *, revision: int) -> int:
    resource, obj, ref = await _target(session, args)
    if resource.kind not in KINDS:
        raise KubectlError(f"no history viewer has been implemented for {resource.kind}")
    found = await revisions(session, obj)
    if not found:
        body = "No rollout history found."
    elif revision > 0:
        if revision not in found:
            raise KubectlError("unable to find the specified revision")
        chosen = found[revision]
        template = chosen.template
        if chosen.change_cause:  # kubectl shows the change cause among the template's annotations
            meta = template.get("metadata") or {}
            annotations = {**(meta.get("annotations") or {}), CHANGE_CAUSE: chosen.change_cause}
            template = {**template, "metadata": {**meta, "annotations": annotations}}
        print(f"{ref} with revision #{revision}\n{pod_template(template)}")
        return 0
    else:
        lines = "REVISION\tCHANGE-CAUSE\n" + "".join(
            f"{number}\t{found[number].change_cause or '<none>'}\n" for number in sorted(found))
        body = tabwrite(lines)
    print(f"{ref} \n{body}")
    return 0


def _pick(found: dict[int, Revision], to_revision: int, current: int | None, none_message: str) -> Revision:
    if to_revision > 0:
        if to_revision not in found:
            raise KubectlError(f"unable to find specified revision {to_revision} in history")
        return found[to_revision]
    ordered = sorted(found)
    latest = current if current is not None else (ordered[-1] if ordered else None)
    earlier = [n for n in ordered if latest is None or n < latest]
    if not earlier:
        raise KubectlError(none_message)
    return found[earlier[-1]]


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HASH_LABEL}
    if labels or "labels" in meta:
        meta["labels"] = labels
    return {**template, "metadata": meta}


async def undo(session: Session, args: list[str], *, to_revision: int) -> int:
    resource, obj, ref = await _target(session, args)
    if resource.kind not in KINDS:
        raise KubectlError(f"no rollbacker has been implemented for {resource.kind}")
    namespace = _meta(obj).get("namespace")
    name = _meta(obj).get("name")
    if LAST_APPLIED in _annotations(obj):
        print(f"Warning: resource {resource.name}/{name} was previously managed with 'kubectl apply'. Rolling back "
              f"will not update the {LAST_APPLIED} annotation, which may cause unexpected behavior on future "
              "'kubectl apply' operations. Consider using 'kubectl apply' with your previous configuration file "
              "instead.", file=sys.stderr, flush=True)
    found = await revisions(session, obj)
    if resource.kind == "Deployment":
        if (obj.get("spec") or {}).get("paused"):
            raise KubectlError("you cannot rollback a paused deployment; resume it first with "
                               "'kubectl rollout resume' and try again")
        current = _revision_number(_annotations(obj).get(REVISION))
        target = _pick(found, to_revision, current, f'no rollout history found for deployment "{name}"')
        template = _without_hash(target.template)
        if _without_hash(template) == _without_hash((obj.get("spec") or {}).get("template") or {}):
            print(f"{ref} skipped rollback (current template already matches revision {target.number})")
            return 0
        annotations = {k: v for k, v in _annotations(obj).items() if k in KEEP_ON_UNDO}
        annotations.update({k: v for k, v in _annotations(target.source).items() if k not in KEEP_ON_UNDO})
        patch: Any = [{"op": "replace", "path": "/spec/template", "value": template},
                      {"op": "replace", "path": "/metadata/annotations", "value": annotations}]
        patch_type = "json"
    else:
        current = max(found) if found else None
        target = _pick(found, to_revision, current, "no last revision to roll back to")
        if _same_patch(obj, target.source):
            print(f"{ref} skipped rollback (current template already matches revision {target.number})")
            return 0
        patch, patch_type = target.source.get("data") or {}, "strategic"
    await session.client.patch(resource, name, patch, namespace=namespace, patch_type=patch_type,
                               field_manager="kubectl-rollout")
    print(f"{ref} rolled back")
    return 0


def _go_json(value: Any, *, sort: bool) -> str:
    """JSON as Go's encoder writes it (compact, ``<>&`` escaped); keys sorted as for a map."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=sort, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _same_patch(obj: dict[str, Any], history: dict[str, Any]) -> bool:
    """kubectl skips a DaemonSet/StatefulSet rollback when the patch the live template would
    make is byte for byte the revision's data (a map, so sorted keys, against the stored text)."""
    template = {**((obj.get("spec") or {}).get("template") or {}), "$patch": "replace"}
    return _go_json({"spec": {"template": template}}, sort=True) == _go_json(history.get("data"), sort=False)
