"""TokenRequest and TokenReview: issuing service account tokens and checking any bearer token.

``POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`` (authentication.k8s.io/v1
TokenRequest, what ``kubectl create token`` and the kubelet's projected volumes send): the
spec's ``audiences`` (default: the API audiences), ``expirationSeconds`` (default 3600, at
least 600) and an optional ``boundObjectRef`` (a Pod or Secret of the same namespace, whose
deletion revokes the token). The answer is the request with ``status.token`` and
``status.expirationTimestamp``; nothing is stored.

``POST /apis/authentication.k8s.io/v1/tokenreviews`` (what a kubelet or webhook asks): the
token in ``spec.token`` goes through the same token authenticators as a request's bearer
token, for ``spec.audiences`` (default the API audiences); ``status`` says who it is, or why
not. Both are create-only virtual resources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hyperkube.apiserver import bodies, protobuf_bodies
from hyperkube.apiserver.authn import AUTHENTICATION, Rejected
from hyperkube.machinery import errors
from hyperkube.machinery.durations import now_rfc3339

if TYPE_CHECKING:
    from hyperkube.apiserver import paths
    from hyperkube.apiserver.handlers import RestAPI

GROUP = "authentication.k8s.io"
API_VERSION = f"{GROUP}/v1"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 1 << 32
BOUND_KINDS = {"Pod": "pods", "Secret": "secrets"}


async def _review_body(request: web.Request, kind: str) -> dict[str, Any]:
    request["verb"] = "create"
    if request.method != "POST":
        raise errors.MethodNotAllowed(f"the server does not allow this method on the requested resource "
                                      f"({request.method})")
    data, content_type = await bodies.read_body(request), request.headers.get("Content-Type")
    if bodies.media_type(content_type) == protobuf_bodies.PROTOBUF:  # kubectl create token
        body = protobuf_bodies.decode_object(data, API_VERSION, kind)
    else:
        body = bodies.decode_object(data, content_type)
    if body.get("kind") not in (None, "", kind) or body.get("apiVersion") not in (None, "", API_VERSION):
        raise errors.BadRequest(f"the body must be a {kind} of {API_VERSION}")
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    return {"kind": kind, "apiVersion": API_VERSION,
            "metadata": {**{k: v for k, v in metadata.items() if k in ("name", "namespace", "labels", "annotations")},
                         "creationTimestamp": None},
            "spec": spec}


def _invalid(name: str, field: str, message: str, reason: str = "FieldValueInvalid") -> errors.Invalid:
    return errors.Invalid.for_object("TokenRequest", name, [errors.cause(field, message, reason)], GROUP)


async def token_request(api: RestAPI, request: web.Request, target: paths.Target) -> web.StreamResponse:
    review = await _review_body(request, "TokenRequest")
    spec = review["spec"]
    namespace, name = target.namespace, target.name
    expiration = spec.get("expirationSeconds", DEFAULT_EXPIRATION)
    if expiration is None:
        expiration = DEFAULT_EXPIRATION
    if not isinstance(expiration, int) or isinstance(expiration, bool):
        raise _invalid(name, "spec.expirationSeconds", f"Invalid value: {expiration!r}: must be an integer")
    if expiration < MIN_EXPIRATION:
        raise _invalid(name, "spec.expirationSeconds",
                       f"Invalid value: {expiration}: may not specify a duration less than 10 minutes")
    if expiration > MAX_EXPIRATION:
        raise _invalid(name, "spec.expirationSeconds",
                       f"Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds")
    audiences = spec.get("audiences")
    if audiences is not None and (not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences)):
        raise _invalid(name, "spec.audiences", "Invalid value: must be a list of strings")
    authentication = request.app[AUTHENTICATION]
    audiences = list(audiences or authentication.api_audiences)
    account = await api.objects.get(target.resource, namespace, name)  # 404 when the account is gone
    bound = await _bound_object(api, namespace, name, spec.get("boundObjectRef"))
    token, expires = authentication.tokens.issue(namespace, account, audiences, expiration, bound)
    review["metadata"].update(name=name, namespace=namespace)
    spec.update(audiences=audiences, expirationSeconds=expiration)
    if "boundObjectRef" not in spec:
        spec["boundObjectRef"] = None
    review["status"] = {"token": token, "expirationTimestamp": now_rfc3339(expires)}
    return bodies.json_response(review, 201)


async def _bound_object(api: RestAPI, namespace: str, name: str, reference: Any) -> dict[str, Any] | None:
    if not reference:
        return None
    if not isinstance(reference, dict):
        raise _invalid(name, "spec.boundObjectRef", "Invalid value: must be an object")
    kind = reference.get("kind")
    if not isinstance(kind, str) or kind not in BOUND_KINDS:
        raise _invalid(name, "spec.boundObjectRef.kind", f'Unsupported value: "{kind}": supported values: '
                       '"Pod", "Secret"', "FieldValueNotSupported")
    if reference.get("apiVersion") not in (None, "", "v1"):
        raise _invalid(name, "spec.boundObjectRef.apiVersion", f'Unsupported value: "{reference["apiVersion"]}": '
                       'supported values: "v1"', "FieldValueNotSupported")
    if not reference.get("name"):
        raise _invalid(name, "spec.boundObjectRef.name", "Required value", "FieldValueRequired")
    resource = api.context.registry.get("", "v1", BOUND_KINDS[kind])
    obj = await api.objects.get(resource, namespace, str(reference["name"]))
    uid = (obj.get("metadata") or {}).get("uid")
    if reference.get("uid") and reference["uid"] != uid:
        raise errors.Conflict.for_object(BOUND_KINDS[kind], str(reference["name"]),
                                         f"the UID in the bound object reference ({reference['uid']}) does not match "
                                         f"the UID in record. The object might have been deleted and then recreated")
    account = (obj.get("spec") or {}).get("serviceAccountName") or (obj.get("spec") or {}).get("serviceAccount") \
        or "default"
    if kind == "Pod" and account != name:
        raise errors.BadRequest(f'cannot bind token for serviceaccount "{name}" to pod running with different '
                                f'serviceaccount name "{account}"')
    return {**obj, "kind": kind}


def is_token_review(group: str, version: str, rest: str) -> bool:
    return group == GROUP and version == "v1" and rest.strip("/") == "tokenreviews"


async def token_review(request: web.Request) -> web.StreamResponse:
    review = await _review_body(request, "TokenReview")
    spec = review["spec"]
    token = spec.get("token")
    if not isinstance(token, str) or not token:
        raise errors.Invalid.for_object("TokenReview", "", [errors.cause(
            "spec.token", "Required value: token must be supplied", "FieldValueRequired")], GROUP)
    audiences = spec.get("audiences") if isinstance(spec.get("audiences"), list) else []
    authentication = request.app[AUTHENTICATION]
    try:
        user, matched = await authentication.authenticate_token(token, [str(a) for a in audiences])
    except Rejected as exc:
        review["status"] = {"user": {}, "error": f"[{exc}]"}
    else:
        review["status"] = {"authenticated": True, "user": user.to_dict(), "audiences": matched}
    return bodies.json_response(review, 201)
