"""Authentication: client certificates, static tokens, service account JWTs, anonymous.

:func:`build` turns the API server's flags into one :class:`Authentication`, the
:class:`~hyperkube.apiserver.auth.Authenticator` the security middleware calls. In
Kubernetes' order:

1. a verified TLS client certificate (``credentials.ClientCertificates``);
2. a bearer token (``Authorization: Bearer``, or for WebSockets the
   ``base64url.bearer.authorization.k8s.io.<token>`` sub-protocol), tried against the static
   token file, then as a service account JWT (``serviceaccounts.ServiceAccountTokens``). A
   token nobody recognises, or one that is expired, forged, revoked or for another audience,
   is 401 ``Unauthorized`` at once, even when anonymous access is on;
3. no credentials: anonymous (None, which the middleware makes ``system:anonymous``), or 401
   with ``--anonymous-auth=false``.

:meth:`Authentication.authenticate_token` is the same token path for TokenReview
(``tokenreview.py``); ``tokenrequest.py`` issues tokens with :attr:`Authentication.tokens`.
The API server puts the :class:`Authentication` on its app under :data:`AUTHENTICATION`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from hyperkube.apiserver.auth import User, unauthorized
from hyperkube.apiserver.authn.credentials import ClientCertificates, StaticTokens
from hyperkube.apiserver.authn.serviceaccounts import Rejected, ServiceAccountTokens
from hyperkube.machinery import jwt, pki

log = logging.getLogger("hyperkube.apiserver.authn")

WEBSOCKET_TOKEN_PREFIX = "base64url.bearer.authorization.k8s.io."


class TokenAuthenticator(Protocol):
    async def authenticate_token(self, token: str, audiences: Sequence[str]) -> tuple[User, list[str]] | None: ...


def bearer_token(request: web.Request) -> str | None:
    """The request's bearer token, None without one."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        protocol = protocol.strip()
        if protocol.startswith(WEBSOCKET_TOKEN_PREFIX):
            try:
                return jwt.unb64url(protocol[len(WEBSOCKET_TOKEN_PREFIX):]).decode()
            except (ValueError, UnicodeDecodeError):
                return protocol  # undecodable: certainly not a valid token, so a 401 follows
    return None


class Authentication:
    def __init__(self, tokens: ServiceAccountTokens, token_authenticators: Sequence[TokenAuthenticator],
                 api_audiences: Sequence[str], *, anonymous: bool = True) -> None:
        self.tokens = tokens
        self.certificates = ClientCertificates()
        self.token_authenticators = list(token_authenticators)
        self.api_audiences = list(api_audiences)
        self.anonymous = anonymous

    async def authenticate(self, request: web.Request) -> User | None:
        user = await self.certificates.authenticate(request)
        if user is not None:
            return user
        token = bearer_token(request)
        if token is not None:
            try:
                return (await self.authenticate_token(token))[0]
            except Rejected as exc:
                log.debug("rejected a bearer token on %s %s: %s", request.method, request.path, exc)
                raise unauthorized() from None
        if not self.anonymous:
            raise unauthorized()
        return None

    async def authenticate_token(self, token: str, audiences: Sequence[str] = ()) -> tuple[User, list[str]]:
        """(user, audiences) for a bearer token; :class:`Rejected` (with the reason) otherwise."""
        wanted = list(audiences or self.api_audiences)
        for authenticator in self.token_authenticators:
            found = await authenticator.authenticate_token(token, wanted)
            if found is not None:
                if not found[1]:
                    raise Rejected(f"token audiences are invalid for the target audiences {wanted}")
                return found
        raise Rejected("invalid bearer token")


#: where the API server keeps its :class:`Authentication` (TokenRequest and TokenReview read it)
AUTHENTICATION = web.AppKey("hyperkube.authentication", Authentication)


def _load_keys(config: Any) -> tuple[jwt.PrivateKey, list[jwt.PublicKey]]:
    if config.service_account_signing_key_file:
        signing = pki.load_private_key(config.service_account_signing_key_file)
    else:
        signing = pki.generate_key()
        log.info("no --service-account-signing-key-file: service account tokens are signed with a key "
                 "that lasts as long as this process")
    public: list[jwt.PublicKey] = [signing.public_key()]
    for path in config.service_account_key_files:
        public.extend(pki.load_public_keys(path))
    return signing, public


async def build(config: Any, objects: Any) -> Authentication:
    """The authenticator the flags describe (files are read in a thread)."""
    issuer = config.service_account_issuer
    audiences = list(config.api_audiences) or [issuer]
    signing, public = await asyncio.to_thread(_load_keys, config)
    tokens = ServiceAccountTokens(objects, signing, public, issuer, audiences)
    token_authenticators: list[TokenAuthenticator] = []
    if config.token_auth_file:
        text = await asyncio.to_thread(Path(config.token_auth_file).read_text)
        token_authenticators.append(StaticTokens.parse(text, audiences, config.token_auth_file))
    token_authenticators.append(tokens)
    return Authentication(tokens, token_authenticators, audiences, anonymous=config.anonymous_auth)


__all__ = ["AUTHENTICATION", "Authentication", "Rejected", "bearer_token", "build"]
