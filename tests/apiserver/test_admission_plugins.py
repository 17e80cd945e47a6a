"""ServiceAccount, DefaultStorageClass and NodeRestriction admission, and the plugin list."""

from __future__ import annotations

import pytest

from hyperkube.apiserver import admission, auth
from hyperkube.apiserver.app import APIServerConfig
from hyperkube.apiserver.objects import Objects
from hyperkube.machinery import errors
from tests.apiserver._admission import PODS, serving
from tests.apiserver._server import pod

TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


async def test_service_account_default_and_token_volume(tmp_path) -> None:
    async with serving(tmp_path, enable_admission_plugins=["ServiceAccount"]) as (_, client):
        status, body = await client.post(PODS, pod("early"))
        assert status == 403
        assert body["message"] == ('pods "early" is forbidden: error looking up service account default/default: '
                                   'serviceaccount "default" not found')
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"},
                   "imagePullSecrets": [{"name": "registry"}]}
        assert (await client.post("/api/v1/namespaces/default/serviceaccounts", account))[0] == 201
        status, created = await client.post(PODS, pod("web"))
        assert status == 201, created
        spec = created["spec"]
        assert spec["serviceAccountName"] == "default"
        assert spec["imagePullSecrets"] == [{"name": "registry"}]
        [volume] = spec["volumes"]
        assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == len("kube-api-access-") + 5
        sources = volume["projected"]["sources"]
        assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
        assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
        assert spec["containers"][0]["volumeMounts"] == [{"name": volume["name"], "readOnly": True,
                                                          "mountPath": TOKEN_PATH}]
        quiet = pod("quiet", automountServiceAccountToken=False)
        status, created = await client.post(PODS, quiet)
        assert status == 201
        assert "volumes" not in created["spec"] and "volumeMounts" not in created["spec"]["containers"][0]
        status, body = await client.post(PODS, pod("other", serviceAccountName="robot"))
        assert status == 403 and "serviceaccount \"robot\" not found" in body["message"]


async def test_default_storage_class(tmp_path) -> None:
    async with serving(tmp_path, enable_admission_plugins=["DefaultStorageClass"]) as (_, client):
        for name, default in (("slow", "false"), ("local-path", "true")):
            klass = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "provisioner": "rancher.io/local-path",
                     "metadata": {"name": name,
                                  "annotations": {"storageclass.kubernetes.io/is-default-class": default}}}
            assert (await client.post("/apis/storage.k8s.io/v1/storageclasses", klass))[0] == 201
        claims = "/api/v1/namespaces/default/persistentvolumeclaims"

        def claim(name: str, **spec: object) -> dict:
            return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                             **spec}}

        status, created = await client.post(claims, claim("plain"))
        assert status == 201 and created["spec"]["storageClassName"] == "local-path"
        status, created = await client.post(claims, claim("none", storageClassName=""))
        assert created["spec"]["storageClassName"] == ""
        status, created = await client.post(claims, claim("mine", storageClassName="slow"))
        assert created["spec"]["storageClassName"] == "slow"


NODE = auth.User("system:node:n1", groups=("system:nodes", "system:authenticated"))


