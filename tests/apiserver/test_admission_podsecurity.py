"""PodSecurity admission: namespace labels choose baseline or restricted; violations are refused
with Kubernetes' message."""

from __future__ import annotations

from hyperkube.apiserver.admission.podsecurity import check
from tests.apiserver._admission import serving
from tests.apiserver._server import pod

RESTRICTED_OK = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "c", "image": "nginx", "securityContext": {
                     "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}


async def test_enforce_label_refuses_and_admits(tmp_path) -> None:
    async with serving(tmp_path, enable_admission_plugins=["PodSecurity"]) as (_, client):
        for name, level in (("strict", "restricted"), ("base", "baseline"), ("open", "")):
            labels = {"pod-security.kubernetes.io/enforce": level} if level else {}
            await client.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": name, "labels": labels}})
        status, body = await client.post("/api/v1/namespaces/strict/pods", pod("plain"))
        assert status == 403
        assert body["message"] == (
            'pods "plain" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
            '(container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
            '(container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
            'container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must '
            'set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
        status, _ = await client.post("/api/v1/namespaces/strict/pods", {**pod("good"), "spec": RESTRICTED_OK})
        assert status == 201
        assert (await client.post("/api/v1/namespaces/base/pods", pod("plain")))[0] == 201
        privileged = pod("root", hostNetwork=True)
        privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
        status, body = await client.post("/api/v1/namespaces/base/pods", privileged)
        assert status == 403
        assert body["message"] == ('pods "root" is forbidden: violates PodSecurity "baseline:latest": host '
                                   'namespaces (hostNetwork=true), privileged (container "c" must not set '
                                   "securityContext.privileged=true)")
        assert (await client.post("/api/v1/namespaces/open/pods", privileged))[0] == 201


def test_baseline_volume_port_and_capability_checks() -> None:
    spec = {"volumes": [{"name": "host", "hostPath": {"path": "/"}}],
            "containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}],
                            "securityContext": {"capabilities": {"add": ["NET_ADMIN", "CHOWN"]}}}]}
    assert check("baseline", {"spec": spec}) == [
        'non-default capabilities (container "a" must not include "NET_ADMIN" in securityContext.capabilities.add)',
        'hostPath volumes (volume "host")',
        'hostPort (container "a" uses hostPort 8080)']
    assert 'restricted volume types (volume "host" uses restricted volume type "hostPath")' in check(
        "restricted", {"spec": spec})
