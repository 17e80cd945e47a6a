"""Access reviews: ``kubectl auth can-i`` and ``kubectl auth whoami``.

``POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`` (and the rules review) and
``POST /apis/authentication.k8s.io/v1/selfsubjectreviews`` are create-only virtual
resources: nothing is stored, the answer is the request with its ``status`` filled in.
Until authentication and authorization exist (a later issue), every request is the
anonymous user and everything is allowed; :func:`requester` and :func:`allowed` are the
two places that will ask the real authenticator and authorizer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hyperkube.apiserver import bodies, protobuf_bodies
from hyperkube.machinery import errors

ANONYMOUS = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}

#: (group, plural) -> (kind, versions)
REVIEWS = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"): ("SelfSubjectAccessReview", ("v1",)),
    ("authorization.k8s.io", "selfsubjectrulesreviews"): ("SelfSubjectRulesReview", ("v1",)),
    ("authentication.k8s.io", "selfsubjectreviews"): ("SelfSubjectReview", ("v1", "v1beta1")),
}


def handles(group: str, version: str, rest: str) -> bool:
    found = REVIEWS.get((group, rest.strip("/")))
    return found is not None and version in found[1]


def requester(request: web.Request) -> dict[str, Any]:
    """Who sent the request: anonymous until authentication exists."""
    if request.get("user") is not None:
        return request["user"].to_dict()
    return dict(ANONYMOUS, groups=list(ANONYMOUS["groups"]))


def allowed(user: dict[str, Any], attributes: dict[str, Any]) -> tuple[bool, str]:
    """Whether ``user`` may do what ``attributes`` describe: everything, until authorization exists."""
    return True, "no authorization is configured: every request is allowed"


async def handle(request: web.Request, group: str, version: str, rest: str) -> web.StreamResponse:
    kind, _versions = REVIEWS[(group, rest.strip("/"))]
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
    user = requester(request)
    if kind == "SelfSubjectReview":
        review["status"] = {"userInfo": user}
    elif kind == "SelfSubjectAccessReview":
        spec = review.get("spec") if isinstance(review.get("spec"), dict) else {}
        attributes = spec.get("resourceAttributes") or spec.get("nonResourceAttributes")
        if not isinstance(attributes, dict) or (spec.get("resourceAttributes") and spec.get("nonResourceAttributes")):
            raise errors.Invalid.for_object(kind, "", [errors.cause(
                "spec.resourceAttributes", "Invalid value: exactly one of nonResourceAttributes or "
                "resourceAttributes must be specified")], group)
        ok, reason = allowed(user, attributes)
        review["status"] = {"allowed": ok, "reason": reason} if ok else {"allowed": False, "denied": True,
                                                                          "reason": reason}
    else:  # SelfSubjectRulesReview: everything, as the authorizer says
        review["status"] = {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                            "incomplete": False}
    return bodies.json_response(review, 201)