async def test_node_restriction(tmp_path) -> None:
    async with serving(tmp_path) as (server, client):  # the server's own chain: none
        config = APIServerConfig(enable_admission_plugins=["NodeRestriction"])
        objects = Objects(server.store, server.registry, hub=server.hub)
        objects.admission = await admission.build(config, objects)
        pods = server.registry.get("", "v1", "pods")
        nodes = server.registry.get("", "v1", "nodes")
        for name in ("n1", "n2"):
            await objects.create(nodes, "", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        await objects.create(pods, "default", pod("mine", nodeName="n1"))
        await objects.create(pods, "default", pod("theirs", nodeName="n2"))
        token = auth.current_user.set(NODE)
        try:
            with pytest.raises(errors.Forbidden) as refused:
                await objects.create(pods, "default", pod("plain", nodeName="n1"))
            assert refused.value.message == ('pods "plain" is forbidden: pod does not have '
                                             '"kubernetes.io/config.mirror" annotation, node "n1" can only create '
                                             "mirror pods")
            mirror = pod("static-n1", nodeName="n1")
            mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
            await objects.create(pods, "default", mirror)
            theirs = await objects.get(pods, "default", "theirs")
            theirs["status"] = {"phase": "Running"}
            with pytest.raises(errors.Forbidden) as refused:
                await objects.update(pods, "default", "theirs", theirs, subresource="status")
            assert "can only update pod status for pods with spec.nodeName set to itself" in refused.value.message
            mine = await objects.get(pods, "default", "mine")
            mine["status"] = {"phase": "Running"}
            await objects.update(pods, "default", "mine", mine, subresource="status")
            other = await objects.get(nodes, "", "n2")
            other["metadata"]["labels"] = {"x": "y"}
            with pytest.raises(errors.Forbidden) as refused:
                await objects.update(nodes, "", "n2", other)
            assert refused.value.message == 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'
            own = await objects.get(nodes, "", "n1")
            own["metadata"]["labels"] = {"node-restriction.kubernetes.io/pool": "a", "kubernetes.io/os": "linux"}
            with pytest.raises(errors.Forbidden) as refused:
                await objects.update(nodes, "", "n1", own)
            assert refused.value.message == ('nodes "n1" is forbidden: node "n1" is not allowed to modify labels: '
                                             "node-restriction.kubernetes.io/pool")
            own["metadata"]["labels"] = {"kubernetes.io/os": "linux", "example.com/rack": "r1"}
            await objects.update(nodes, "", "n1", own)
            from hyperkube.apiserver import deletion

            with pytest.raises(errors.Forbidden) as refused:
                await deletion.delete(objects, pods, "default", "theirs", {})
            assert "can only delete pods with spec.nodeName set to itself" in refused.value.message
            await deletion.delete(objects, pods, "default", "mine", {"gracePeriodSeconds": 0})
        finally:
            auth.current_user.reset(token)
        # the same writes by anyone else pass
        await objects.create(pods, "default", pod("plain", nodeName="n1"))
        _, listed = await client.get(PODS)
        assert sorted(p["metadata"]["name"] for p in listed["items"]) == ["plain", "static-n1", "theirs"]


def test_plugin_names_follow_kubernetes_order_and_flags() -> None:
    config = APIServerConfig(enable_admission_plugins=["ResourceQuota", "ServiceAccount", "NamespaceLifecycle"],
                             disable_admission_plugins=["NamespaceLifecycle"])
    assert admission.plugin_names(config) == ["ServiceAccount", "ResourceQuota"]
    assert admission.plugin_names(APIServerConfig()) == list(admission.IN_PROCESS_PLUGINS)
    with pytest.raises(ValueError, match="unknown admission plugins: Bogus"):
        admission.plugin_names(APIServerConfig(enable_admission_plugins=["Bogus"]))


async def test_rbac_escalation_check_is_in_the_chain_when_rbac_is_on(tmp_path) -> None:
    async with serving(tmp_path, authorization_mode="RBAC") as (server, _):
        objects = server.authorizer.aggregator.objects
        assert objects.admission.names == ["NamespaceLifecycle", "DefaultTolerationSeconds", "RBACEscalation"]
        bindings = server.registry.get("rbac.authorization.k8s.io", "v1", "rolebindings")
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "grab"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                   "subjects": [{"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}]}
        token = auth.current_user.set(auth.User("mallory", groups=("system:authenticated",)))
        try:
            with pytest.raises(errors.Forbidden, match="attempting to grant RBAC permissions not currently held"):
                await objects.create(bindings, "default", binding)
        finally:
            auth.current_user.reset(token)
        await objects.create(bindings, "default", binding)  # the superuser may
    async with serving(tmp_path / "again", authorization_mode="RBAC",
                       disable_admission_plugins=["RBACEscalation"]) as (server, _):
        assert "RBACEscalation" not in server.authorizer.aggregator.objects.admission.names
