"""Service account tokens: issued by TokenRequest, verified on every request and by TokenReview.

Two shapes of JWT are accepted, both signed ES256 or RS256 (``hyperkube.machinery.jwt``) and
checked against ``--service-account-key-file`` (plus the signing key's own public half):

- **bound tokens** (TokenRequest, projected volumes): ``iss`` = ``--service-account-issuer``,
  ``aud`` a list that must meet the audiences asked for (``--api-audiences``, default the
  issuer), ``exp``/``nbf``/``iat``, ``sub`` = ``system:serviceaccount:<ns>:<name>`` and a
  ``kubernetes.io`` claim naming the namespace, the service account (name, uid) and optionally
  the pod or secret the token is bound to. The account, and the bound object, must still exist
  with the same uid: deleting the pod revokes the token.
- **legacy tokens** (Secrets of type ``kubernetes.io/service-account-token``, minted by the
  tokens controller): ``iss`` = ``kubernetes/serviceaccount`` and the flat
  ``kubernetes.io/serviceaccount/...`` claims; valid while the Secret exists holding exactly
  this token and the account still has the recorded uid. They carry no audience, so they are
  good for the API's own audiences only.

A token whose issuer is neither is "not ours" (None): another authenticator may know it.
A token that is ours but fails any check raises :class:`Rejected` with the reason.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Sequence
from typing import Any

from hyperkube.apiserver.auth import AUTHENTICATED, User
from hyperkube.machinery import errors, jwt

LEGACY_ISSUER = "kubernetes/serviceaccount"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
PREFIX = "system:serviceaccount:"
LEEWAY = 60  # seconds of clock skew tolerated on exp/nbf/iat, as Kubernetes allows
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


class Rejected(Exception):
    """A credential this authenticator owns that is invalid (bad signature, expired, revoked)."""


def service_account_user(namespace: str, name: str, uid: str = "",
                         extra: dict[str, tuple[str, ...]] | None = None) -> User:
    return User(f"{PREFIX}{namespace}:{name}", uid,
                (SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}", AUTHENTICATED), extra or {})


class ServiceAccountTokens:
    """Issues and verifies service account JWTs for one API server."""

    def __init__(self, objects: Any, signing_key: jwt.PrivateKey, public_keys: Sequence[jwt.PublicKey],
                 issuer: str, api_audiences: Sequence[str]) -> None:
        self.objects = objects
        self.signing_key = signing_key
        self.public_keys = list(public_keys)
        self.issuer = issuer
        self.api_audiences = list(api_audiences)

    # -- issuing ---------------------------------------------------------------------------------

    def issue(self, namespace: str, account: dict[str, Any], audiences: Sequence[str], expiration_seconds: int,
              bound: dict[str, Any] | None = None, now: float | None = None) -> tuple[str, int]:
        """A bound token for ``account`` (a ServiceAccount object) and its expiry (unix time).
        ``bound``: the Pod or Secret object the token dies with."""
        issued = int(now if now is not None else time.time())
        expires = issued + expiration_seconds
        metadata = account.get("metadata") or {}
        private: dict[str, Any] = {"namespace": namespace,
                                   "serviceaccount": {"name": metadata.get("name", ""), "uid": metadata.get("uid", "")}}
        if bound is not None:
            meta = bound.get("metadata") or {}
            private[bound["kind"].lower()] = {"name": meta.get("name", ""), "uid": meta.get("uid", "")}
            node = (bound.get("spec") or {}).get("nodeName") if bound["kind"] == "Pod" else None
            if node:
                private["node"] = {"name": node}
        claims = {"iss": self.issuer, "sub": f"{PREFIX}{namespace}:{metadata.get('name', '')}",
                  "aud": list(audiences or self.api_audiences), "iat": issued, "nbf": issued, "exp": expires,
                  "jti": str(uuid.uuid4()), "kubernetes.io": private}
        return jwt.sign(claims, self.signing_key), expires

    # -- verifying -------------------------------------------------------------------------------

    async def authenticate_token(self, token: str, audiences: Sequence[str]) -> tuple[User, list[str]] | None:
        """(user, the audiences the token is good for among ``audiences``), None when not a
        service account token; :class:`Rejected` when it is one but invalid."""
        if not jwt.looks_like_jwt(token):
            return None
        try:
            _header, unverified = jwt.unverified_parts(token)
        except jwt.InvalidToken:
            return None
        issuer = unverified.get("iss")
        if issuer == LEGACY_ISSUER:
            claims = self._verified(token)
            return await self._legacy(token, claims), [a for a in audiences if a in self.api_audiences]
        if issuer != self.issuer:
            return None
        claims = self._verified(token)
        wanted = list(audiences or self.api_audiences)
        aud = claims.get("aud")
        have = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
        matching = [a for a in wanted if a in have]
        if not matching:
            raise Rejected("token audiences " + str(have) + " is invalid for the target audiences " + str(wanted))
        self._check_times(claims)
        return await self._bound(claims), matching

    def _verified(self, token: str) -> dict[str, Any]:
        try:
            return jwt.verify(token, self.public_keys)
        except jwt.InvalidToken as exc:
            raise Rejected(f"invalid bearer token, {exc}") from None

    @staticmethod
    def _check_times(claims: dict[str, Any]) -> None:
        now = time.time()
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not isinstance(exp, int | float):
            raise Rejected("token has no expiry")
        if now > exp + LEEWAY:
            raise Rejected("token has expired")
        if isinstance(nbf, int | float) and now + LEEWAY < nbf:
            raise Rejected("token is not valid yet")
        if isinstance(iat, int | float) and now + LEEWAY < iat:
            raise Rejected("token was issued in the future")

    async def _get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        resource = self.objects.registry.get("", "v1", plural)
        if resource is None:
            return None
        try:
            return await self.objects.get(resource, namespace, name)
        except errors.NotFound:
            return None

    async def _live(self, plural: str, namespace: str, reference: Any, what: str) -> dict[str, Any]:
        if not isinstance(reference, dict) or not reference.get("name"):
            raise Rejected(f"token names no {what}")
        obj = await self._get(plural, namespace, str(reference["name"]))
        uid = (obj or {}).get("metadata", {}).get("uid")
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            raise Rejected(f"{what} {namespace}/{reference['name']} has been deleted")
        if reference.get("uid") and uid != reference["uid"]:
            raise Rejected(f"{what} UID ({uid}) does not match claim ({reference['uid']})")
        return obj

    async def _bound(self, claims: dict[str, Any]) -> User:
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict) or not isinstance(private.get("namespace"), str):
            raise Rejected("token has no kubernetes.io claim")
        namespace = private["namespace"]
        account = private.get("serviceaccount") or {}
        if claims.get("sub") != f"{PREFIX}{namespace}:{account.get('name')}":
            raise Rejected("token subject does not match its service account")
        live = await self._live("serviceaccounts", namespace, account, "service account")
        extra: dict[str, tuple[str, ...]] = {}
        if "pod" in private:
            await self._live("pods", namespace, private["pod"], "pod")
            extra = {EXTRA_POD_NAME: (private["pod"]["name"],), EXTRA_POD_UID: (private["pod"].get("uid", ""),)}
        if "secret" in private:
            await self._live("secrets", namespace, private["secret"], "secret")
        if claims.get("jti"):
            extra[EXTRA_CREDENTIAL_ID] = (f"JTI={claims['jti']}",)
        return service_account_user(namespace, account["name"], live["metadata"].get("uid", ""), extra)

    async def _legacy(self, token: str, claims: dict[str, Any]) -> User:
        namespace = claims.get("kubernetes.io/serviceaccount/namespace")
        name = claims.get("kubernetes.io/serviceaccount/service-account.name")
        uid = claims.get("kubernetes.io/serviceaccount/service-account.uid")
        secret_name = claims.get("kubernetes.io/serviceaccount/secret.name")
        if not all(isinstance(v, str) and v for v in (namespace, name, secret_name)):
            raise Rejected("token lacks the service account claims")
        if claims.get("sub") != f"{PREFIX}{namespace}:{name}":
            raise Rejected("token subject does not match its service account")
        secret = await self._get("secrets", namespace, secret_name)
        stored = ((secret or {}).get("data") or {}).get("token") or ""
        try:
            stored_token = base64.b64decode(stored).decode()
        except ValueError:
            stored_token = ""
        if secret is None or stored_token != token:
            raise Rejected(f"token secret {namespace}/{secret_name} does not exist or no longer holds this token")
        live = await self._live("serviceaccounts", namespace, {"name": name, "uid": uid}, "service account")
        return service_account_user(namespace, name, live["metadata"].get("uid", ""))
