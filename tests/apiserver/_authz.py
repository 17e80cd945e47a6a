"""An API server with RBAC and Node authorization on, and users named by bearer tokens.

Authentication is not what these tests are about, so the server's authenticator is a token
map built here (``authn.build`` patched) and every request counts as arriving on the secure
port (``auth.is_secure`` patched): no TLS, every request authenticated and authorized. The
RBACEscalation plugin is called from a thin wrapper around the server's object layer until
the admission chain calls it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from hyperkube.apiserver import auth, authn, authz
from hyperkube.apiserver.app import APIServer, APIServerConfig
from hyperkube.apiserver.auth import AUTHENTICATED, MASTERS, AdmissionRequest, User
from hyperkube.machinery import errors
from hyperkube.storage.interface import RangeRequest
from tests.apiserver._server import Client

RBAC = "rbac.authorization.k8s.io"


def user(name: str, *groups: str) -> User:
    return User(name, groups=(*groups, AUTHENTICATED))


ADMIN = user("admin", MASTERS)


class TokenAuthenticator:
    def __init__(self, tokens: dict[str, User]) -> None:
        self.tokens = tokens

    async def authenticate(self, request: Any) -> User | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        found = self.tokens.get(header[len("Bearer "):])
        if found is None:
            raise auth.unauthorized()
        return found


def _with_escalation_check(server: APIServer) -> None:
    plugin = authz.rbac_escalation_plugin(server.authorizer)
    assert plugin is not None
    objects = _objects(server)
    create, update = objects.create, objects.update

    async def checked_create(resource: Any, namespace: str, obj: Any, **kw: Any) -> Any:
        name = (obj.get("metadata") or {}).get("name", "")
        await plugin.validate(AdmissionRequest("CREATE", resource, "", namespace, name, obj, None,
                                               auth.current_user.get()))
        return await create(resource, namespace, obj, **kw)

    async def checked_update(resource: Any, namespace: str, name: str, body: Any, **kw: Any) -> Any:
        try:
            old = await objects.get(resource, namespace, name)
        except errors.NotFound:
            old = None
        await plugin.validate(AdmissionRequest("UPDATE" if old else "CREATE", resource, kw.get("subresource", ""),
                                               namespace, name, body, old, auth.current_user.get()))
        return await update(resource, namespace, name, body, **kw)

    objects.create, objects.update = checked_create, checked_update


def _objects(server: APIServer) -> Any:
    return server.authorizer.aggregator.objects


@asynccontextmanager
async def secure_server(data_dir: str, tokens: dict[str, User], mode: str = "Node,RBAC") -> AsyncIterator[APIServer]:
    async def build(config: Any, objects: Any) -> TokenAuthenticator:
        return TokenAuthenticator(tokens)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "is_secure", lambda request: True)
        patch.setattr(authn, "build", build)
        from hyperkube.apiserver import admission

        server = APIServer(APIServerConfig(port=0, data_dir=data_dir, authorization_mode=mode,
                                           enable_admission_plugins=list(admission.DEFAULT_PLUGINS)))
        await server.start()
        try:
            if "RBAC" in mode:
                _with_escalation_check(server)
            yield server
        finally:
            await server.stop()


class As(Client):
    """A client that sends ``token`` (None: no credentials)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str | None) -> None:
        super().__init__(session, url)
        self.token = token

    async def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                      headers: dict[str, str] | None = None) -> tuple[int, Any]:
        extra = {"Authorization": f"Bearer {self.token}"} if self.token is not None else {}
        return await super().request(method, path, body, raw=raw, headers={**extra, **(headers or {})})


async def synced(server: APIServer, obj: dict[str, Any]) -> None:
    """Until the authorizers' caches hold ``obj`` (a written RBAC object, pod or claim)."""
    union = server.authorizer
    plural = {"Role": "roles", "ClusterRole": "clusterroles", "RoleBinding": "rolebindings",
              "ClusterRoleBinding": "clusterrolebindings"}.get(obj.get("kind", ""))
    revision = int(obj["metadata"]["resourceVersion"])
    if plural is not None:
        mirror = union.rbac.mirrors[plural]
    elif obj.get("kind") == "Pod":
        mirror = union.node.mirrors[0]
    elif obj.get("kind") == "PersistentVolumeClaim":
        mirror = union.node.mirrors[1]
    else:
        return
    async with asyncio.timeout(10):
        await mirror.wait_for(revision)


async def create(server: APIServer, client: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, out = await client.post(path, body)
    assert status == 201, out
    await synced(server, out)
    return out


async def dump(server: APIServer) -> list[tuple[str, bytes, int]]:
    assert server.store is not None
    result = await server.store.range(RangeRequest("\0", "\xff"))
    return [(kv.key, kv.value, kv.mod_revision) for kv in result.kvs]


def role_binding(name: str, role: str, *subjects: dict[str, Any], kind: str = "ClusterRole") -> dict[str, Any]:
    return {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role}, "subjects": list(subjects)}


def role(name: str, *rules: dict[str, Any], kind: str = "Role") -> dict[str, Any]:
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": {"name": name}, "rules": list(rules)}


def subject(name: str, kind: str = "User") -> dict[str, Any]:
    return {"kind": kind, "apiGroup": RBAC, "name": name}
