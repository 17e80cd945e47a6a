"""Who may use the kubelet's server: TLS, authentication and authorization, as Kubernetes' kubelet.

With ``--tls-cert-file`` the kubelet serves HTTPS, and every request is:

1. **authenticated**: a client certificate signed by ``--client-ca-file`` names the user (CN)
   and groups (O); a bearer token is checked with the API server's TokenReview
   (``--authentication-token-webhook``); anything else is anonymous, which is refused with 401
   unless ``--anonymous-auth`` is set;
2. **authorized** (``--authorization-mode Webhook``): a SubjectAccessReview asks the API server
   whether the user may use the node's subresource the path maps to: ``/stats`` -> nodes/stats,
   ``/metrics`` -> nodes/metrics, ``/logs`` -> nodes/log, everything else (container logs too)
   (exec, attach, port-forward, run, pods) -> nodes/proxy, with the verb from the HTTP method.
   ``AlwaysAllow`` skips it.

Answers from the API server are cached (TokenReview 2 minutes; SubjectAccessReview 5 minutes
when allowed, 30 seconds when denied), as the kubelet's webhook defaults are. The API server
calls the kubelet with its ``--kubelet-client-certificate`` (CN kube-apiserver-kubelet-client,
group system:masters), which RBAC allows everything.

Without ``--tls-cert-file`` the server stays plain HTTP with no authentication, bound to the
node IP only (the behaviour before security existed; what tests of other parts use).
"""

from __future__ import annotations

import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from hyperkube.client import APIError, Client

log = logging.getLogger("hyperkube.kubelet.auth")

TOKEN_TTL = 120.0
ALLOWED_TTL = 300.0
DENIED_TTL = 30.0
_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_SUBRESOURCES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"),
                 ("/spec", "spec"))


@dataclass
class KubeletAuthConfig:
    tls_cert_file: str = ""
    tls_private_key_file: str = ""
    client_ca_file: str = ""
    anonymous_auth: bool = False
    authorization_mode: str = "Webhook"  # or AlwaysAllow
    token_webhook: bool = True

    @property
    def enabled(self) -> bool:
        return bool(self.tls_cert_file)


@dataclass(frozen=True)
class Caller:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""


ANONYMOUS = Caller("system:anonymous", ("system:unauthenticated",))


def server_ssl_context(config: KubeletAuthConfig) -> ssl.SSLContext:
    """TLS for the kubelet's port: its serving certificate; client certificates asked for and,
    when given, verified against the client CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert_file, config.tls_private_key_file or None)
    if config.client_ca_file:
        context.load_verify_locations(config.client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def subject_of(der: bytes) -> Caller:
    from cryptography import x509

    from hyperkube.machinery.pki import identity

    user, groups = identity(x509.load_der_x509_certificate(der))
    return Caller(user, (*groups, "system:authenticated"))


def node_subresource(path: str) -> str:
    for prefix, subresource in _SUBRESOURCES:
        if path == prefix or path.startswith(prefix + "/"):
            return subresource
    return "proxy"


class Refused(Exception):
    """A request the kubelet will not serve: answered with this Status."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.response = web.Response(status=code, content_type="application/json", body=orjson.dumps({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}))


def _refuse(code: int, reason: str, message: str) -> Refused:
    return Refused(code, reason, message)


class KubeletAuth:
    def __init__(self, client: Client, config: KubeletAuthConfig, node_name: str) -> None:
        self.client = client
        self.config = config
        self.node_name = node_name
        self._tokens: dict[str, tuple[float, Caller | None]] = {}
        self._decisions: dict[tuple[Caller, str, str], tuple[float, bool, str]] = {}

    async def authenticate(self, request: web.Request) -> Caller:
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            return subject_of(der)
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer " and self.config.token_webhook:
            caller = await self._review_token(header[7:].strip())
            if caller is None:
                raise _refuse(401, "Unauthorized", "Unauthorized")
            return caller
        if self.config.anonymous_auth:
            return ANONYMOUS
        raise _refuse(401, "Unauthorized", "Unauthorized")

    async def _review_token(self, token: str) -> Caller | None:
        now = time.monotonic()
        cached = self._tokens.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        try:
            answer = await self.client.create("authentication.k8s.io/v1/tokenreviews", review)
        except APIError as error:
            log.warning("TokenReview failed: %s", error)
            return None
        status = answer.get("status") or {}
        caller = None
        if status.get("authenticated"):
            user = status.get("user") or {}
            caller = Caller(str(user.get("username") or ""), tuple(user.get("groups") or ()), str(user.get("uid") or ""))
        if len(self._tokens) > 4096:
            self._tokens.clear()
        self._tokens[token] = (now + TOKEN_TTL, caller)
        return caller

    async def authorize(self, caller: Caller, request: web.Request) -> None:
        if self.config.authorization_mode == "AlwaysAllow":
            return
        verb = _VERBS.get(request.method, request.method.lower())
        subresource = node_subresource(request.path)
        key = (caller, verb, subresource)
        now = time.monotonic()
        cached = self._decisions.get(key)
        if cached is None or cached[0] <= now:
            allowed, reason = await self._review_access(caller, verb, subresource)
            if len(self._decisions) > 4096:
                self._decisions.clear()
            cached = self._decisions[key] = (now + (ALLOWED_TTL if allowed else DENIED_TTL), allowed, reason)
        if not cached[1]:
            raise _refuse(403, "Forbidden", f"Forbidden (user={caller.name}, verb={verb}, resource=nodes, "
                                            f"subresource={subresource})")

    async def _review_access(self, caller: Caller, verb: str, subresource: str) -> tuple[bool, str]:
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
            "user": caller.name, "groups": list(caller.groups), "uid": caller.uid,
            "resourceAttributes": {"verb": verb, "resource": "nodes", "subresource": subresource,
                                   "name": self.node_name}}}
        try:
            answer = await self.client.create("authorization.k8s.io/v1/subjectaccessreviews", review)
        except APIError as error:
            log.warning("SubjectAccessReview failed: %s", error)
            return False, str(error)
        status = answer.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")

    def middleware(self) -> Any:
        @web.middleware
        async def check(request: web.Request, handler: Any) -> web.StreamResponse:
            try:
                caller = await self.authenticate(request)
                await self.authorize(caller, request)
            except Refused as refused:
                return refused.response
            return await handler(request)

        return check
