"""RBAC PolicyRules, compiled once and matched against request attributes.

A stored rule (``{"verbs": [...], "apiGroups": [...], "resources": [...], "resourceNames":
[...], "nonResourceURLs": [...]}``) becomes a :class:`Rule` of frozensets when its role
changes, so a request is matched with a handful of set lookups. The matching is Kubernetes':

- ``*`` in verbs, apiGroups or resources matches anything;
- a resource is matched as ``resource`` or ``resource/subresource``; ``*/scale`` matches the
  ``scale`` subresource of every resource (``pods/*`` is *not* special, as in Kubernetes);
- resourceNames, when present, must contain the request's name (so a ``create``, which has
  no name in its URL, never matches a rule with resourceNames);
- nonResourceURLs match exactly, or by prefix when they end in ``*``.

:func:`covers` is the other half: whether one set of rules grants everything another set
does (the escalation check), by breaking the wanted rules into single permissions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hyperkube.apiserver.auth import Attributes

ALL = "*"


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


class Rule:
    """One compiled PolicyRule; ``source`` is the rule as stored (for reviews)."""

    __slots__ = ("verbs", "groups", "resources", "star_subresources", "names", "urls", "url_prefixes",
                 "all_verbs", "all_groups", "all_resources", "all_urls", "source")

    def __init__(self, source: Mapping[str, Any]) -> None:
        self.source = source
        self.verbs = frozenset(_strings(source.get("verbs")))
        self.groups = frozenset(_strings(source.get("apiGroups")))
        self.resources = frozenset(_strings(source.get("resources")))
        self.star_subresources = frozenset(r[2:] for r in self.resources if r.startswith("*/"))
        self.names = frozenset(_strings(source.get("resourceNames")))
        urls = _strings(source.get("nonResourceURLs"))
        self.urls = frozenset(u for u in urls if not u.endswith("*"))
        self.url_prefixes = tuple(u[:-1] for u in urls if u.endswith("*"))
        self.all_verbs = ALL in self.verbs
        self.all_groups = ALL in self.groups
        self.all_resources = ALL in self.resources
        self.all_urls = ALL in urls

    def allows(self, attributes: Attributes) -> bool:
        if not self.all_verbs and attributes.verb not in self.verbs:
            return False
        if not attributes.resource_request:
            path = attributes.path
            return self.all_urls or path in self.urls or any(path.startswith(p) for p in self.url_prefixes)
        if not self.all_groups and attributes.api_group not in self.groups:
            return False
        if not self.all_resources:
            subresource = attributes.subresource
            combined = f"{attributes.resource}/{subresource}" if subresource else attributes.resource
            if combined not in self.resources and not (subresource and subresource in self.star_subresources):
                return False
        return not self.names or attributes.name in self.names


def compile_rules(rules: Any) -> tuple[Rule, ...]:
    if not isinstance(rules, list):
        return ()
    return tuple(Rule(rule) for rule in rules if isinstance(rule, dict))


def allows(rules: Iterable[Rule], attributes: Attributes) -> bool:
    return any(rule.allows(attributes) for rule in rules)


# -- escalation: do the owner's rules cover the wanted ones? -----------------------------------

def _atoms(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A rule split into rules of one verb, group, resource and name (or one URL) each."""
    verbs = _strings(rule.get("verbs"))
    urls = _strings(rule.get("nonResourceURLs"))
    if urls:
        return [{"nonResourceURLs": [url], "verbs": [verb]} for url in urls for verb in verbs]
    names = _strings(rule.get("resourceNames"))
    out = []
    for group in _strings(rule.get("apiGroups")):
        for resource in _strings(rule.get("resources")):
            for verb in verbs:
                atom: dict[str, Any] = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                if names:
                    out.extend(dict(atom, resourceNames=[name]) for name in names)
                else:
                    out.append(atom)
    return out


def _rule_covers(owner: Rule, atom: Mapping[str, Any]) -> bool:
    verb = atom["verbs"][0]
    if not owner.all_verbs and verb not in owner.verbs:
        return False
    if "nonResourceURLs" in atom:
        url = atom["nonResourceURLs"][0]
        return owner.all_urls or url in owner.urls or any(
            url.startswith(p) for p in owner.url_prefixes) or (
            url.endswith("*") and any(url[:-1].startswith(p) for p in owner.url_prefixes))
    if not owner.all_groups and atom["apiGroups"][0] not in owner.groups:
        return False
    resource = atom["resources"][0]
    if not owner.all_resources and resource not in owner.resources:
        _, slash, subresource = resource.partition("/")
        if not slash or subresource not in owner.star_subresources:
            return False
    names = atom.get("resourceNames")
    return not owner.names or bool(names and names[0] in owner.names)


def missing_rules(owner: Iterable[Rule], wanted: Any) -> list[dict[str, Any]]:
    """The single permissions of ``wanted`` (stored rules) that no rule of ``owner`` grants."""
    owned = list(owner)
    missing = []
    for rule in wanted if isinstance(wanted, list) else ():
        if not isinstance(rule, dict):
            continue
        for atom in _atoms(rule):
            if not any(_rule_covers(o, atom) for o in owned):
                missing.append(atom)
    return missing


def compact(rule: Mapping[str, Any]) -> str:
    """Kubernetes' compact rule text: ``{APIGroups:[""], Resources:["pods"], Verbs:["get"]}``."""
    fields = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"),
                       ("resourceNames", "ResourceNames"), ("nonResourceURLs", "NonResourceURLs"),
                       ("verbs", "Verbs")):
        values = _strings(rule.get(key))
        if values:
            fields.append(f"{label}:[" + " ".join(f'"{v}"' for v in values) + "]")
    return "{" + ", ".join(fields) + "}"
