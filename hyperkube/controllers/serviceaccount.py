"""ServiceAccounts: a ``default`` account in every namespace, and legacy token Secrets.

:class:`ServiceAccountsController` (``serviceaccount``) watches namespaces and service
accounts; every active namespace gets a ServiceAccount named ``default``, put back if deleted.

:class:`TokensController` (``serviceaccount-token``) fills Secrets of type
``kubernetes.io/service-account-token`` that name an account in the
``kubernetes.io/service-account.name`` annotation: ``data.token`` (a JWT with Kubernetes'
legacy claims), ``data.namespace`` and, with ``--root-ca-file``, ``data["ca.crt"]``; it
records the account's uid in ``kubernetes.io/service-account.uid``. A token Secret whose
account is gone (or was recreated with another uid) is deleted, and deleting an account
deletes its token Secrets. The JWT is signed (ES256 or RS256, by the key's type) with
``--service-account-private-key-file``, the key whose public half the API server verifies with
(``--service-account-key-file``; ``sa.key`` of a generated PKI); without one a per-process key
signs tokens no API server accepts.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from typing import Any

from hyperkube.client import AlreadyExists, Conflict, NotFound, object_key
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import is_terminating, meta
from hyperkube.machinery import jwt, pki

log = logging.getLogger("hyperkube.controllers.serviceaccount")

NAMESPACES = "v1/namespaces"
SERVICE_ACCOUNTS = "v1/serviceaccounts"
SECRETS = "v1/secrets"
TOKEN_TYPE = "kubernetes.io/service-account-token"
NAME_ANNOTATION = "kubernetes.io/service-account.name"
UID_ANNOTATION = "kubernetes.io/service-account.uid"
ACCOUNT_INDEX = "serviceaccount-token-account"


class ServiceAccountsController(Controller):
    name = "serviceaccount"
    workers_option = "serviceaccount"
    default_workers = 5
    accounts = ("default",)

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces = ctx.factory.informer(NAMESPACES)
        self.service_accounts = ctx.factory.informer(SERVICE_ACCOUNTS)
        self.namespaces.add_event_handler(self._namespace, lambda old, new: self._namespace(new), None)
        self.service_accounts.add_event_handler(None, None, self._account_deleted)

    def _namespace(self, namespace: Object) -> None:
        if not is_terminating(namespace):
            self.enqueue(meta(namespace).get("name", ""))

    def _account_deleted(self, account: Object) -> None:
        if meta(account).get("name") in self.accounts:
            self.enqueue(meta(account).get("namespace", ""))

    async def sync(self, key: Any) -> None:
        namespace = self.namespaces.cache.get(key)
        if namespace is None or is_terminating(namespace) or \
                (namespace.get("status") or {}).get("phase") == "Terminating":
            return
        for name in self.accounts:
            if f"{key}/{name}" in self.service_accounts.cache:
                continue
            body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": key}}
            try:
                await self.client.create(SERVICE_ACCOUNTS, body, namespace=key)
            except AlreadyExists:
                pass
            except (NotFound, Conflict):
                pass  # the namespace is going (or gone): nothing to add


def account_index(secret: Object) -> list[str]:
    if secret.get("type") != TOKEN_TYPE:
        return []
    name = (meta(secret).get("annotations") or {}).get(NAME_ANNOTATION)
    return [f"{meta(secret).get('namespace', '')}/{name}"] if name else []


def legacy_token(key: jwt.PrivateKey, namespace: str, secret_name: str, account: Object) -> str:
    """A JWT with the claims Kubernetes' legacy token generator writes."""
    name = meta(account).get("name", "")
    claims = {"iss": "kubernetes/serviceaccount",
              "kubernetes.io/serviceaccount/namespace": namespace,
              "kubernetes.io/serviceaccount/secret.name": secret_name,
              "kubernetes.io/serviceaccount/service-account.name": name,
              "kubernetes.io/serviceaccount/service-account.uid": meta(account).get("uid", ""),
              "sub": f"system:serviceaccount:{namespace}:{name}", "iat": int(time.time())}
    return jwt.sign(claims, key)


class TokensController(Controller):
    name = "serviceaccount-token"
    workers_option = "serviceaccount-token"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, *, signing_key: jwt.PrivateKey | None = None,
                 root_ca: bytes | None = None) -> None:
        super().__init__(ctx)
        self.signing_key = signing_key
        self.root_ca = root_ca
        self.service_accounts = ctx.factory.informer(SERVICE_ACCOUNTS)
        self.secrets = ctx.factory.informer(SECRETS, indexers={ACCOUNT_INDEX: account_index})
        self.service_accounts.add_event_handler(self._account, lambda old, new: self._account(new), self._account)
        self.secrets.add_event_handler(self._secret, lambda old, new: self._secret(new), None)

    async def start(self) -> None:
        """Read the key and CA files (in a thread: no disk on the loop)."""
        if self.signing_key is None:
            path = self.ctx.options.get("service_account_private_key_file")
            self.signing_key = await asyncio.to_thread(pki.load_private_key, path) if path else pki.generate_key()
        if self.root_ca is None and self.ctx.options.get("root_ca_file"):
            self.root_ca = await asyncio.to_thread(_read, self.ctx.options["root_ca_file"])

    def _account(self, account: Object) -> None:
        for secret in self.secrets.cache.by_index(ACCOUNT_INDEX, object_key(account)):
            self.enqueue(object_key(secret))

    def _secret(self, secret: Object) -> None:
        if secret.get("type") == TOKEN_TYPE:
            self.enqueue(object_key(secret))

    async def sync(self, key: Any) -> None:
        secret = self.secrets.cache.get(key)
        if secret is None or secret.get("type") != TOKEN_TYPE or is_terminating(secret):
            return
        namespace, name = key.split("/", 1)
        annotations = meta(secret).get("annotations") or {}
        account_name = annotations.get(NAME_ANNOTATION)
        if not account_name:
            return
        account = self.service_accounts.cache.get(f"{namespace}/{account_name}")
        if account is None:  # the cache may lag: ask the server before deleting anything
            try:
                account = await self.client.get(SERVICE_ACCOUNTS, account_name, namespace=namespace)
            except NotFound:
                account = None
        wanted_uid = annotations.get(UID_ANNOTATION)
        if account is None or is_terminating(account) or (wanted_uid and wanted_uid != meta(account).get("uid")):
            try:
                await self.client.delete(SECRETS, name, namespace=namespace,
                                         preconditions={"uid": meta(secret).get("uid", "")})
            except (NotFound, Conflict):
                pass
            return
        data = dict(secret.get("data") or {})
        if data.get("token") and data.get("namespace") and (self.root_ca is None or data.get("ca.crt")) \
                and wanted_uid:
            return
        assert self.signing_key is not None  # set in start()
        token = legacy_token(self.signing_key, namespace, name, account)
        data["token"] = base64.b64encode(token.encode()).decode()
        data["namespace"] = base64.b64encode(namespace.encode()).decode()
        if self.root_ca is not None:
            data["ca.crt"] = base64.b64encode(self.root_ca).decode()
        body = {**secret, "data": data, "metadata": {**meta(secret), "annotations": {
            **annotations, UID_ANNOTATION: meta(account).get("uid", "")}}}
        body.pop("stringData", None)
        await self.client.update(SECRETS, body, namespace=namespace)


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()
