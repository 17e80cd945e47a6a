"""RBAC escalation prevention, as a validating admission plugin.

Kubernetes checks this in the RBAC storage: nobody may write a Role or ClusterRole with rules
they do not hold themselves, nor a RoleBinding or ClusterRoleBinding to a role whose rules they
do not hold, unless they have the ``escalate`` verb on that role (for roles) or ``bind`` on the
referenced role (for bindings). "Hold" means granted by RBAC in the object's namespace (and
cluster-wide). Members of ``system:masters`` (the admin, and the in-process superuser) may
always. The API server's own writes (bootstrap policy, aggregation) run as the superuser.

Setting an ``aggregationRule`` requires holding every permission, as in Kubernetes.
"""

from __future__ import annotations

from typing import Any

from hyperkube.apiserver.auth import MASTERS, AdmissionRequest, Attributes, Decision, User
from hyperkube.apiserver.authz import policy
from hyperkube.apiserver.authz.rbac import RBACAuthorizer
from hyperkube.apiserver.authz.rules import compact, missing_rules
from hyperkube.machinery import errors

_ROLE_KINDS = {"roles": "Role", "clusterroles": "ClusterRole"}
_BINDING_KINDS = {"rolebindings", "clusterrolebindings"}
_EVERYTHING = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}]


def _spec(obj: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (obj or {}).items() if k != "metadata"}


class RBACEscalationPlugin:
    """``RBACEscalation``: rejects RBAC writes that would grant what the writer lacks."""

    name = "RBACEscalation"

    def __init__(self, rbac: RBACAuthorizer, authorizer: Any) -> None:
        self.rbac = rbac
        self.authorizer = authorizer  # the whole chain: asked for escalate/bind

    async def admit(self, request: AdmissionRequest) -> None:
        return None

    async def validate(self, request: AdmissionRequest) -> None:
        resource = request.resource
        if getattr(resource, "group", None) != policy.RBAC or request.subresource:
            return
        plural = resource.plural
        if request.operation not in ("CREATE", "UPDATE") or request.obj is None:
            return
        if plural not in _ROLE_KINDS and plural not in _BINDING_KINDS:
            return
        user = request.user
        if MASTERS in user.groups:
            return
        if request.operation == "UPDATE" and _spec(request.obj) == _spec(request.old):
            return  # only metadata changed (labels, finalizers): nothing is granted
        obj, namespace = request.obj, request.namespace
        name = (obj.get("metadata") or {}).get("name") or request.name
        if plural in _ROLE_KINDS:
            if await self._may(user, "escalate", plural, namespace, name):
                return
            wanted = obj.get("rules")
            if plural == "clusterroles" and obj.get("aggregationRule"):
                wanted = _EVERYTHING
        else:
            ref = obj.get("roleRef") or {}
            kind, role_name = ref.get("kind", ""), ref.get("name", "")
            role_plural = "roles" if kind == "Role" else "clusterroles"
            if await self._may(user, "bind", role_plural, namespace, role_name):
                return
            role = self.rbac.referenced_role(kind, namespace, role_name)
            if role is None:
                raise self._forbidden(plural, name, f'{kind.lower()}s.{policy.RBAC} "{role_name}" not found')
            wanted = role.get("rules")
        missing = missing_rules(self.rbac.rules_for(user, namespace), wanted)
        if missing:
            groups = "[" + " ".join(f'"{g}"' for g in user.groups) + "]"
            raise self._forbidden(plural, name, f'user "{user.name}" (groups={groups}) is attempting to grant RBAC '
                                  "permissions not currently held:\n" + "\n".join(compact(r) for r in missing))

    async def _may(self, user: User, verb: str, plural: str, namespace: str, name: str) -> bool:
        attributes = Attributes(user, verb, "", True, policy.RBAC, "v1", plural, "", namespace, name)
        decision, _reason = await self.authorizer.authorize(attributes)
        return decision is Decision.ALLOW

    @staticmethod
    def _forbidden(plural: str, name: str, message: str) -> errors.Forbidden:
        return errors.Forbidden(f'{plural}.{policy.RBAC} "{name}" is forbidden: {message}',
                                details={"name": name, "group": policy.RBAC, "kind": plural})
