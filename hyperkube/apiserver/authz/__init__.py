"""Authorization: ``--authorization-mode`` (Node, RBAC, AlwaysAllow, AlwaysDeny).

:func:`build` returns one :class:`~hyperkube.apiserver.auth.Authorizer` (a :class:`Union`) that
asks the configured modes in order; the first ALLOW or DENY decides, and when none has an
opinion the request is refused with their reasons. With RBAC, :func:`build` also reconciles the
bootstrap policy and starts the ClusterRole aggregation (``reconcile.py``) before returning,
so the first request already sees cluster-admin, admin/edit/view and the system roles.

Modules::

    rules.py        compiled PolicyRules: matching, and "covers" for escalation checks
    mirror.py       one key prefix followed through the Hub's watch feeds (the authorizers' caches)
    rbac.py         the RBAC authorizer: roles compiled, bindings indexed by subject
    node.py         the Node authorizer and its pod graph
    escalation.py   the RBACEscalation admission plugin (see :func:`rbac_escalation_plugin`)
    policy.py       Kubernetes' bootstrap roles and bindings, as data
    reconcile.py    bootstrap reconciliation and the ClusterRole aggregation controller
"""

from __future__ import annotations

import asyncio
from typing import Any

from hyperkube.apiserver.auth import MASTERS, AlwaysAllow, Attributes, Authorizer, Decision
from hyperkube.apiserver.authz.escalation import RBACEscalationPlugin
from hyperkube.apiserver.authz.node import NodeAuthorizer
from hyperkube.apiserver.authz.rbac import RBACAuthorizer
from hyperkube.apiserver.authz.reconcile import Aggregator, reconcile_bootstrap_policy

MODES = ("AlwaysAllow", "AlwaysDeny", "Node", "RBAC")

__all__ = ["MODES", "AlwaysDeny", "Union", "build", "parse_modes", "rbac_escalation_plugin"]


class AlwaysDeny:
    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return Decision.DENY, "Everything is forbidden."


class Union:
    """The configured authorizers in order, behind Kubernetes' privileged-group rule: members of
    ``system:masters`` are allowed everything whatever the modes or the stored policy say (so a
    deleted cluster-admin binding cannot lock the admin out). ``rbac`` is the RBAC authorizer
    when enabled (rules reviews and the escalation plugin need it)."""

    def __init__(self, authorizers: list[Any], rbac: RBACAuthorizer | None = None,
                 node: NodeAuthorizer | None = None, aggregator: Aggregator | None = None) -> None:
        self.authorizers = authorizers
        self.rbac = rbac
        self.node = node
        self.aggregator = aggregator
        self.modes: list[str] = []

    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        if MASTERS in attributes.user.groups:
            return Decision.ALLOW, ""
        reasons = []
        for authorizer in self.authorizers:
            decision, reason = await authorizer.authorize(attributes)
            if decision is not Decision.NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(reason)
        return Decision.NO_OPINION, "\n".join(reasons)

    async def close(self) -> None:
        if self.aggregator is not None:
            await self.aggregator.close()
        for part in (self.rbac, self.node):
            if part is not None:
                await part.close()


def parse_modes(value: str) -> list[str]:
    modes = [mode.strip() for mode in value.split(",") if mode.strip()]
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown or not modes or len(set(modes)) != len(modes):
        raise ValueError(f"--authorization-mode {value!r}: a comma list of distinct modes from {', '.join(MODES)}")
    return modes


async def build(config: Any, objects: Any, hub: Any) -> Authorizer:
    modes = parse_modes(config.authorization_mode)
    if modes == ["AlwaysAllow"]:
        return AlwaysAllow()
    registry = objects.registry

    def prefix(group: str, plural: str) -> str:
        resource = registry.get(group, "v1", plural)
        if resource is None:
            raise ValueError(f"authorization needs {plural} in the registry")
        return str(objects.resource_prefix(resource))

    union = Union([])
    union.modes = modes
    for mode in modes:
        if mode == "AlwaysAllow":
            union.authorizers.append(AlwaysAllow())
        elif mode == "AlwaysDeny":
            union.authorizers.append(AlwaysDeny())
        elif mode == "Node":
            union.node = NodeAuthorizer(hub, prefix("", "pods"), prefix("", "persistentvolumeclaims"))
            await union.node.start()
            union.authorizers.append(union.node)
        else:
            rbac = RBACAuthorizer(hub, {plural: prefix("rbac.authorization.k8s.io", plural) for plural in (
                "roles", "clusterroles", "rolebindings", "clusterrolebindings")})
            union.aggregator = Aggregator(objects, rbac.cluster_roles)
            await rbac.start()
            written = await reconcile_bootstrap_policy(objects)
            async with asyncio.timeout(30):  # the first request sees the policy, aggregated
                for plural, revision in written.items():
                    await rbac.mirrors[plural].wait_for(revision)
                await union.aggregator.settle()
                await rbac.mirrors["clusterroles"].wait_for(union.aggregator.written)
            union.rbac = rbac
            union.authorizers.append(rbac)
    return union


def rbac_escalation_plugin(authorizer: Any) -> RBACEscalationPlugin | None:
    """The ``RBACEscalation`` validating admission plugin for the authorizer :func:`build`
    returned (``APIServer.authorizer``); None when RBAC is not enabled (nothing to escalate)."""
    rbac = getattr(authorizer, "rbac", None)
    if rbac is None:
        return None
    return RBACEscalationPlugin(rbac, authorizer)
