"""Access reviews: ``kubectl auth can-i``, ``kubectl auth whoami``, and the kubelet's delegated checks.

Create-only virtual resources: nothing is stored, the answer is the request with its
``status`` filled in (201).

- ``authorization.k8s.io/v1 selfsubjectaccessreviews``: may the caller do X? (``can-i``)
- ``authorization.k8s.io/v1 selfsubjectrulesreviews``: what may the caller do in namespace N?
  (``can-i --list``), from RBAC; ``incomplete`` when another authorizer (Node) may allow more.
- ``authorization.k8s.io/v1 subjectaccessreviews`` (cluster-scoped) and
  ``namespaces/N/localsubjectaccessreviews``: may user U do X? (a kubelet or an aggregated API
  server authorizing its own callers).
- ``authentication.k8s.io/v1 selfsubjectreviews``: who am I? (``whoami``)

The caller is ``request["user"]`` (set by the security middleware, see auth.py); the answers
come from the API server's authorizer, which ``app.py`` puts on the application under
:data:`AUTHORIZER`. Without one (a bare application in a test) everything is allowed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from hyperkube.apiserver import bodies, protobuf_bodies
from hyperkube.apiserver.auth import ANONYMOUS, AlwaysAllow, Attributes, Decision, User
from hyperkube.machinery import errors

AUTHORIZER = web.AppKey("authorizer", object)

AUTHORIZATION, AUTHENTICATION = "authorization.k8s.io", "authentication.k8s.io"
#: (group, plural) -> (kind, versions)
REVIEWS = {
    (AUTHORIZATION, "selfsubjectaccessreviews"): ("SelfSubjectAccessReview", ("v1",)),
    (AUTHORIZATION, "selfsubjectrulesreviews"): ("SelfSubjectRulesReview", ("v1",)),
    (AUTHORIZATION, "subjectaccessreviews"): ("SubjectAccessReview", ("v1",)),
    (AUTHORIZATION, "localsubjectaccessreviews"): ("LocalSubjectAccessReview", ("v1",)),
    (AUTHENTICATION, "selfsubjectreviews"): ("SelfSubjectReview", ("v1", "v1beta1")),
}


def _target(rest: str) -> tuple[str, str]:
    """(namespace, plural) of a review path: ``plural`` or ``namespaces/N/localsubjectaccessreviews``."""
    parts = rest.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "namespaces" and parts[2] == "localsubjectaccessreviews":
        return parts[1], parts[2]
    if len(parts) == 1 and parts[0] != "localsubjectaccessreviews":
        return "", parts[0]
    return "", ""


def handles(group: str, version: str, rest: str) -> bool:
    found = REVIEWS.get((group, _target(rest)[1]))
    return found is not None and version in found[1]


def requester(request: web.Request) -> User:
    """Who sent the request: the authenticated user, or anonymous."""
    user = request.get("user")
    return user if isinstance(user, User) else ANONYMOUS


def authorizer_of(request: web.Request) -> Any:
    return request.app.get(AUTHORIZER) or AlwaysAllow()


def review_attributes(user: User, spec: dict[str, Any], kind: str, group: str) -> Attributes:
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if isinstance(resource, dict) == isinstance(non_resource, dict):
        raise errors.Invalid.for_object(kind, "", [errors.cause(
            "spec.resourceAttributes", "Invalid value: exactly one of nonResourceAttributes or "
            "resourceAttributes must be specified")], group)
    if isinstance(non_resource, dict):
        return Attributes(user, str(non_resource.get("verb") or ""), str(non_resource.get("path") or ""), False)
    assert isinstance(resource, dict)
    return Attributes(user, str(resource.get("verb") or ""), "", True, str(resource.get("group") or ""),
                      str(resource.get("version") or ""), str(resource.get("resource") or ""),
                      str(resource.get("subresource") or ""), str(resource.get("namespace") or ""),
                      str(resource.get("name") or ""))


async def access_status(authorizer: Any, attributes: Attributes) -> dict[str, Any]:
    decision, reason = await authorizer.authorize(attributes)
    status: dict[str, Any] = {"allowed": decision is Decision.ALLOW}
    if decision is Decision.DENY:
        status["denied"] = True
    if reason:
        status["reason"] = reason
    return status


def rules_status(authorizer: Any, user: User, namespace: str) -> dict[str, Any]:
    """SelfSubjectRulesReview's status: RBAC's rules for ``user`` in ``namespace``."""
    rbac = getattr(authorizer, "rbac", None)
    modes = getattr(authorizer, "modes", ["AlwaysAllow"] if isinstance(authorizer, AlwaysAllow) else [])
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    if "AlwaysAllow" in modes:
        resource_rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
        non_resource_rules.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
    if rbac is not None:
        for rule in rbac.rules_for(user, namespace):
            source = rule.source
            if source.get("nonResourceURLs"):
                entry = {"verbs": source.get("verbs", []), "nonResourceURLs": source["nonResourceURLs"]}
                target = non_resource_rules
            else:
                entry = {key: source[key] for key in ("verbs", "apiGroups", "resources", "resourceNames")
                         if source.get(key)}
                target = resource_rules
            if entry not in target:
                target.append(entry)
    node_user = user.name.startswith("system:node:")
    return {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
            "incomplete": ("Node" in modes and node_user) or "AlwaysDeny" in modes}


async def handle(request: web.Request, group: str, version: str, rest: str) -> web.StreamResponse:
    url_namespace, plural = _target(rest)
    kind, _versions = REVIEWS[(group, plural)]
    request["verb"] = "create"
    if request.method != "POST":
        raise errors.MethodNotAllowed(f"the server does not allow this method on the requested resource "
                                      f"({request.method})")
    api_version = f"{group}/{version}"
    data = await bodies.read_body(request)
    content_type = request.headers.get("Content-Type")
    if bodies.media_type(content_type) == protobuf_bodies.PROTOBUF:
        review = protobuf_bodies.decode_object(data, api_version, kind)
    else:
        review = bodies.decode_object(data, content_type)
    if review.get("kind") not in (None, "", kind) or review.get("apiVersion") not in (None, "", api_version):
        raise errors.BadRequest(f"the body must be a {kind} of {api_version}")
    review["apiVersion"], review["kind"] = api_version, kind
    metadata = review.get("metadata")
    review["metadata"] = {k: v for k, v in metadata.items() if k in ("name", "generateName", "labels",
                                                                   "annotations")} \
        if isinstance(metadata, dict) else {}
    review["metadata"]["creationTimestamp"] = None
    if url_namespace:
        review["metadata"]["namespace"] = url_namespace
    user = requester(request)
    authorizer = authorizer_of(request)
    spec = review.get("spec") if isinstance(review.get("spec"), dict) else {}
    if kind == "SelfSubjectReview":
        review["status"] = {"userInfo": user.to_dict()}
    elif kind == "SelfSubjectRulesReview":
        review["status"] = rules_status(authorizer, user, str(spec.get("namespace") or ""))
    else:
        if kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
            user = _subject(spec, kind, group)
        attributes = review_attributes(user, spec, kind, group)
        if kind == "LocalSubjectAccessReview":
            if not attributes.resource_request or attributes.namespace not in ("", url_namespace):
                raise errors.BadRequest("spec.resourceAttributes.namespace must match namespace: "
                                        f"{url_namespace}")
            attributes = dataclasses.replace(attributes, namespace=url_namespace)
        review["status"] = await access_status(authorizer, attributes)
    return bodies.json_response(review, 201)


def _subject(spec: dict[str, Any], kind: str, group: str) -> User:
    if not spec.get("user") and not spec.get("groups"):
        raise errors.Invalid.for_object(kind, "", [errors.cause(
            "spec.user", 'Invalid value: "": at least one of user or group must be specified')], group)
    groups, extra = spec.get("groups") or [], spec.get("extra") or {}
    problems = []
    if not isinstance(spec.get("user") or "", str) or not isinstance(spec.get("uid") or "", str):
        problems.append(errors.cause("spec.user", "Invalid value: user and uid must be strings"))
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        problems.append(errors.cause("spec.groups", "Invalid value: must be a list of strings"))
    if not isinstance(extra, dict) or not all(
            isinstance(values, list) and all(isinstance(v, str) for v in values) for values in extra.values()):
        problems.append(errors.cause("spec.extra", "Invalid value: must map keys to lists of strings"))
    if problems:
        raise errors.Invalid.for_object(kind, "", problems, group)
    return User.from_dict({"username": spec.get("user") or "", "uid": spec.get("uid") or "",
                           "groups": groups, "extra": extra})
