"""The RBAC objects the API server itself keeps: the bootstrap policy and aggregated ClusterRoles.

**Bootstrap policy** (:func:`reconcile_bootstrap_policy`, at every start, as Kubernetes'
``rbac/bootstrap-roles`` post-start hook): each object of :mod:`.policy` is created when
missing; an existing one annotated ``rbac.authorization.kubernetes.io/autoupdate: "true"``
gets back the rules, subjects, labels and annotations it lacks (what a user added stays);
one whose annotation says ``"false"`` is left alone.

**Aggregation** (:class:`Aggregator`, Kubernetes' clusterrole-aggregation controller): the
rules of a ClusterRole with an ``aggregationRule`` are the union of the rules of every
ClusterRole its selectors match. It lives in the API server rather than in
``hyperkube/controllers/`` because it needs exactly the ClusterRole cache the RBAC authorizer
already keeps, and because admin/edit/view must hold their rules from the first request, also
when the API server runs without a controller-manager (``hyperkube apiserver`` alone).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from hyperkube.apiserver.authz import policy
from hyperkube.apiserver.authz.rbac import Roles
from hyperkube.machinery import errors
from hyperkube.machinery.selectors import label_selector_from_dict

log = logging.getLogger("hyperkube.apiserver.authz")


def _merge_missing(current: list[Any], wanted: list[Any]) -> list[Any]:
    return current + [item for item in wanted if item not in current]


def _reconciled(existing: dict[str, Any], wanted: dict[str, Any], aggregated: bool) -> dict[str, Any] | None:
    """``existing`` with what ``wanted`` adds, or None when nothing is missing."""
    updated = copy.deepcopy(existing)
    metadata = updated.setdefault("metadata", {})
    for field in ("labels", "annotations"):
        have = metadata.get(field) or {}
        metadata[field] = {**wanted["metadata"][field], **have}
    if "rules" in wanted and not aggregated:
        updated["rules"] = _merge_missing(list(updated.get("rules") or []), wanted["rules"])
    if "aggregationRule" in wanted:
        rule = updated.get("aggregationRule") or {}
        selectors = list(rule.get("clusterRoleSelectors") or [])
        updated["aggregationRule"] = {"clusterRoleSelectors": _merge_missing(
            selectors, wanted["aggregationRule"]["clusterRoleSelectors"])}
    if "subjects" in wanted:
        updated["subjects"] = _merge_missing(list(updated.get("subjects") or []), wanted["subjects"])
    return None if updated == existing else updated


async def reconcile_bootstrap_policy(objects: Any) -> dict[str, int]:
    """Create or complete every bootstrap object; the last revision written per plural."""
    registry = objects.registry
    written: dict[str, int] = {}
    for plural, wanted in policy.objects():
        resource = registry.get(policy.RBAC, "v1", plural)
        if resource is None:
            return written
        namespace = wanted["metadata"].get("namespace", "")
        name = wanted["metadata"]["name"]
        for _attempt in range(5):
            try:
                existing = await objects.get(resource, namespace, name)
            except errors.NotFound:
                try:
                    result = await objects.create(resource, namespace, copy.deepcopy(wanted))
                    written[plural] = _revision(result.obj)
                    break
                except errors.AlreadyExists:  # another API server on the same store was quicker
                    continue
            annotations = (existing.get("metadata") or {}).get("annotations") or {}
            if annotations.get(policy.AUTOUPDATE) == "false":
                break
            updated = _reconciled(existing, wanted, aggregated="aggregationRule" in wanted)
            if updated is None:
                break
            try:
                result = await objects.update(resource, namespace, name, updated)
                written[plural] = _revision(result.obj)
                break
            except errors.Conflict:
                continue
    return written


def _revision(obj: dict[str, Any]) -> int:
    return int((obj.get("metadata") or {}).get("resourceVersion") or 0)


class Aggregator:
    """Keeps aggregated ClusterRoles' rules equal to the union of the ClusterRoles they select.

    ``roles`` (the RBAC cache of ClusterRoles) calls :meth:`changed` on every change; one
    pass at a time runs, and a change during a pass asks for another."""

    def __init__(self, objects: Any, roles: Roles) -> None:
        self.objects = objects
        self.roles = roles
        self.resource = objects.registry.get(policy.RBAC, "v1", "clusterroles")
        self._dirty = False
        self.written = 0  # revision of the last write
        self._task: asyncio.Task[None] | None = None
        roles.on_change = self.changed

    def changed(self) -> None:
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="clusterrole-aggregation")

    def wanted_rules(self, role: dict[str, Any]) -> list[Any] | None:
        """The rules an aggregated ClusterRole should have; None for a role without aggregationRule."""
        rule = role.get("aggregationRule")
        if not isinstance(rule, dict):
            return None
        selectors = []
        for selector in rule.get("clusterRoleSelectors") or ():
            try:
                selectors.append(label_selector_from_dict(selector))
            except errors.APIError:
                continue
        name = (role.get("metadata") or {}).get("name")
        rules: list[Any] = []
        for (_, other_name), other in sorted(self.roles.objects.items()):
            if other_name == name or not any(s.matches_object(other) for s in selectors):
                continue
            for item in other.get("rules") or ():
                if item not in rules:
                    rules.append(item)
        return rules

    async def _run(self) -> None:
        while self._dirty:
            self._dirty = False
            for (_, name), role in list(self.roles.objects.items()):
                rules = self.wanted_rules(role)
                if rules is None or rules == (role.get("rules") or []):
                    continue
                updated = copy.deepcopy(role)
                updated["rules"] = rules
                try:
                    result = await self.objects.update(self.resource, "", name, updated)
                    self.written = max(self.written, _revision(result.obj))
                except (errors.Conflict, errors.NotFound):
                    self._dirty = True  # the cache will show the newer version: try again then
                    await asyncio.sleep(0.05)
                except Exception:
                    log.exception("cannot aggregate the rules of ClusterRole %s", name)

    async def settle(self) -> None:
        """Until no pass is pending (start-up waits for admin/edit/view to be filled)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
