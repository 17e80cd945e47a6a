"""Authentication on the secure port: static tokens, service account JWTs (bound and legacy),
anonymous access, and the TokenRequest / TokenReview APIs."""

from __future__ import annotations

import base64
import time

import aiohttp
import pytest

from hyperkube.apiserver.authn.serviceaccounts import LEGACY_ISSUER
from hyperkube.machinery import jwt, pki
from tests.apiserver import _secure
from tests.apiserver._secure import https_client, secure_server, whoami
from tests.apiserver._server import pod

SA = "/api/v1/namespaces/default/serviceaccounts"
ANONYMOUS = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}

secure, admin = _secure.secure, _secure.admin  # fixtures


async def as_token(server, token: str):
    async with https_client(server, token=token) as client:
        return await whoami(client)


async def create_account(admin, name: str = "robot") -> dict:
    status, account = await admin.post(SA, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
    assert status == 201, account
    return account


async def request_token(admin, name: str = "robot", **spec) -> tuple[int, dict]:
    return await admin.post(f"{SA}/{name}/token", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                                   "spec": spec})


def robot(namespace: str = "default", name: str = "robot", **extra) -> dict:
    return {"username": f"system:serviceaccount:{namespace}:{name}",
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
            **extra}


async def test_static_token_file(tmp_path):
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('# token,user,uid,groups\nsecret-1,alice,u-1,"dev,ops"\nsecret-2,bob,u-2\n')
    async with secure_server(tmp_path, token_auth_file=str(tokens)) as server:
        assert await as_token(server, "secret-1") == (201, {"username": "alice", "uid": "u-1",
                                                             "groups": ["dev", "ops", "system:authenticated"]})
        assert await as_token(server, "secret-2") == (201, {"username": "bob", "uid": "u-2",
                                                             "groups": ["system:authenticated"]})
        assert await as_token(server, "secret-3") == (401, UNAUTHORIZED)


async def test_anonymous_can_be_turned_off(tmp_path):
    async with secure_server(tmp_path, anonymous_auth=False) as server:
        async with https_client(server) as client:
            assert await client.get("/version") == (401, UNAUTHORIZED)
        async with https_client(server, server.serving.cluster.admin) as client:
            assert (await client.get("/version"))[0] == 200


async def test_a_wrong_token_is_401_even_with_anonymous_on(secure):
    assert await as_token(secure, "nope") == (401, UNAUTHORIZED)
    async with https_client(secure) as client:
        assert await whoami(client) == (201, ANONYMOUS)


