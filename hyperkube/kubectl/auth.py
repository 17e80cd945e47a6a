"""``auth can-i`` and ``auth whoami``: questions the server answers about the caller.

``can-i VERB RESOURCE`` (or ``VERB RESOURCE/NAME``, or ``VERB /url``) posts a
SelfSubjectAccessReview and prints ``yes`` (exit 0) or ``no`` with the reason (exit 1);
``--list`` posts a SelfSubjectRulesReview for the namespace and prints its rules as kubectl's
table; ``whoami`` posts a SelfSubjectReview and prints the user. The resource is resolved
through discovery as kubectl's REST mapper does, and an unknown one is sent as typed, after
kubectl's warning. Only the Kubernetes API shape is assumed of the server.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hyperkube.kubectl.printers import tabulate
from hyperkube.kubectl.session import KubectlError, Session
from hyperkube.kubectl.yamlout import to_yaml

ACCESS_REVIEWS = "authorization.k8s.io/v1/selfsubjectaccessreviews"
RULES_REVIEWS = "authorization.k8s.io/v1/selfsubjectrulesreviews"
SELF_REVIEWS = "authentication.k8s.io/v1/selfsubjectreviews"
RESOURCE_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "use", "bind",
                  "impersonate", "*", "approve", "sign", "escalate", "attest"}
NON_RESOURCE_VERBS = {"get", "put", "post", "head", "options", "delete", "patch", "*"}


def _warn(message: str) -> None:
    print(f"Warning: {message}\n", file=sys.stderr, flush=True)


async def _resource_for(session: Session, text: str) -> tuple[str, str, bool | None]:
    """(group, plural, namespaced or None when discovery does not know it)."""
    if text == "*":
        return "", "*", None
    try:
        found = await session.discovery.resolve(text.lower())
    except Exception:  # noqa: BLE001 - kubectl warns and sends the name as typed
        _warn(f"the server doesn't have a resource type '{text}'")
        name, _, group = text.lower().partition(".")
        return group, name, None
    return found.group, found.name, found.namespaced


async def can_i(session: Session, args: list[str], *, all_namespaces: bool, subresource: str, quiet: bool,
                list_rules: bool, no_headers: bool) -> int:
    if list_rules:
        return await _list(session, no_headers=no_headers)
    if len(args) != 2:
        raise KubectlError("you must specify two arguments: verb resource or verb resource/resourceName.\n"
                           "See 'kubectl auth can-i -h' for help and examples.", raw=False)
    verb, target = args[0], args[1]
    namespace = "" if all_namespaces else session.namespace
    if target.startswith("/"):
        if subresource:
            raise KubectlError("--subresource can not be used with NonResourceURL")
        if verb not in NON_RESOURCE_VERBS:
            _warn(f"verb '{verb}' is not a known verb")
        spec: dict[str, Any] = {"nonResourceAttributes": {"path": target, "verb": verb}}
    else:
        kind, _, name = target.partition("/")
        group, plural, namespaced = await _resource_for(session, kind)
        if namespaced is False and not all_namespaces:
            _warn(f"resource '{plural}' is not namespace scoped"
                  + (f" in group '{group}'" if group else ""))
        if verb not in RESOURCE_VERBS:
            _warn(f"verb '{verb}' is not a known verb")
        attributes = {"namespace": namespace, "verb": verb, "group": group, "resource": plural,
                      "subresource": subresource, "name": name}
        spec = {"resourceAttributes": {k: v for k, v in attributes.items() if v}}
    review = await session.client.create(ACCESS_REVIEWS, {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "metadata": {}, "spec": spec})
    status = review.get("status") or {}
    if status.get("allowed"):
        if not quiet:
            print("yes")
        return 0
    if not quiet:
        line = "no"
        for extra in (status.get("reason"), status.get("evaluationError")):
            if extra:
                line += f" - {extra}"
        print(line)
    return 1


def _go_list(values: list[str] | None) -> str:
    return "[" + " ".join(values or []) + "]"


_FIELDS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


def _rule(**fields: list[str]) -> dict[str, list[str]]:
    return {name: sorted(fields.get(name) or []) for name in _FIELDS}


def _compacted(status: dict[str, Any]) -> list[dict[str, list[str]]]:
    """kubectl's presentation of a rules review: every rule broken down to one row per (group,
    resource[, name]) or URL, rows of one simple resource merged (their verbs appended), then
    a stable sort on the rule's Go text form (verbs first, then groups, resources, ...)."""
    broken: list[dict[str, list[str]]] = []
    for rule in status.get("resourceRules") or []:
        names = rule.get("resourceNames") or []
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                broken += [_rule(verbs=rule.get("verbs"), apiGroups=[group], resources=[resource],
                                 resourceNames=[name] if names else []) for name in names or [None]]
    for rule in status.get("nonResourceRules") or []:
        broken += [_rule(verbs=rule.get("verbs"), nonResourceURLs=[url]) for url in rule.get("nonResourceURLs") or []]
    compacted: list[dict[str, list[str]]] = []
    simple: dict[tuple[str, str, tuple[str, ...]], dict[str, list[str]]] = {}
    for rule in broken:
        if rule["nonResourceURLs"]:
            compacted.append(rule)
            continue
        key = (rule["apiGroups"][0], rule["resources"][0], tuple(rule["resourceNames"]))
        if key in simple:
            simple[key]["verbs"] = simple[key]["verbs"] + rule["verbs"]
        else:
            simple[key] = dict(rule)
    compacted += simple.values()
    return sorted(compacted, key=lambda r: "".join(f"{name}:{_go_list(r[name])}," for name in _FIELDS))


