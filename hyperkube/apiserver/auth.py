"""Who is asking and what they ask for: the contract between authentication, authorization,
admission and audit.

A request passes, in Kubernetes' order, through:

1. **authentication** (``hyperkube/apiserver/authn/``): an :class:`Authenticator` turns the
   request's credentials (client certificate, bearer token) into a :class:`User`. A request
   with no credentials is ``system:anonymous``; bad credentials are 401 at once. Requests on the
   plain-HTTP ``--insecure-port`` (loopback only) are :data:`INSECURE_SUPERUSER`, as in
   Kubernetes of the hyperkube era.
2. **authorization** (``hyperkube/apiserver/authz/``): the :class:`Attributes` of the request
   (Kubernetes' RequestInfo: verb, API group, resource, subresource, namespace, name, or a
   non-resource path) are put to an :class:`Authorizer`; anything but ALLOW is 403 with
   Kubernetes' message.
3. **admission** (``hyperkube/apiserver/admission/``): writes carry an
   :class:`AdmissionRequest` through mutating then validating :class:`AdmissionPlugin` s,
   called by ``objects.py``/``deletion.py``. The user reaches them through
   :data:`current_user`, a context variable the middleware sets, so the object layer needs no
   extra parameter.

The middleware is :func:`security_middleware`; ``app.py`` installs it inside the error
middleware, so every rejection is a Kubernetes Status.
"""

from __future__ import annotations

import contextvars
import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from hyperkube.machinery import errors

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
MASTERS = "system:masters"


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``userInfo`` of TokenReview, SubjectAccessReview and SelfSubjectReview."""
        body: dict[str, Any] = {"username": self.name}
        if self.uid:
            body["uid"] = self.uid
        if self.groups:
            body["groups"] = list(self.groups)
        if self.extra:
            body["extra"] = {k: list(v) for k, v in self.extra.items()}
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> User:
        extra = body.get("extra") or {}
        return cls(str(body.get("username") or body.get("user") or ""), str(body.get("uid") or ""),
                   tuple(body.get("groups") or ()), {k: tuple(v) for k, v in extra.items()})


ANONYMOUS = User("system:anonymous", groups=(UNAUTHENTICATED,))
INSECURE_SUPERUSER = User("system:unsecured", groups=(MASTERS, AUTHENTICATED))

#: The user of the request being served (set by :func:`security_middleware`). Code outside a
#: request (controllers inside the API server, bootstrap) sees :data:`INSECURE_SUPERUSER`.
current_user: contextvars.ContextVar[User] = contextvars.ContextVar("hyperkube_user", default=INSECURE_SUPERUSER)


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do, as Kubernetes' authorizer sees it."""

    user: User
    verb: str  # get list watch create update patch delete deletecollection; or get/post/... on a path
    path: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    NO_OPINION = "no-opinion"


class Authenticator(Protocol):
    async def authenticate(self, request: web.Request) -> User | None:
        """The user the request's credentials name; None when it carries none of this
        authenticator's kind; raise :class:`errors.Unauthorized` for bad or expired ones."""


class Authorizer(Protocol):
    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        """ALLOW, DENY or NO_OPINION, with the reason (shown after the 403 message)."""


