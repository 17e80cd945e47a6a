"""Malformed credentials and review bodies are answered with 401/4xx Statuses, never a 500."""

from __future__ import annotations

import base64

import aiohttp

from tests.apiserver._secure import admin, client_context, https_client, secure, secure_server  # noqa: F401


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


async def test_a_deeply_nested_jwt_is_unauthorized(secure, admin) -> None:  # noqa: F811
    nested = "eyJ" + _b64('{"alg":' + "[" * 1500 + "]" * 1500 + "}")[3:]
    token = f"{nested}.{_b64('{}')}.c2ln"
    async with https_client(secure, token=token) as client:
        status, body = await client.get("/version")
    assert status == 401 and body["reason"] == "Unauthorized"
    status, body = await admin.post("/apis/authentication.k8s.io/v1/tokenreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
    assert status == 201 and not body["status"].get("authenticated") and body["status"]["error"]


async def test_a_token_that_is_not_text_is_unauthorized(tmp_path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("s3cret,alice,u1\n")
    async with secure_server(tmp_path / "api", token_auth_file=str(tokens)) as server:
        context = client_context(server.serving.cluster.ca.cert)
        async with aiohttp.ClientSession() as session:
            async with session.get(server.secure_url + "/version", ssl=context,
                                   headers={"Authorization": b"Bearer \xff\xfe".decode("latin-1")}) as response:
                assert response.status in (400, 401)  # refused by the HTTP parser or as no valid token


async def test_bad_review_and_token_request_bodies_are_invalid(secure, admin) -> None:  # noqa: F811
    for extra in ({"a": 5}, ["a"]):
        status, body = await admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": "bob", "extra": extra, "resourceAttributes": {"verb": "get", "resource": "pods"}}})
        assert status == 422 and body["reason"] == "Invalid", body
    status, _ = await admin.post("/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "robot"}})
    assert status == 201
    status, body = await admin.post("/api/v1/namespaces/default/serviceaccounts/robot/token", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"boundObjectRef": {"kind": ["Pod"], "name": "p"}}})
    assert status == 422 and body["reason"] == "Invalid", body
