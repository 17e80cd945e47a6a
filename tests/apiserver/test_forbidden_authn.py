"""The forbidden-request suite, authentication part: bad credentials on the real secure port
(TLS, the real authenticators, RBAC and Node authorization) are 401, or refused in the TLS
handshake, and leave the store byte-for-byte as it was (every key, value and revision).

The credentials: a token nobody issued; service account JWTs that are expired, forged (another
key), for another audience, from another issuer, of a deleted account, of an account deleted
and recreated, or bound to a deleted pod; a legacy token whose Secret is gone; a client
certificate from another CA. A valid token of an account with no RBAC binding is the control
row: authenticated, then 403.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from hyperkube.apiserver.app import APIServer
from hyperkube.apiserver.authn.serviceaccounts import LEGACY_ISSUER
from hyperkube.machinery import jwt, pki
from tests.apiserver._authz import dump
from tests.apiserver._secure import client_context, https_client, secure_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

A = "/api/v1/namespaces/team-a"
SA = f"{A}/serviceaccounts"


def named(kind: str, name: str, **body: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, **body}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[APIServer, dict[str, Any]]]:
    """The server and, per credential name, a token (str) or an SSL context (a foreign certificate)."""
    directory = tmp_path_factory.mktemp("forbidden-authn")
    async with secure_server(directory, authorization_mode="Node,RBAC") as server, \
            https_client(server, server.serving.cluster.admin) as admin:
        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            status, out = await admin.post(path, body)
            assert status == 201, out
            return out

        await post("/api/v1/namespaces", named("Namespace", "team-a"))
        await post(f"{A}/configmaps", named("ConfigMap", "c1", data={"k": "v"}))
        await post(f"{A}/secrets", named("Secret", "s1", stringData={"k": "v"}))
        web = await post(f"{A}/pods", {**named("Pod", "web"), "spec": {"containers": [{"name": "c", "image": "x"}]}})
        accounts = {name: await post(SA, named("ServiceAccount", name)) for name in ("robot", "ghost", "phoenix")}
        tokens = server.authenticator.tokens
        robot = accounts["robot"]
        key = pki.load_private_key(server.serving.cluster.service_account.key)
        valid, _ = tokens.issue("team-a", robot, [], 3600)
        credentials: dict[str, Any] = {
            "unknown-token": "no-such-token",
            "garbage-jwt": "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
            "expired-jwt": tokens.issue("team-a", robot, [], 600, now=time.time() - 3600)[0],
            "forged-jwt": jwt.sign(jwt.unverified_parts(valid)[1], pki.generate_key()),
            "wrong-audience-jwt": tokens.issue("team-a", robot, ["vault"], 3600)[0],
            "foreign-issuer-jwt": jwt.sign({**jwt.unverified_parts(valid)[1], "iss": "https://elsewhere"}, key),
            "deleted-account-jwt": tokens.issue("team-a", accounts["ghost"], [], 3600)[0],
            "recreated-account-jwt": tokens.issue("team-a", accounts["phoenix"], [], 3600)[0],
            "deleted-pod-jwt": tokens.issue("team-a", robot, [], 3600, {**web, "kind": "Pod"})[0],
            "legacy-without-secret": jwt.sign({
                "iss": LEGACY_ISSUER, "sub": "system:serviceaccount:team-a:robot",
                "kubernetes.io/serviceaccount/namespace": "team-a",
                "kubernetes.io/serviceaccount/secret.name": "robot-token",
                "kubernetes.io/serviceaccount/service-account.name": "robot",
                "kubernetes.io/serviceaccount/service-account.uid": robot["metadata"]["uid"]}, key),
            "valid-but-unbound": valid,
        }
        for path in (f"{SA}/ghost", f"{SA}/phoenix", f"{A}/pods/web?gracePeriodSeconds=0"):
            assert (await admin.delete(path))[0] == 200
        await post(SA, named("ServiceAccount", "phoenix"))  # same name, new uid
        foreign = pki.ensure_cluster_pki(directory / "foreign")
        credentials["foreign-ca-certificate"] = client_context(server.serving.cluster.ca.cert, foreign.admin)
        yield server, credentials


#: (id, method, path, body)
REQUESTS: list[tuple[str, str, str, Any]] = [
    ("create-configmap", "POST", f"{A}/configmaps", named("ConfigMap", "x", data={"k": "v"})),
    ("update-configmap", "PUT", f"{A}/configmaps/c1", named("ConfigMap", "c1", data={"k": "changed"})),
    ("delete-secret", "DELETE", f"{A}/secrets/s1", None),
    ("read-secret", "GET", f"{A}/secrets/s1", None),
    ("request-token", "POST", f"{SA}/robot/token", {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                                                    "spec": {}}),
]
CREDENTIALS = ["unknown-token", "garbage-jwt", "expired-jwt", "forged-jwt", "wrong-audience-jwt",
               "foreign-issuer-jwt", "deleted-account-jwt", "recreated-account-jwt", "deleted-pod-jwt",
               "legacy-without-secret", "foreign-ca-certificate", "valid-but-unbound"]


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize(("what", "method", "path", "body"), REQUESTS, ids=[r[0] for r in REQUESTS])
async def test_refused_and_nothing_changes(world, credential: str, what: str, method: str, path: str,
                                           body: Any) -> None:
    server, credentials = world
    before = await dump(server)
    given = credentials[credential]
    if isinstance(given, ssl.SSLContext):
        with pytest.raises(aiohttp.ClientError):  # the TLS handshake refuses the certificate
            async with https_client(server, context=given) as client:
                await client.request(method, path, body)
    else:
        async with https_client(server, token=given) as client:
            status, out = await client.request(method, path, body)
        if credential == "valid-but-unbound":
            assert status == 403 and 'User "system:serviceaccount:team-a:robot" cannot' in out["message"], out
        else:
            assert (status, out["reason"], out["message"]) == (401, "Unauthorized", "Unauthorized"), out
    assert await dump(server) == before