async def test_token_request_issues_a_bound_token_that_authenticates(secure, admin):
    account = await create_account(admin)
    status, review = await request_token(admin)
    assert status == 201, review
    assert review["kind"] == "TokenRequest" and review["spec"]["expirationSeconds"] == 3600
    assert review["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    token = review["status"]["token"]
    expires = time.mktime(time.strptime(review["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(expires - (time.time() + 3600)) < 60
    _header, claims = jwt.unverified_parts(token)
    assert claims["sub"] == "system:serviceaccount:default:robot"
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "robot", "uid": account["metadata"]["uid"]}
    status, user = await as_token(secure, token)
    assert status == 201
    assert user["username"] == "system:serviceaccount:default:robot" and user["uid"] == account["metadata"]["uid"]
    assert user["groups"] == robot()["groups"]
    # deleting the account revokes the token; a new account of the same name does not revive it
    assert (await admin.delete(f"{SA}/robot"))[0] == 200
    assert await as_token(secure, token) == (401, UNAUTHORIZED)
    await create_account(admin)
    assert await as_token(secure, token) == (401, UNAUTHORIZED)


async def test_a_token_bound_to_a_pod_dies_with_the_pod(secure, admin):
    await create_account(admin)
    status, created = await admin.post("/api/v1/namespaces/default/pods", pod("web", serviceAccountName="robot"))
    assert status == 201, created
    status, review = await request_token(admin, boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "web",
                                                                "uid": created["metadata"]["uid"]})
    assert status == 201, review
    status, user = await as_token(secure, review["status"]["token"])
    assert status == 201 and user["extra"]["authentication.kubernetes.io/pod-name"] == ["web"]
    assert user["extra"]["authentication.kubernetes.io/pod-uid"] == [created["metadata"]["uid"]]
    assert (await admin.delete("/api/v1/namespaces/default/pods/web?gracePeriodSeconds=0"))[0] == 200
    assert await as_token(secure, review["status"]["token"]) == (401, UNAUTHORIZED)


async def test_token_request_validation(secure, admin):
    await create_account(admin)
    status, body = await request_token(admin, expirationSeconds=599)
    assert status == 422 and "may not specify a duration less than 10 minutes" in body["message"]
    status, body = await request_token(admin, boundObjectRef={"kind": "ConfigMap", "name": "x"})
    assert status == 422 and 'Unsupported value: "ConfigMap"' in body["message"]
    status, body = await request_token(admin, boundObjectRef={"kind": "Pod", "name": "missing"})
    assert status == 404
    status, _ = await admin.post("/api/v1/namespaces/default/pods", pod("web"))
    status, body = await request_token(admin, boundObjectRef={"kind": "Pod", "name": "web", "uid": "stale"})
    assert status == 409 and "does not match the UID in record" in body["message"]
    status, body = await request_token(admin, "ghost")
    assert status == 404 and body["reason"] == "NotFound"
    status, body = await request_token(admin, expirationSeconds=600, audiences=["vault"])
    assert status == 201 and body["spec"]["audiences"] == ["vault"]


async def test_expired_forged_and_foreign_tokens_are_401(secure, admin):
    account = await create_account(admin)
    tokens = secure.authenticator.tokens
    expired, _ = tokens.issue("default", account, [], 600, now=time.time() - 7200)
    good, _ = tokens.issue("default", account, [], 600)
    header, claims, _signature = good.split(".")
    forged = jwt.sign(jwt.unverified_parts(good)[1], pki.generate_key())
    _h, other_claims = jwt.unverified_parts(good)
    other_claims["kubernetes.io"]["serviceaccount"]["name"] = "admin"
    other_claims["sub"] = "system:serviceaccount:default:admin"
    swapped = ".".join([header, jwt.b64url(jwt.unverified_parts(jwt.sign(other_claims, pki.generate_key()))[1]
                                           .__repr__().encode()), _signature])
    foreign_issuer = jwt.sign({**claims_of(good), "iss": "https://elsewhere"}, tokens.signing_key)
    wrong_audience = (await request_token(admin, audiences=["vault"]))[1]["status"]["token"]
    assert (await as_token(secure, good))[0] == 201
    for token in (expired, forged, swapped, foreign_issuer, wrong_audience):
        assert await as_token(secure, token) == (401, UNAUTHORIZED), jwt.unverified_parts(token)


def claims_of(token: str) -> dict:
    return jwt.unverified_parts(token)[1]


async def test_legacy_secret_tokens(secure, admin):
    account = await create_account(admin)
    key = pki.load_private_key(secure.serving.cluster.service_account.key)
    token = jwt.sign({"iss": LEGACY_ISSUER, "sub": "system:serviceaccount:default:robot",
                      "kubernetes.io/serviceaccount/namespace": "default",
                      "kubernetes.io/serviceaccount/secret.name": "robot-token",
                      "kubernetes.io/serviceaccount/service-account.name": "robot",
                      "kubernetes.io/serviceaccount/service-account.uid": account["metadata"]["uid"]}, key)
    assert await as_token(secure, token) == (401, UNAUTHORIZED)  # no Secret holds it yet
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
              "metadata": {"name": "robot-token", "annotations": {"kubernetes.io/service-account.name": "robot"}},
              "data": {"token": base64.b64encode(token.encode()).decode()}}
    status, out = await admin.post("/api/v1/namespaces/default/secrets", secret)
    assert status == 201, out
    assert await as_token(secure, token) == (201, robot(uid=account["metadata"]["uid"]))
    assert (await admin.delete("/api/v1/namespaces/default/secrets/robot-token"))[0] == 200
    assert await as_token(secure, token) == (401, UNAUTHORIZED)


async def test_token_review(tmp_path):
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("static-1,carol,u-9\n")
    async with secure_server(tmp_path, token_auth_file=str(tokens)) as server:
        async with https_client(server, server.serving.cluster.admin) as admin:
            account = await create_account(admin)
            vault = (await request_token(admin, audiences=["vault"]))[1]["status"]["token"]
            api = (await request_token(admin))[1]["status"]["token"]

            async def review(token: str, audiences=None) -> dict:
                spec = {"token": token, **({"audiences": audiences} if audiences else {})}
                status, body = await admin.post("/apis/authentication.k8s.io/v1/tokenreviews",
                                                 {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                                  "spec": spec})
                assert status == 201, body
                assert body["kind"] == "TokenReview"
                return body["status"]

            status = await review(api)
            jti = claims_of(api)["jti"]
            assert status == {"authenticated": True, "audiences": ["https://kubernetes.default.svc.cluster.local"],
                              "user": robot(uid=account["metadata"]["uid"],
                                            extra={"authentication.kubernetes.io/credential-id": [f"JTI={jti}"]})}
            status = await review(vault, ["vault"])
            assert status["authenticated"] and status["audiences"] == ["vault"]
            status = await review(vault)
            assert "authenticated" not in status and "invalid for the target audiences" in status["error"]
            assert (await review("static-1"))["user"] == {"username": "carol", "uid": "u-9",
                                                          "groups": ["system:authenticated"]}
            assert "authenticated" not in await review("static-1", ["vault"])
            assert (await review("garbage"))["error"] == "[invalid bearer token]"
            status, body = await admin.post("/apis/authentication.k8s.io/v1/tokenreviews",
                                            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                             "spec": {}})
            assert status == 422 and "token must be supplied" in body["message"]


async def test_websocket_bearer_token_subprotocol(secure, admin):
    await create_account(admin)
    token = (await request_token(admin))[1]["status"]["token"]
    protocol = "base64url.bearer.authorization.k8s.io." + jwt.b64url(token.encode())
    async with https_client(secure) as client:
        status, body = await client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                         {"kind": "SelfSubjectReview"},
                                         headers={"Sec-WebSocket-Protocol": f"v5.channel.k8s.io, {protocol}"})
        assert status == 201 and body["status"]["userInfo"]["username"] == "system:serviceaccount:default:robot"


async def test_the_plain_port_is_the_insecure_superuser_whatever_it_is_sent(tmp_path):
    async with secure_server(tmp_path, port=0) as server:
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer nope"}) as session:
            async with session.post(server.url + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                    json={"kind": "SelfSubjectReview"}) as response:
                body = await response.json()
        assert body["status"]["userInfo"]["username"] == "system:unsecured"


@pytest.mark.parametrize("header", ["Bearer", "Basic dXNlcjpwYXNz"])
async def test_headers_without_a_bearer_token_are_anonymous(secure, header):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session:
        async with session.post(secure.secure_url + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                json={"kind": "SelfSubjectReview"}, headers={"Authorization": header}) as response:
            assert (await response.json())["status"]["userInfo"] == ANONYMOUS
