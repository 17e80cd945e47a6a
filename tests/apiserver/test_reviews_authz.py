"""Access reviews against RBAC and the Node authorizer: can-i, can-i --list, whoami, and the
SubjectAccessReviews a kubelet sends to authorize its own callers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from hyperkube.apiserver.app import APIServer
from tests.apiserver._authz import ADMIN, RBAC, As, create, role_binding, secure_server, subject, user

AUTHZ = "/apis/authorization.k8s.io/v1"
TOKENS = {"admin": ADMIN, "view": user("viewer", "readers"), "bob": user("bob"),
          "node": user("system:node:n1", "system:nodes")}


@pytest.fixture
async def reviews(tmp_path) -> AsyncIterator[tuple[APIServer, aiohttp.ClientSession]]:
    async with secure_server(str(tmp_path), TOKENS) as server, aiohttp.ClientSession() as session:
        admin = As(session, server.url, "admin")
        await create(server, admin, f"/apis/{RBAC}/v1/namespaces/default/rolebindings",
                     role_binding("viewers", "view", subject("viewer")))
        yield server, session


def ssar(**attributes: str) -> dict:
    key = "nonResourceAttributes" if "path" in attributes else "resourceAttributes"
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {key: attributes}}


async def test_can_i_and_whoami(reviews) -> None:
    server, session = reviews
    viewer = As(session, server.url, "view")
    status, out = await viewer.post(f"{AUTHZ}/selfsubjectaccessreviews",
                                    ssar(verb="list", resource="pods", namespace="default"))
    assert status == 201
    assert out["status"] == {"allowed": True, "reason": 'RBAC: allowed by RoleBinding "viewers/default" of '
                                                        'ClusterRole "view" to User "viewer"'}
    for attributes in ({"verb": "delete", "resource": "pods", "namespace": "default"},
                       {"verb": "list", "resource": "pods", "namespace": "kube-system"},
                       {"verb": "get", "resource": "secrets", "namespace": "default", "name": "x"}):
        status, out = await viewer.post(f"{AUTHZ}/selfsubjectaccessreviews", ssar(**attributes))
        assert status == 201 and out["status"] == {"allowed": False}, attributes
    status, out = await viewer.post(f"{AUTHZ}/selfsubjectaccessreviews", ssar(path="/apis", verb="get"))
    assert out["status"]["allowed"] is True
    status, out = await viewer.post(f"{AUTHZ}/selfsubjectaccessreviews", ssar(path="/metrics", verb="get"))
    assert out["status"] == {"allowed": False}
    status, out = await viewer.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", {})
    assert status == 201
    assert out["status"]["userInfo"] == {"username": "viewer", "groups": ["readers", "system:authenticated"]}
    status, out = await As(session, server.url, None).post("/apis/authentication.k8s.io/v1/selfsubjectreviews", {})
    assert status == 403  # anonymous may not even ask who it is


async def test_rules_review_lists_rbac_rules_of_the_namespace(reviews) -> None:
    server, session = reviews
    viewer = As(session, server.url, "view")
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": "default"}}
    status, out = await viewer.post(f"{AUTHZ}/selfsubjectrulesreviews", body)
    assert status == 201
    rules, urls = out["status"]["resourceRules"], out["status"]["nonResourceRules"]
    assert {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]} in rules
    assert {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]} in rules
    assert any("/api" in rule["nonResourceURLs"] for rule in urls)
    assert out["status"]["incomplete"] is False
    body["spec"]["namespace"] = "kube-system"
    status, out = await viewer.post(f"{AUTHZ}/selfsubjectrulesreviews", body)
    assert not any("namespaces" in rule["resources"] for rule in out["status"]["resourceRules"])
    status, out = await As(session, server.url, "node").post(f"{AUTHZ}/selfsubjectrulesreviews", body)
    assert status == 201 and out["status"]["incomplete"] is True  # the Node authorizer may allow more


async def test_subject_access_reviews(reviews) -> None:
    server, session = reviews
    admin = As(session, server.url, "admin")
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": "viewer", "resourceAttributes": {"verb": "get", "resource": "pods",
                                                                "namespace": "default"}}}
    status, out = await admin.post(f"{AUTHZ}/subjectaccessreviews", review)
    assert status == 201 and out["status"]["allowed"] is True
    review["spec"]["user"] = "someone-else"
    status, out = await admin.post(f"{AUTHZ}/subjectaccessreviews", review)
    assert out["status"] == {"allowed": False}
    review["spec"]["groups"] = ["system:masters"]
    status, out = await admin.post(f"{AUTHZ}/subjectaccessreviews", review)
    assert out["status"]["allowed"] is True
    status, out = await admin.post(f"{AUTHZ}/subjectaccessreviews", {"spec": {
        "resourceAttributes": {"verb": "get", "resource": "pods"}}})
    assert status == 422 and "at least one of user or group must be specified" in out["message"]
    # bob may not ask on anyone's behalf
    status, out = await As(session, server.url, "bob").post(f"{AUTHZ}/subjectaccessreviews", review)
    assert status == 403
    # the kubelet may (system:node holds subjectaccessreviews create)
    status, out = await As(session, server.url, "node").post(f"{AUTHZ}/subjectaccessreviews", review)
    assert status == 201 and out["status"]["allowed"] is True

    local = {"apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview",
             "spec": {"user": "viewer", "resourceAttributes": {"verb": "list", "resource": "pods"}}}
    status, out = await admin.post(f"{AUTHZ}/namespaces/default/localsubjectaccessreviews", local)
    assert status == 201 and out["status"]["allowed"] is True and out["metadata"]["namespace"] == "default"
    status, out = await admin.post(f"{AUTHZ}/namespaces/kube-system/localsubjectaccessreviews", local)
    assert status == 201 and out["status"]["allowed"] is False
    local["spec"]["resourceAttributes"]["namespace"] = "default"
    status, out = await admin.post(f"{AUTHZ}/namespaces/kube-system/localsubjectaccessreviews", local)
    assert status == 400
    status, _ = await admin.post(f"{AUTHZ}/localsubjectaccessreviews", local)
    assert status == 404

