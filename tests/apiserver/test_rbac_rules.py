"""PolicyRule matching and the escalation "covers" check, from Attributes alone."""

from __future__ import annotations

import pytest

from hyperkube.apiserver.auth import Attributes, User
from hyperkube.apiserver.authz.rules import Rule, compact, missing_rules

U = User("u")


def res(verb: str, resource: str, sub: str = "", name: str = "", group: str = "", namespace: str = "ns") -> Attributes:
    return Attributes(U, verb, "/x", True, group, "v1", resource, sub, namespace, name)


def path(verb: str, url: str) -> Attributes:
    return Attributes(U, verb, url, False)


@pytest.mark.parametrize("rule,attributes,allowed", [
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("list", "pods"), False),
    ({"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}, res("delete", "pods"), True),
    ({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["pods"]}, res("get", "pods"), False),
    ({"verbs": ["get"], "apiGroups": ["*"], "resources": ["deployments"]},
     res("get", "deployments", group="apps"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["*"]}, res("get", "pods", "log"), True),
    # a subresource is matched as resource/subresource, never by the bare resource
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods", "log"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, res("get", "pods", "log"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, res("get", "pods"), False),
    # */scale matches every resource's scale subresource; pods/* is not a wildcard
    ({"verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res("update", "deployments", "scale", group="apps"), True),
    ({"verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]}, res("update", "deployments"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/*"]}, res("get", "pods", "log"), False),
    # resourceNames
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]},
     res("get", "pods", name="a"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]},
     res("get", "pods", name="b"), False),
    ({"verbs": ["list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]},
     res("list", "pods"), False),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]},
     res("create", "pods"), False),
    # nonResourceURLs: exact, or a prefix ending in *
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, path("get", "/healthz"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, path("get", "/healthz/etcd"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]}, path("get", "/healthz/etcd"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz*"]}, path("get", "/healthzzz"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["*"]}, path("get", "/anything"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, path("post", "/healthz"), False),
    # a URL rule never allows a resource request, nor a resource rule a path
    ({"verbs": ["*"], "nonResourceURLs": ["*"]}, res("get", "pods"), False),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, path("get", "/healthz"), False),
])
def test_rule_matching(rule: dict, attributes: Attributes, allowed: bool) -> None:
    assert Rule(rule).allows(attributes) is allowed


def owner(*rules: dict) -> list[Rule]:
    return [Rule(r) for r in rules]


def test_covers_splits_wanted_rules_into_single_permissions() -> None:
    held = owner({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "configmaps"]},
                 {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]},
                 {"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]})
    assert missing_rules(held, [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "configmaps"]}]) == []
    assert missing_rules(held, [{"verbs": ["get", "delete"], "apiGroups": [""], "resources": ["pods"]}]) == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}]
    # a name-restricted grant covers only those names, never all
    assert missing_rules(held, [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"],
                                 "resourceNames": ["a"]}]) == []
    assert missing_rules(held, [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]) == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    assert missing_rules(held, [{"verbs": ["get"], "nonResourceURLs": ["/healthz/etcd", "/healthz/*"]}]) == []
    assert missing_rules(held, [{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}]) == [
        {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
    # a wildcard is only covered by a wildcard
    assert len(missing_rules(held, [{"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}])) == 1
    everything = owner({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
    assert missing_rules(everything, [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]) == []
    scale = owner({"verbs": ["update"], "apiGroups": ["apps"], "resources": ["*/scale"]})
    assert missing_rules(scale, [{"verbs": ["update"], "apiGroups": ["apps"], "resources": ["deployments/scale"]}]) == []


def test_compact_rule_text_is_kubernetes() -> None:
    assert compact({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]}) == (
        '{APIGroups:[""], Resources:["pods"], ResourceNames:["a"], Verbs:["get" "list"]}')
    assert compact({"verbs": ["get"], "nonResourceURLs": ["/x"]}) == '{NonResourceURLs:["/x"], Verbs:["get"]}'
