"""RBAC through a real API server: bootstrap policy, aggregation, bindings, escalate and bind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from hyperkube.apiserver.app import APIServer
from hyperkube.apiserver.auth import Attributes, Decision, User
from hyperkube.apiserver.authz import policy
from tests.apiserver._authz import ADMIN, RBAC, As, create, role, role_binding, secure_server, subject, user

CLUSTER = f"/apis/{RBAC}/v1"
NS = f"/apis/{RBAC}/v1/namespaces/default"
TOKENS = {"admin": ADMIN, "dana": user("dana"), "erin": user("erin")}


@pytest.fixture
async def rbac_server(tmp_path) -> AsyncIterator[APIServer]:
    async with secure_server(str(tmp_path), dict(TOKENS)) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def can(server: APIServer, who: User, verb: str, resource: str, namespace: str = "default", name: str = "",
        group: str = "", sub: str = "") -> bool:
    decision, _ = server.authorizer.rbac.decide(
        Attributes(who, verb, "/x", True, group, "v1", resource, sub, namespace, name))
    return decision is Decision.ALLOW


async def eventually(check: Any) -> None:
    """Until ``check()`` holds: the aggregator and the caches follow writes asynchronously."""
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


async def test_bootstrap_policy_is_there_labelled_and_aggregated(rbac_server: APIServer, session) -> None:
    admin = As(session, rbac_server.url, "admin")
    status, out = await admin.get(f"{CLUSTER}/clusterroles")
    assert status == 200
    roles = {item["metadata"]["name"]: item for item in out["items"]}
    for name in ("cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
                 "system:public-info-viewer", "system:node", "system:node-proxier", "system:kube-scheduler",
                 "system:kube-controller-manager", "system:kube-dns", "system:monitoring", "system:auth-delegator"):
        metadata = roles[name]["metadata"]
        assert metadata["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults", name
        assert metadata["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true", name
    view, edit, admin_rules = (roles[n]["rules"] for n in ("view", "edit", "admin"))
    assert view and all(rule in edit for rule in view) and all(rule in admin_rules for rule in edit)
    assert {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]} in view
    status, out = await admin.get(f"{CLUSTER}/clusterrolebindings/cluster-admin")
    assert out["subjects"] == [{"kind": "Group", "apiGroup": RBAC, "name": "system:masters"}]
    status, out = await admin.get(f"{CLUSTER}/clusterrolebindings/system:node")
    assert status == 200 and not out.get("subjects")
    # the identities the components use
    server = rbac_server
    assert can(server, user("system:kube-scheduler"), "create", "pods", sub="binding")
    assert can(server, user("system:kube-scheduler"), "update", "leases", "kube-system", "kube-scheduler",
               group="coordination.k8s.io")
    assert not can(server, user("system:kube-scheduler"), "delete", "nodes", "")
    assert can(server, user("system:kube-controller-manager"), "delete", "pods")
    assert can(server, user("system:kube-controller-manager"), "create", "replicasets", group="apps")
    assert not can(server, user("system:kube-controller-manager"), "create", "clusterrolebindings", "", group=RBAC)
    assert can(server, user("system:kube-proxy"), "watch", "endpointslices", "", group="discovery.k8s.io")
    assert not can(server, user("system:kube-proxy"), "get", "secrets")
    assert can(server, user("system:kube-dns"), "list", "services", "")
    assert can(server, user("anyone"), "create", "selfsubjectaccessreviews", "", group="authorization.k8s.io")


async def test_aggregation_follows_labelled_cluster_roles(rbac_server: APIServer, session) -> None:
    admin = As(session, rbac_server.url, "admin")
    crontabs = {"verbs": ["get", "list"], "apiGroups": ["stable.example.com"], "resources": ["crontabs"]}
    extra = role("crontab-reader", crontabs, kind="ClusterRole")
    extra["metadata"]["labels"] = {"rbac.authorization.kubernetes.io/aggregate-to-view": "true"}
    await create(rbac_server, admin, f"{CLUSTER}/clusterroles", extra)
    roles = rbac_server.authorizer.rbac.cluster_roles.objects
    # view selects it; edit selects view (labelled aggregate-to-edit), admin selects edit
    await eventually(lambda: all(crontabs in (roles[("", n)].get("rules") or []) for n in ("view", "edit", "admin")))
    viewer = user("carol")
    await create(rbac_server, admin, f"{NS}/rolebindings", role_binding("carol", "view", subject("carol")))
    assert can(rbac_server, viewer, "list", "crontabs", group="stable.example.com")
    status, _ = await admin.delete(f"{CLUSTER}/clusterroles/crontab-reader")
    assert status == 200
    await eventually(lambda: all(crontabs not in (roles[("", n)].get("rules") or []) for n in ("view", "admin")))
    await eventually(lambda: not can(rbac_server, viewer, "list", "crontabs", group="stable.example.com"))


async def test_bindings_grant_and_revoke_by_user_group_and_service_account(rbac_server: APIServer, session) -> None:
    admin = As(session, rbac_server.url, "admin")
    reader = role("reader", {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]})
    await create(rbac_server, admin, f"{NS}/roles", reader)
    account = User("system:serviceaccount:default:robot", groups=("system:serviceaccounts",))
    team = User("frank", groups=("team",))
    await create(rbac_server, admin, f"{NS}/rolebindings", role_binding(
        "readers", "reader", {"kind": "ServiceAccount", "name": "robot"}, subject("team", "Group"), kind="Role"))
    assert can(rbac_server, account, "get", "configmaps")
    assert can(rbac_server, team, "get", "configmaps")
    assert not can(rbac_server, team, "get", "configmaps", namespace="kube-system")  # a Role is namespaced
    assert not can(rbac_server, user("robot"), "get", "configmaps")
    status, _ = await admin.delete(f"{NS}/rolebindings/readers")
    assert status == 200
    await eventually(lambda: not can(rbac_server, account, "get", "configmaps"))
    # a ClusterRoleBinding grants everywhere; a binding to a missing role grants nothing
    binding = {**role_binding("everywhere", "no-such-role", subject("frank")), "kind": "ClusterRoleBinding"}
    await create(rbac_server, admin, f"{CLUSTER}/clusterrolebindings", binding)
    assert not can(rbac_server, team, "get", "configmaps")
    decision, reason = rbac_server.authorizer.rbac.decide(
        Attributes(team, "get", "/x", True, "", "v1", "configmaps", "", "default", ""))
    assert reason == f'RBAC: clusterrole.{RBAC} "no-such-role" not found'

    await create(rbac_server, admin, f"{CLUSTER}/clusterroles",
                 role("no-such-role", {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]},
                      kind="ClusterRole"))
    assert can(rbac_server, team, "get", "configmaps", namespace="kube-system")


async def test_escalate_and_bind_verbs_allow_what_one_does_not_hold(rbac_server: APIServer, session) -> None:
    admin, dana = As(session, rbac_server.url, "admin"), As(session, rbac_server.url, "dana")
    manage = role("rbac-manager", {"verbs": ["create", "get"], "apiGroups": [RBAC], "resources": ["roles",
                                                                                                  "rolebindings"]})
    await create(rbac_server, admin, f"{NS}/roles", manage)
    await create(rbac_server, admin, f"{NS}/rolebindings", role_binding("dana", "rbac-manager", subject("dana"),
                                                                        kind="Role"))
    secrets = {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}
    status, out = await dana.post(f"{NS}/roles", role("secret-reader", secrets))
    assert status == 403 and "attempting to grant RBAC permissions not currently held" in out["message"]
    # holding the permission is enough...
    await create(rbac_server, admin, f"{NS}/roles", role("secrets", secrets))
    await create(rbac_server, admin, f"{NS}/rolebindings", role_binding("dana-secrets", "secrets", subject("dana"),
                                                                        kind="Role"))
    status, out = await dana.post(f"{NS}/roles", role("secret-reader", secrets))
    assert status == 201, out
    # ...and so is the escalate verb (roles) or the bind verb (bindings), without holding it
    nodes = {"verbs": ["list"], "apiGroups": [""], "resources": ["nodes"]}
    status, _ = await dana.post(f"{NS}/roles", role("node-lister", nodes))
    assert status == 403
    await create(rbac_server, admin, f"{NS}/roles", role("escalator", {
        "verbs": ["escalate", "bind"], "apiGroups": [RBAC], "resources": ["roles", "clusterroles"],
        "resourceNames": ["node-lister", "cluster-admin"]}))
    await create(rbac_server, admin, f"{NS}/rolebindings", role_binding("dana-esc", "escalator", subject("dana"),
                                                                        kind="Role"))
    status, out = await dana.post(f"{NS}/roles", role("node-lister", nodes))
    assert status == 201, out
    status, out = await dana.post(f"{NS}/rolebindings", role_binding("erin-admin", "cluster-admin", subject("erin")))
    assert status == 201, out
    status, out = await dana.post(f"{NS}/rolebindings", role_binding("erin-edit", "edit", subject("erin")))
    assert status == 403  # no bind on edit, and dana does not hold edit's rules


async def test_reconcile_restores_autoupdated_roles_and_leaves_the_rest(tmp_path, session) -> None:
    async with secure_server(str(tmp_path), dict(TOKENS)) as server:
        admin = As(session, server.url, "admin")
        status, basic = await admin.get(f"{CLUSTER}/clusterroles/system:basic-user")
        basic["rules"] = basic["rules"][:1]
        status, out = await admin.put(f"{CLUSTER}/clusterroles/system:basic-user", basic)
        assert status == 200, out
        status, monitoring = await admin.get(f"{CLUSTER}/clusterroles/system:monitoring")
        monitoring["metadata"]["annotations"][policy.AUTOUPDATE] = "false"
        monitoring["rules"] = []
        status, out = await admin.put(f"{CLUSTER}/clusterroles/system:monitoring", monitoring)
        assert status == 200, out
        status, binding = await admin.get(f"{CLUSTER}/clusterrolebindings/system:basic-user")
        binding["subjects"].append(subject("extra-user"))
        status, out = await admin.put(f"{CLUSTER}/clusterrolebindings/system:basic-user", binding)
        assert status == 200, out
    async with secure_server(str(tmp_path), dict(TOKENS)) as server:
        admin = As(session, server.url, "admin")
        status, basic = await admin.get(f"{CLUSTER}/clusterroles/system:basic-user")
        assert basic["rules"] == policy.CLUSTER_ROLES["system:basic-user"][0]
        status, monitoring = await admin.get(f"{CLUSTER}/clusterroles/system:monitoring")
        assert monitoring.get("rules") in (None, [])
        status, binding = await admin.get(f"{CLUSTER}/clusterrolebindings/system:basic-user")
        assert subject("extra-user") in binding["subjects"]
        assert subject("system:authenticated", "Group") in binding["subjects"]


async def test_a_cache_that_falls_behind_starts_again_from_the_feed(rbac_server: APIServer, session) -> None:
    from hyperkube.machinery import errors

    admin = As(session, rbac_server.url, "admin")
    mirror = rbac_server.authorizer.rbac.mirrors["rolebindings"]
    first = mirror.subscription
    first.fail(errors.Gone.expired("watcher fell too far behind; start a new watch"))
    await eventually(lambda: mirror.subscription is not first)
    await create(rbac_server, admin, f"{NS}/rolebindings", role_binding("late", "view", subject("late")))
    assert can(rbac_server, user("late"), "list", "pods")


@pytest.mark.parametrize("who,verb,resource,group,sub,name,namespace", [
    # what our scheduler does (scheduler.py, its informers, leader election, events)
    ("system:kube-scheduler", "watch", "priorityclasses", "scheduling.k8s.io", "", "", ""),
    ("system:kube-scheduler", "list", "statefulsets", "apps", "", "", ""),
    ("system:kube-scheduler", "patch", "pods", "", "status", "p", "default"),
    ("system:kube-scheduler", "create", "leases", "coordination.k8s.io", "", "", "kube-system"),
    ("system:kube-scheduler", "patch", "events", "", "", "e", "default"),
    # what our controllers do under one identity
    ("system:kube-controller-manager", "create", "storageclasses", "storage.k8s.io", "", "", ""),
    ("system:kube-controller-manager", "create", "persistentvolumeclaims", "", "", "", "default"),
    ("system:kube-controller-manager", "create", "controllerrevisions", "apps", "", "", "default"),
    ("system:kube-controller-manager", "update", "deployments", "apps", "scale", "d", "default"),
    ("system:kube-controller-manager", "update", "namespaces", "", "finalize", "ns", ""),
    ("system:kube-controller-manager", "patch", "nodes", "", "", "n", ""),
    ("system:kube-controller-manager", "update", "leases", "coordination.k8s.io", "", "kube-controller-manager",
     "kube-system"),
    # the proxy's informers
    ("system:kube-proxy", "list", "services", "", "", "", ""),
    ("system:kube-proxy", "watch", "endpointslices", "discovery.k8s.io", "", "", ""),
])
async def test_component_identities_hold_what_the_components_do(rbac_server: APIServer, who: str, verb: str,
                                                                  resource: str, group: str, sub: str, name: str,
                                                                  namespace: str) -> None:
    assert can(rbac_server, user(who), verb, resource, namespace, name, group, sub)


async def test_the_escalation_plugin_judges_only_rbac_grants(rbac_server: APIServer) -> None:
    from hyperkube.apiserver import authz
    from hyperkube.apiserver.auth import AdmissionRequest
    from hyperkube.machinery import errors

    plugin = authz.rbac_escalation_plugin(rbac_server.authorizer)
    assert plugin is not None and plugin.name == "RBACEscalation"
    assert authz.rbac_escalation_plugin(object()) is None  # no RBAC, nothing to escalate
    registry = rbac_server.registry
    assert registry is not None
    roles = registry.get(RBAC, "v1", "roles")
    configmaps = registry.get("", "v1", "configmaps")
    nobody = user("nobody")
    everything = role("r", {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})

    def request(operation: str, resource: Any, obj: Any, old: Any = None, who: User = nobody) -> AdmissionRequest:
        return AdmissionRequest(operation, resource, "", "default", "r", obj, old, who)

    await plugin.validate(request("CREATE", configmaps, {"metadata": {"name": "r"}}))  # not RBAC
    await plugin.validate(request("DELETE", roles, None))  # deleting grants nothing
    await plugin.validate(request("CREATE", roles, everything, who=ADMIN))  # system:masters may
    labelled = {**everything, "metadata": {"name": "r", "labels": {"a": "b"}}}
    await plugin.validate(request("UPDATE", roles, labelled, everything))  # metadata only
    with pytest.raises(errors.Forbidden) as caught:
        await plugin.validate(request("CREATE", roles, everything))
    assert caught.value.code == 403
    with pytest.raises(errors.Forbidden, match='"no-such" not found'):
        await plugin.validate(request("CREATE", registry.get(RBAC, "v1", "rolebindings"),
                                      role_binding("b", "no-such", subject("nobody"), kind="Role")))


async def test_system_masters_cannot_be_locked_out(rbac_server: APIServer, session) -> None:
    admin = As(session, rbac_server.url, "admin")
    status, _ = await admin.delete(f"{CLUSTER}/clusterrolebindings/cluster-admin")
    assert status == 200
    await eventually(lambda: not can(rbac_server, ADMIN, "get", "pods"))  # RBAC no longer grants it...
    status, _ = await admin.get("/api/v1/namespaces/default/pods")
    assert status == 200  # ...the privileged group still does


async def test_always_deny_and_always_allow_modes(tmp_path, session) -> None:
    async with secure_server(str(tmp_path / "deny"), dict(TOKENS), mode="AlwaysDeny") as server:
        status, out = await As(session, server.url, "dana").get("/api/v1/namespaces")
        assert status == 403 and out["message"].endswith("at the cluster scope: Everything is forbidden.")
        status, _ = await As(session, server.url, "admin").get("/api/v1/namespaces")
        assert status == 200
    async with secure_server(str(tmp_path / "allow"), dict(TOKENS), mode="AlwaysAllow") as server:
        status, _ = await As(session, server.url, None).get("/api/v1/namespaces")
        assert status == 200


async def test_the_api_server_may_reach_kubelets_as_the_kubelet_asks(rbac_server: APIServer, session) -> None:
    """What a kubelet's SubjectAccessReview (kubelet/auth.py) asks for the API server's client."""
    admin = As(session, rbac_server.url, "admin")
    for verb, sub in (("create", "proxy"), ("get", "proxy"), ("get", "stats"), ("get", "log"), ("get", "metrics")):
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
            "user": "kube-apiserver-kubelet-client", "groups": ["system:authenticated"],
            "resourceAttributes": {"verb": verb, "resource": "nodes", "subresource": sub, "name": "n1"}}}
        status, out = await admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        assert status == 201 and out["status"]["allowed"] is True, (verb, sub, out)
        review["spec"]["user"] = "system:anonymous"
        review["spec"]["groups"] = ["system:unauthenticated"]
        status, out = await admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        assert out["status"]["allowed"] is False
