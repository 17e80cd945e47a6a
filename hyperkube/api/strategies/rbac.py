"""rbac.authorization.k8s.io/v1: Roles, ClusterRoles and their bindings.

RBAC names only need to be usable as a URL path segment (``system:controller:foo`` is fine),
and none of these kinds has status or generation.
"""

from __future__ import annotations

from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import Causes, PlainStrategy, dicts, get, mapping, text
from hyperkube.api.strategies.common import age, selector_is_empty, validate_label_selector
from hyperkube.api.strategies.core import CREATED_AT, created_at_row
from hyperkube.machinery import validation as v

RBAC_GROUP = "rbac.authorization.k8s.io"


class _RBACStrategy(PlainStrategy):
    name_check = staticmethod(v.path_segment_name)  # type: ignore[assignment]


def validate_rules(rules: Any, *, namespaced: bool) -> Causes:
    out: Causes = []
    for i, rule in enumerate(dicts(rules)):
        if not isinstance(rule, dict):
            continue
        p = f"rules[{i}]"
        if not rule.get("verbs"):
            out.append(v.required(f"{p}.verbs", "verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            if namespaced:
                out.append(v.invalid(f"{p}.nonResourceURLs", rule["nonResourceURLs"],
                                     "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                out.append(v.invalid(f"{p}.nonResourceURLs", rule["nonResourceURLs"],
                                     "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            out.append(v.required(f"{p}.apiGroups", "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            out.append(v.required(f"{p}.resources", "resource rules must supply at least one resource"))
    return out


class RoleStrategy(_RBACStrategy):
    def validate_spec(self, obj: Object) -> Causes:
        return validate_rules(obj.get("rules"), namespaced=True)

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, CREATED_AT]

    def row(self, obj: Object, now: float) -> list[Any]:
        return created_at_row(obj)


class ClusterRoleStrategy(RoleStrategy):
    namespaced = False

    def validate_spec(self, obj: Object) -> Causes:
        out = validate_rules(obj.get("rules"), namespaced=False)
        aggregation = obj.get("aggregationRule")
        if isinstance(aggregation, dict):
            selectors = dicts(aggregation.get("clusterRoleSelectors"))
            if not selectors:
                out.append(v.required("aggregationRule.clusterRoleSelectors"))
            for i, selector in enumerate(selectors):
                out += validate_label_selector(selector, f"aggregationRule.clusterRoleSelectors[{i}]")
                if selector_is_empty(selector):
                    out.append(v.required(f"aggregationRule.clusterRoleSelectors[{i}]"))
        return out


class RoleBindingStrategy(_RBACStrategy):
    role_kinds: tuple[str, ...] = ("Role", "ClusterRole")

    def default(self, obj: Object) -> None:
        for subject in dicts(obj.get("subjects")):
            if isinstance(subject, dict) and "apiGroup" not in subject:
                subject["apiGroup"] = RBAC_GROUP if subject.get("kind") in ("User", "Group") else ""

    def validate_spec(self, obj: Object) -> Causes:
        out: Causes = []
        ref = obj.get("roleRef")
        if not isinstance(ref, dict):
            out.append(v.required("roleRef"))
        else:
            if ref.get("apiGroup") != RBAC_GROUP:
                out.append(v.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), (RBAC_GROUP,)))
            out += v.enum("roleRef.kind", ref.get("kind"), self.role_kinds, allow_empty=False)
            if not ref.get("name"):
                out.append(v.required("roleRef.name"))
            else:
                out += v.checked("roleRef.name", ref["name"], v.path_segment_name)
        for i, subject in enumerate(dicts(obj.get("subjects"))):
            if not isinstance(subject, dict):
                continue
            p = f"subjects[{i}]"
            kind = subject.get("kind")
            out += v.enum(f"{p}.kind", kind, ("ServiceAccount", "User", "Group"), allow_empty=False)
            if not subject.get("name"):
                out.append(v.required(f"{p}.name"))
            if kind == "ServiceAccount":
                if subject.get("apiGroup"):
                    out.append(v.not_supported(f"{p}.apiGroup", subject["apiGroup"], ("",)))
                if subject.get("name"):
                    out += v.checked(f"{p}.name", subject["name"], v.dns1123_subdomain)
                if not self.namespaced and not subject.get("namespace"):
                    out.append(v.required(f"{p}.namespace"))
            elif kind in ("User", "Group") and subject.get("apiGroup") != RBAC_GROUP:
                out.append(v.not_supported(f"{p}.apiGroup", subject.get("apiGroup", ""), (RBAC_GROUP,)))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        if new.get("roleRef") != old.get("roleRef"):
            return [v.invalid("roleRef", new.get("roleRef"), "cannot change roleRef")]
        return []

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Role", description="Role of the binding"), AGE_COLUMN,
                Column("Users", priority=1, description="Users in the binding"),
                Column("Groups", priority=1, description="Groups in the binding"),
                Column("ServiceAccounts", priority=1, description="ServiceAccounts in the binding")]

    def row(self, obj: Object, now: float) -> list[Any]:
        users, groups, accounts = [], [], []
        for subject in dicts(obj.get("subjects")):
            kind, name = subject.get("kind"), text(subject.get("name"))
            if kind == "User":
                users.append(name)
            elif kind == "Group":
                groups.append(name)
            elif kind == "ServiceAccount":
                namespace = text(subject.get("namespace"))
                accounts.append(f"{namespace}/{name}" if namespace else name)
        ref = mapping(obj.get("roleRef"))
        return [get(obj, "metadata", "name", default=""), f"{ref.get('kind', '')}/{ref.get('name', '')}",
                age(obj, now), ", ".join(users), ", ".join(groups), ", ".join(accounts)]


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    namespaced = False
    role_kinds = ("ClusterRole",)
