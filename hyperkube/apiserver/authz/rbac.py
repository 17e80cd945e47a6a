"""The RBAC authorizer: Roles, ClusterRoles and their bindings, answered from memory.

Four :class:`~hyperkube.apiserver.authz.mirror.Mirror` s follow the RBAC objects through the
API server's watch feeds. Roles are compiled into :class:`~.rules.Rule` s when they change;
bindings are indexed by subject (``u:<user name>`` or ``g:<group>``; a ServiceAccount subject
is the user ``system:serviceaccount:<ns>:<name>``) and by namespace. A decision then looks up
the user's name and groups in the cluster-wide index and, for a namespaced request, in that
namespace's index, and matches the referenced roles' rules: a few dict lookups and set
membership tests, no store read, no allocation beyond the subject keys.

Like Kubernetes, RBAC only ever allows: a request it does not allow is NO_OPINION, so another
authorizer (Node) may still allow it. A binding whose role does not exist (yet) grants nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hyperkube.apiserver.auth import Attributes, Decision, User
from hyperkube.apiserver.authz.mirror import Mirror
from hyperkube.apiserver.authz.rules import Rule, compile_rules

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
RBAC_GROUP = "rbac.authorization.k8s.io"
_EMPTY: dict[Any, Any] = {}


def service_account_user(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def subject_keys(user: User) -> list[str]:
    return ["u:" + user.name, *("g:" + group for group in user.groups)]


def _meta(obj: dict[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


class Roles:
    """Roles (or ClusterRoles) by (namespace, name): compiled rules, and the objects themselves."""

    def __init__(self, on_change: Any = None) -> None:
        self.rules: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self._names: dict[str, tuple[str, str]] = {}
        self.on_change = on_change

    def reset(self) -> None:
        self.rules.clear()
        self.objects.clear()
        self._names.clear()

    def put(self, key: str, obj: dict[str, Any]) -> None:
        ident = self._names[key] = _meta(obj)
        self.objects[ident] = obj
        self.rules[ident] = compile_rules(obj.get("rules"))
        if self.on_change is not None:
            self.on_change()

    def delete(self, key: str) -> None:
        ident = self._names.pop(key, None)
        if ident is not None:
            self.rules.pop(ident, None)
            self.objects.pop(ident, None)
            if self.on_change is not None:
                self.on_change()


class Bindings:
    """RoleBindings (or ClusterRoleBindings): namespace -> subject key -> binding -> role."""

    def __init__(self) -> None:
        self.by_subject: dict[str, dict[str, dict[str, tuple[str, str]]]] = {}
        self._indexed: dict[str, tuple[str, str, list[str]]] = {}  # store key -> (namespace, name, subjects)

    def reset(self) -> None:
        self.by_subject.clear()
        self._indexed.clear()

    def put(self, key: str, obj: dict[str, Any]) -> None:
        self.delete(key)
        namespace, name = _meta(obj)
        ref = obj.get("roleRef") or {}
        role = (str(ref.get("kind") or ""), str(ref.get("name") or ""))
        keys = []
        for subject in obj.get("subjects") or ():
            if not isinstance(subject, dict):
                continue
            kind, subject_name = subject.get("kind"), str(subject.get("name") or "")
            if kind == "User":
                keys.append("u:" + subject_name)
            elif kind == "Group":
                keys.append("g:" + subject_name)
            elif kind == "ServiceAccount":
                account_namespace = subject.get("namespace") or namespace
                if account_namespace:
                    keys.append("u:" + service_account_user(account_namespace, subject_name))
        index = self.by_subject.setdefault(namespace, {})
        for subject_key in keys:
            index.setdefault(subject_key, {})[name] = role
        self._indexed[key] = (namespace, name, keys)

    def delete(self, key: str) -> None:
        found = self._indexed.pop(key, None)
        if found is None:
            return
        namespace, name, keys = found
        index = self.by_subject.get(namespace, {})
        for subject_key in keys:
            bound = index.get(subject_key)
            if bound is not None:
                bound.pop(name, None)
                if not bound:
                    del index[subject_key]
        if not index:
            self.by_subject.pop(namespace, None)


class RBACAuthorizer:
    def __init__(self, hub: Any, prefixes: dict[str, str]) -> None:
        """``prefixes``: store key prefix of roles, clusterroles, rolebindings, clusterrolebindings."""
        self.roles = Roles()
        self.cluster_roles = Roles()
        self.bindings = Bindings()
        self.cluster_bindings = Bindings()
        self.mirrors = {plural: Mirror(hub, prefixes[plural], listener) for plural, listener in (
            ("roles", self.roles), ("clusterroles", self.cluster_roles),
            ("rolebindings", self.bindings), ("clusterrolebindings", self.cluster_bindings))}

    async def start(self) -> None:
        for mirror in self.mirrors.values():
            await mirror.start()

    async def close(self) -> None:
        for mirror in self.mirrors.values():
            await mirror.close()

    def _granted(self, user: User, namespace: str) -> Iterator[tuple[str, str, str, str, str, tuple[Rule, ...] | None]]:
        """(subject key, binding kind, binding name, role kind, role name, rules) of every binding that
        applies to ``user`` cluster-wide and, when given, in ``namespace``; rules are None when
        the role does not exist."""
        keys = subject_keys(user)
        cluster = self.cluster_bindings.by_subject.get("", _EMPTY)
        cluster_rules = self.cluster_roles.rules
        for key in keys:
            for binding, (_kind, role) in cluster.get(key, _EMPTY).items():
                yield key, "ClusterRoleBinding", binding, "ClusterRole", role, cluster_rules.get(("", role))
        if namespace:
            local = self.bindings.by_subject.get(namespace, _EMPTY)
            for key in keys:
                for binding, (kind, role) in local.get(key, _EMPTY).items():
                    rules = (self.roles.rules.get((namespace, role)) if kind == "Role"
                             else cluster_rules.get(("", role)))
                    yield key, "RoleBinding", f"{binding}/{namespace}", kind, role, rules

    def decide(self, attributes: Attributes) -> tuple[Decision, str]:
        namespace = attributes.namespace if attributes.resource_request else ""
        missing = []
        for key, binding_kind, binding, role_kind, role, rules in self._granted(attributes.user, namespace):
            if rules is None:
                missing.append(f'{role_kind.lower()}.{RBAC_GROUP} "{role}" not found')
                continue
            for rule in rules:
                if rule.allows(attributes):
                    subject = f'{"Group" if key[0] == "g" else "User"} "{key[2:]}"'
                    return Decision.ALLOW, (f'RBAC: allowed by {binding_kind} "{binding}" of {role_kind} '
                                            f'"{role}" to {subject}')
        if missing:  # as Kubernetes says why a binding granted nothing
            return Decision.NO_OPINION, "RBAC: " + ("[" + ", ".join(missing) + "]" if len(missing) > 1 else missing[0])
        return Decision.NO_OPINION, ""

    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return self.decide(attributes)

    def rules_for(self, user: User, namespace: str) -> list[Rule]:
        """Every rule granted to ``user`` cluster-wide and in ``namespace`` (rules reviews,
        escalation checks)."""
        return [rule for *_, rules in self._granted(user, namespace) for rule in rules or ()]

    def referenced_role(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored Role or ClusterRole a roleRef names, or None."""
        if kind == "Role":
            return self.roles.objects.get((namespace, name))
        return self.cluster_roles.objects.get(("", name))
