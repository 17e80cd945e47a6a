"""The forbidden-request suite, authorization part: every request here is refused (401 or 403)
and leaves the store byte-for-byte as it was (every key, value and revision compared).

One API server (RBAC and Node authorization, token users from _authz.py) serves the whole
table; the cluster it holds:

- namespaces team-a and team-b; nodes node-1 and node-2 with their Leases;
- pods p1 (on node-1: secret s1, configmap c1, claim claim1) and p2 (on node-2: s2, c2,
  claim2) in team-a, and the unused secret s3;
- users: ``view`` and ``edit`` (the ClusterRoles bound in team-a), ``alice`` (admin of team-a),
  ``limited`` (get on the pod named "allowed" only), a service account without bindings, the
  kubelet of node-1, ``bob`` (authenticated, nothing bound) and nobody (anonymous).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from hyperkube.apiserver.app import APIServer
from tests.apiserver._authz import (
    ADMIN,
    RBAC,
    As,
    create,
    dump,
    role,
    role_binding,
    secure_server,
    subject,
    user,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKENS = {
    "admin": ADMIN,
    "view": user("viewer"),
    "edit": user("editor"),
    "alice": user("alice"),
    "limited": user("limited"),
    "sa": user("system:serviceaccount:team-a:builder", "system:serviceaccounts", "system:serviceaccounts:team-a"),
    "node1": user("system:node:node-1", "system:nodes"),
    "bob": user("bob"),
}

A = "/api/v1/namespaces/team-a"
B = "/api/v1/namespaces/team-b"
RBAC_A = f"/apis/{RBAC}/v1/namespaces/team-a"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


def pod(name: str, node: str, secret: str, config_map: str, claim: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{
                "name": "c", "image": "nginx", "env": [{"name": "K", "valueFrom": {
                    "secretKeyRef": {"name": secret, "key": "k"}}}]}],
                "volumes": [{"name": "cm", "configMap": {"name": config_map}},
                            {"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}


def named(kind: str, name: str, **body: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, **body}


def lease(name: str) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": name}}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[APIServer]:
    async with secure_server(str(tmp_path_factory.mktemp("forbidden")), TOKENS) as server, \
            aiohttp.ClientSession() as session:
        admin = As(session, server.url, "admin")
        for namespace in ("team-a", "team-b"):
            await create(server, admin, "/api/v1/namespaces", named("Namespace", namespace))
        for node in ("node-1", "node-2"):
            await create(server, admin, "/api/v1/nodes", named("Node", node))
            await create(server, admin, LEASES, lease(node))
        for name in ("s1", "s2", "s3"):
            await create(server, admin, f"{A}/secrets", named("Secret", name, stringData={"k": name}))
            await create(server, admin, f"{B}/secrets", named("Secret", name, stringData={"k": name}))
        for name in ("c1", "c2"):
            await create(server, admin, f"{A}/configmaps", named("ConfigMap", name, data={"k": name}))
        for name in ("claim1", "claim2"):
            await create(server, admin, f"{A}/persistentvolumeclaims", named(
                "PersistentVolumeClaim", name, spec={"accessModes": ["ReadWriteOnce"],
                                                     "resources": {"requests": {"storage": "1Gi"}}}))
        await create(server, admin, f"{A}/pods", pod("p1", "node-1", "s1", "c1", "claim1"))
        await create(server, admin, f"{A}/pods", pod("p2", "node-2", "s2", "c2", "claim2"))
        await create(server, admin, f"{A}/pods", pod("allowed", "node-2", "s2", "c2", "claim2"))
        await create(server, admin, f"{A}/serviceaccounts", named("ServiceAccount", "builder"))
        await create(server, admin, f"{RBAC_A}/roles", role("pod-reader-one", {
            "verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["allowed"]}))
        for name, cluster_role, who in (("viewers", "view", "viewer"), ("editors", "edit", "editor"),
                                        ("admins", "admin", "alice")):
            await create(server, admin, f"{RBAC_A}/rolebindings", role_binding(name, cluster_role, subject(who)))
        await create(server, admin, f"{RBAC_A}/rolebindings",
                     role_binding("limited", "pod-reader-one", subject("limited"), kind="Role"))
        yield server


EVERYTHING = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
MERGE = {"Content-Type": "application/merge-patch+json"}

#: (id, token, method, path, body, status)
CASES: list[tuple[str, str | None, str, str, Any, int]] = [
    # bad credentials: 401 everywhere, even where anonymous may go
    ("wrong-token-list", "nope", "GET", f"{A}/pods", None, 401),
    ("wrong-token-create", "nope", "POST", f"{A}/configmaps", named("ConfigMap", "x"), 401),
    ("wrong-token-version", "nope", "GET", "/version", None, 401),
    # anonymous: nothing but health and version
    ("anonymous-namespaces", None, "GET", "/api/v1/namespaces", None, 403),
    ("anonymous-secrets", None, "GET", f"{A}/secrets", None, 403),
    ("anonymous-create", None, "POST", f"{A}/configmaps", named("ConfigMap", "x"), 403),
    ("anonymous-delete-pod", None, "DELETE", f"{A}/pods/p1", None, 403),
    ("anonymous-update", None, "PUT", f"{A}/configmaps/c1", named("ConfigMap", "c1"), 403),
    ("anonymous-discovery-api", None, "GET", "/api", None, 403),
    ("anonymous-discovery-apis", None, "GET", "/apis", None, 403),
    ("anonymous-openapi", None, "GET", "/openapi/v2", None, 403),
    ("anonymous-metrics", None, "GET", "/metrics", None, 403),
    ("anonymous-nodes", None, "GET", "/api/v1/nodes", None, 403),
    ("anonymous-can-i", None, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
     {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}, 403),
    ("anonymous-rbac", None, "POST", f"{RBAC_A}/rolebindings", role_binding("x", "admin", subject("anon")), 403),
    # a view user writing, or reading what view does not show
    ("view-create", "view", "POST", f"{A}/configmaps", named("ConfigMap", "x"), 403),
    ("view-update", "view", "PUT", f"{A}/configmaps/c1", named("ConfigMap", "c1", data={"k": "v"}), 403),
    ("view-patch", "view", "PATCH", f"{A}/configmaps/c1", {"data": {"k": "v"}}, 403),
    ("view-delete", "view", "DELETE", f"{A}/pods/p1", None, 403),
    ("view-delete-collection", "view", "DELETE", f"{A}/pods", None, 403),
    ("view-list-secrets", "view", "GET", f"{A}/secrets", None, 403),
    ("view-get-secret", "view", "GET", f"{A}/secrets/s1", None, 403),
    ("view-exec", "view", "POST", f"{A}/pods/p1/exec?command=ls&stdout=1", None, 403),
    ("view-other-namespace", "view", "GET", f"{B}/pods", None, 403),
    ("view-all-namespaces", "view", "GET", "/api/v1/pods", None, 403),
    ("view-bind", "view", "POST", f"{RBAC_A}/rolebindings", role_binding("x", "view", subject("bob")), 403),
    # a namespaced editor outside its namespace or its powers
    ("edit-other-namespace-pods", "edit", "GET", f"{B}/pods", None, 403),
    ("edit-other-namespace-secret", "edit", "GET", f"{B}/secrets/s1", None, 403),
    ("edit-create-role", "edit", "POST", f"{RBAC_A}/roles", role("r", EVERYTHING), 403),
    ("edit-create-quota", "edit", "POST", f"{A}/resourcequotas", named("ResourceQuota", "q"), 403),
    ("edit-delete-namespace", "edit", "DELETE", "/api/v1/namespaces/team-a", None, 403),
    ("edit-patch-node", "edit", "PATCH", "/api/v1/nodes/node-1", {"metadata": {"labels": {"x": "y"}}}, 403),
    # escalation through a RoleBinding or a Role
    ("escalate-bind-cluster-admin", "alice", "POST", f"{RBAC_A}/rolebindings",
     role_binding("mine", "cluster-admin", subject("alice")), 403),
    ("escalate-bind-controller-manager", "alice", "POST", f"{RBAC_A}/rolebindings",
     role_binding("mine", "system:kube-controller-manager", subject("bob")), 403),
    ("escalate-role-everything", "alice", "POST", f"{RBAC_A}/roles", role("mine", EVERYTHING), 403),
    ("escalate-role-nodes", "alice", "POST", f"{RBAC_A}/roles",
     role("mine", {"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]}), 403),
    ("escalate-update-role", "alice", "PUT", f"{RBAC_A}/roles/pod-reader-one",
     role("pod-reader-one", EVERYTHING), 403),
    ("escalate-cluster-binding", "alice", "POST", f"/apis/{RBAC}/v1/clusterrolebindings",
     {**role_binding("mine", "cluster-admin", subject("alice")), "kind": "ClusterRoleBinding"}, 403),
    ("escalate-cluster-role", "alice", "POST", f"/apis/{RBAC}/v1/clusterroles",
     role("mine", EVERYTHING, kind="ClusterRole"), 403),
    ("escalate-other-namespace", "alice", "POST", f"/apis/{RBAC}/v1/namespaces/team-b/rolebindings",
     role_binding("mine", "admin", subject("alice")), 403),
    # resourceNames
    ("names-other-pod", "limited", "GET", f"{A}/pods/p1", None, 403),
    ("names-list", "limited", "GET", f"{A}/pods", None, 403),
    ("names-list-by-field", "limited", "GET", f"{A}/pods?fieldSelector=metadata.name%3Dp1", None, 403),
    ("names-delete-allowed", "limited", "DELETE", f"{A}/pods/allowed", None, 403),
    ("names-other-namespace", "limited", "GET", f"{B}/pods/allowed", None, 403),
    # a service account without bindings
    ("sa-pods", "sa", "GET", f"{A}/pods", None, 403),
    ("sa-secrets", "sa", "GET", f"{A}/secrets/s1", None, 403),
    ("sa-token", "sa", "POST", f"{A}/serviceaccounts/builder/token", {"spec": {"audiences": ["x"]}}, 403),
    ("sa-own-account", "sa", "GET", f"{A}/serviceaccounts/builder", None, 403),
    # a kubelet beyond its own node and pods
    ("kubelet-secret-of-other-node", "node1", "GET", f"{A}/secrets/s2", None, 403),
    ("kubelet-unused-secret", "node1", "GET", f"{A}/secrets/s3", None, 403),
    ("kubelet-secret-same-name-other-ns", "node1", "GET", f"{B}/secrets/s1", None, 403),
    ("kubelet-list-secrets", "node1", "GET", f"{A}/secrets", None, 403),
    ("kubelet-configmap-of-other-node", "node1", "GET", f"{A}/configmaps/c2", None, 403),
    ("kubelet-claim-of-other-node", "node1", "GET", f"{A}/persistentvolumeclaims/claim2", None, 403),
    ("kubelet-patch-other-node", "node1", "PATCH", "/api/v1/nodes/node-2",
     {"metadata": {"labels": {"x": "y"}}}, 403),
    ("kubelet-other-node-status", "node1", "PATCH", "/api/v1/nodes/node-2/status",
     {"status": {"phase": "Running"}}, 403),
    ("kubelet-delete-other-node", "node1", "DELETE", "/api/v1/nodes/node-2", None, 403),
    ("kubelet-other-pod-status", "node1", "PATCH", f"{A}/pods/p2/status", {"status": {"phase": "Failed"}}, 403),
    ("kubelet-delete-other-pod", "node1", "DELETE", f"{A}/pods/p2", None, 403),
    # NodeRestriction: a kubelet can't widen its own graph by creating pods that use others' secrets
    ("kubelet-creates-pod-with-secret", "node1", "POST", f"{A}/pods", pod("sneaky", "node-1", "s2", "c2", "claim2"), 403),
    ("kubelet-creates-other-node", "node1", "POST", "/api/v1/nodes", named("Node", "node-9"), 403),
    ("kubelet-evict-other-pod", "node1", "POST", f"{A}/pods/p2/eviction",
     {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p2", "namespace": "team-a"}}, 403),
    ("kubelet-other-lease", "node1", "PATCH", f"{LEASES}/node-2", {"spec": {"holderIdentity": "node-1"}}, 403),
    ("kubelet-other-token", "node1", "POST", f"{A}/serviceaccounts/builder/token", {"spec": {}}, 403),
    ("kubelet-rbac", "node1", "POST", f"{RBAC_A}/rolebindings", role_binding("x", "admin", subject("bob")), 403),
    ("kubelet-system-secrets", "node1", "GET", "/api/v1/namespaces/kube-system/secrets", None, 403),
    # non-resource URLs
    ("bob-metrics", "bob", "GET", "/metrics", None, 403),
    ("bob-health-detail", "bob", "GET", "/healthz/etcd", None, 403),
    ("bob-logs", "bob", "GET", "/logs/", None, 403),
    ("bob-pods", "bob", "GET", f"{A}/pods", None, 403),
    ("bob-create-namespace", "bob", "POST", "/api/v1/namespaces", named("Namespace", "bobs"), 403),
]


@pytest.mark.parametrize("token,method,path,body,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_refused_and_store_unchanged(cluster: APIServer, token: str | None, method: str, path: str,
                                           body: Any, expected: int) -> None:
    before = await dump(cluster)
    async with aiohttp.ClientSession() as session:
        headers = MERGE if method == "PATCH" else None
        status, out = await As(session, cluster.url, token).request(method, path, body, headers=headers)
    assert status == expected, out
    assert out["kind"] == "Status" and out["code"] == expected
    assert out["reason"] == ("Unauthorized" if expected == 401 else "Forbidden")
    assert await dump(cluster) == before


async def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 50 and len({c[0] for c in CASES}) == len(CASES)


async def test_messages_are_kubernetes_wording(cluster: APIServer) -> None:
    async with aiohttp.ClientSession() as session:
        status, out = await As(session, cluster.url, "view").get(f"{B}/pods")
        assert status == 403
        assert out["message"] == ('pods is forbidden: User "viewer" cannot list resource "pods" in API group "" '
                                  'in the namespace "team-b"')
        assert out["details"]["kind"] == "pods"
        status, out = await As(session, cluster.url, "node1").get(f"{A}/secrets/s2")
        assert out["message"] == ('secrets "s2" is forbidden: User "system:node:node-1" cannot get resource '
                                  '"secrets" in API group "" in the namespace "team-a": no relationship found '
                                  "between node 'node-1' and this object")
        status, out = await As(session, cluster.url, None).get("/api")
        assert out["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
        status, out = await As(session, cluster.url, "alice").post(
            f"{RBAC_A}/rolebindings", role_binding("mine", "cluster-admin", subject("alice")))
        assert status == 403
        assert out["message"].startswith(
            f'rolebindings.{RBAC} "mine" is forbidden: user "alice" (groups=["system:authenticated"]) is '
            "attempting to grant RBAC permissions not currently held:\n")
        assert '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}' in out["message"]
        assert '{NonResourceURLs:["*"], Verbs:["*"]}' in out["message"]


async def test_what_the_same_users_may_do(cluster: APIServer) -> None:
    """The other side of the table: each user can do what it was given (and the writes land)."""
    async with aiohttp.ClientSession() as session:
        def as_(token: str | None) -> As:
            return As(session, cluster.url, token)

        for token, path in ((None, "/healthz"), (None, "/version"), (None, "/livez"), (None, "/readyz"),
                            ("bob", "/api"), ("bob", "/apis"), ("view", f"{A}/pods"), ("view", f"{A}/pods/p1"),
                            ("limited", f"{A}/pods/allowed"), ("node1", f"{A}/secrets/s1"),
                            ("node1", f"{A}/configmaps/c1"), ("node1", f"{A}/persistentvolumeclaims/claim1"),
                            ("node1", "/api/v1/nodes"), ("node1", f"{A}/pods"), ("edit", f"{A}/secrets")):
            status, out = await as_(token).get(path)
            assert status == 200, (token, path, out)
        status, out = await as_("edit").post(f"{A}/configmaps", named("ConfigMap", "by-editor"))
        assert status == 201, out
        status, out = await as_("node1").request("PATCH", "/api/v1/nodes/node-1", {"metadata": {"labels": {
            "mine": "yes"}}}, headers=MERGE)
        assert status == 200, out
        # alice may bind what she holds: view, in her namespace
        status, out = await as_("alice").post(f"{RBAC_A}/rolebindings", role_binding("carol-views", "view",
                                                                                     subject("carol")))
        assert status == 201, out
        status, out = await as_("alice").post(f"{RBAC_A}/roles", role("cm-reader", {
            "verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}))
        assert status == 201, out
        for path in (f"{A}/configmaps/by-editor", f"{RBAC_A}/rolebindings/carol-views", f"{RBAC_A}/roles/cm-reader"):
            status, _ = await as_("admin").delete(path)
            assert status == 200