class AlwaysAllow:
    """``--authorization-mode AlwaysAllow``: for tests and trusted single-user setups."""

    async def authorize(self, attributes: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""


@dataclass
class AdmissionRequest:
    """One write on its way to the store. Mutating plugins may change ``obj`` in place."""

    operation: str  # CREATE UPDATE DELETE CONNECT
    resource: Any  # hyperkube.api.registry.Resource
    subresource: str
    namespace: str
    name: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    user: User
    dry_run: bool = False


class AdmissionPlugin(Protocol):
    name: str

    async def admit(self, request: AdmissionRequest) -> None:
        """Mutate ``request.obj`` (defaults); raise an APIError to reject."""

    async def validate(self, request: AdmissionRequest) -> None:
        """Check the final object; raise an APIError (usually Forbidden or Invalid) to reject."""


# -- request attributes --------------------------------------------------------------------------

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
#: streams opened with a WebSocket GET that act like a POST: authorized as ``create`` (as
#: Kubernetes does since 1.30), so ``get pods/exec`` alone never opens a shell
_STREAMS = frozenset({"exec", "attach", "portforward"})
_WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def request_attributes(request: web.Request, user: User) -> Attributes:
    """Kubernetes' RequestInfo for ``request``: resource requests under /api and /apis, every
    other path a non-resource request whose verb is the lower-case HTTP method."""
    path = request.path
    parts = [p for p in path.split("/") if p]
    method = request.method
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        rest = []
    if not rest:  # /api, /apis, /api/v1, /apis/G, /apis/G/V, /healthz, /ui/ ...
        return Attributes(user, method.lower(), path, False)
    legacy_watch = rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    namespace = ""
    if len(rest) >= 2 and rest[0] == "namespaces":
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    query = request.query
    if method in ("GET", "HEAD"):
        watching = legacy_watch or query.get("watch", "").lower() in ("1", "true", "yes")  # as lists.py
        if watching:
            verb = "watch"
        else:
            verb = "get" if name else "list"
        if subresource in _STREAMS and resource == "pods":
            verb = "create"
        if not name and verb in ("list", "watch"):
            selector = query.get("fieldSelector", "")
            if selector.startswith("metadata.name=") and "," not in selector:
                name = selector.partition("=")[2]
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = _WRITE_VERBS.get(method, method.lower())
    return Attributes(user, verb, path, True, group, version, resource, subresource, namespace, name)


def forbidden_message(attributes: Attributes, reason: str = "") -> str:
    """Kubernetes' 403 wording, e.g. ``pods "x" is forbidden: User "u" cannot get resource
    "pods" in API group "" in the namespace "default"``."""
    user = attributes.user.name
    if not attributes.resource_request:
        message = f'forbidden: User "{user}" cannot {attributes.verb} path "{attributes.path}"'
    else:
        resource = attributes.resource + (f"/{attributes.subresource}" if attributes.subresource else "")
        qualified = attributes.resource + (f".{attributes.api_group}" if attributes.api_group else "")
        subject = f'{qualified} "{attributes.name}"' if attributes.name else qualified
        scope = (f'in the namespace "{attributes.namespace}"' if attributes.namespace
                 else "at the cluster scope")
        message = (f'{subject} is forbidden: User "{user}" cannot {attributes.verb} resource "{resource}" '
                   f'in API group "{attributes.api_group}" {scope}')
    return f"{message}: {reason}" if reason else message


def forbidden(attributes: Attributes, reason: str = "") -> errors.Forbidden:
    details: dict[str, Any] = {}
    if attributes.resource_request:
        details = {"kind": attributes.resource}
        if attributes.api_group:
            details["group"] = attributes.api_group
        if attributes.name:
            details["name"] = attributes.name
    return errors.Forbidden(forbidden_message(attributes, reason), details=details)


def unauthorized() -> errors.Unauthorized:
    return errors.Unauthorized("Unauthorized")


def is_secure(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def security_middleware(authenticator: Authenticator, authorizer: Authorizer) -> Any:
    """Authenticate, then authorize, every request on the secure port; the plain-HTTP port (off
    unless ``--insecure-port`` is given, loopback only) is the insecure superuser."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_secure(request):
            user = INSECURE_SUPERUSER
        else:
            user = await authenticator.authenticate(request) or ANONYMOUS
        request["user"] = user
        attributes = request_attributes(request, user)
        request["attributes"] = attributes
        if user is not INSECURE_SUPERUSER:
            decision, reason = await authorizer.authorize(attributes)
            if decision is not Decision.ALLOW:
                raise forbidden(attributes, reason)
        token = current_user.set(user)
        try:
            return await handler(request)
        finally:
            current_user.reset(token)

    return middleware