def _resource_column(rule: dict[str, list[str]]) -> str:
    if not rule["resources"]:
        return ""
    resource, _, sub = rule["resources"][0].partition("/")
    group = rule["apiGroups"][0] if rule["apiGroups"] else ""
    return resource + (f".{group}" if group else "") + (f"/{sub}" if sub else "")


async def _list(session: Session, *, no_headers: bool) -> int:
    review = await session.client.create(RULES_REVIEWS, {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "metadata": {},
        "spec": {"namespace": session.namespace}})
    status = review.get("status") or {}
    rows = [[_resource_column(rule), _go_list(rule["nonResourceURLs"]), _go_list(rule["resourceNames"]),
             _go_list(rule["verbs"])] for rule in _compacted(status)]
    header = [] if no_headers else [["Resources", "Non-Resource URLs", "Resource Names", "Verbs"]]
    sys.stdout.write(tabulate(header + rows))
    if status.get("incomplete"):
        print(f"The list may be incomplete: {status.get('evaluationError', '')}", file=sys.stderr)
    return 0


async def whoami(session: Session, *, output: str) -> int:
    review = await session.client.create(SELF_REVIEWS, {
        "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {}})
    if output in ("json", "yaml"):
        ordered = {"kind": review.get("kind"), "apiVersion": review.get("apiVersion"),
                   "metadata": {k: v for k, v in (review.get("metadata") or {}).items() if v is not None},
                   "status": review.get("status") or {}}
        sys.stdout.write(json.dumps(ordered, indent=4) + "\n" if output == "json" else to_yaml(ordered))
        return 0
    if output:
        raise KubectlError(f'unable to match a printer suitable for the output format "{output}", allowed formats '
                           "are: json,yaml")
    user = (review.get("status") or {}).get("userInfo") or {}
    rows = [["ATTRIBUTE", "VALUE"]]
    if user.get("username"):
        rows.append(["Username", user["username"]])
    if user.get("uid"):
        rows.append(["UID", user["uid"]])
    if user.get("groups"):
        rows.append(["Groups", _go_list(user["groups"])])
    for key in sorted(user.get("extra") or {}):
        rows.append([f"Extra: {key}", _go_list(user["extra"][key])])
    sys.stdout.write(tabulate(rows))
    return 0
