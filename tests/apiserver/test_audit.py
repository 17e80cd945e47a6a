"""The audit log: JSON lines of audit.k8s.io/v1 Events at the level the policy gives."""

from __future__ import annotations

import json
from pathlib import Path

from hyperkube.apiserver import audit, auth
from tests.apiserver._admission import PODS, serving
from tests.apiserver._server import pod

POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/version"]
  - level: None
    verbs: [get, list, watch]
  - level: RequestResponse
    resources: [{group: "", resources: [configmaps]}]
  - level: Request
    resources: [{group: "", resources: ["pods", "pods/*"]}]
    namespaces: [default]
  - level: Metadata
"""


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_create_and_forbidden_create_are_recorded(tmp_path) -> None:
    log = tmp_path / "audit" / "audit.log"
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    async with serving(tmp_path / "data", audit_log_path=str(log), audit_policy_file=str(policy),
                       enable_admission_plugins=["ResourceQuota"]) as (_, client):
        await client.get("/healthz")
        await client.get(PODS)
        quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}}
        await client.post("/api/v1/namespaces/default/resourcequotas", quota)
        status, _ = await client.post(PODS, pod("first"), headers={"User-Agent": "audit-test/1.0"})
        assert status == 201
        status, _ = await client.post(PODS, pod("second"))
        assert status == 403
        await client.post("/api/v1/namespaces/default/configmaps",
                          {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"k": "v"}})
        status, _ = await client.delete(PODS + "/missing")
        assert status == 404
    recorded = events(log)  # stop() flushed the writer
    assert all(e["stage"] == "ResponseComplete" for e in recorded)
    assert [(e["verb"], e["objectRef"]["resource"], e["responseStatus"]["code"]) for e in recorded] == [
        ("create", "resourcequotas", 201), ("create", "pods", 201), ("create", "pods", 403),
        ("create", "configmaps", 201), ("delete", "pods", 404)]
    quota_event, created, refused, configmap, missing = recorded
    assert quota_event["level"] == "Metadata" and "requestObject" not in quota_event
    assert created["kind"] == "Event" and created["apiVersion"] == "audit.k8s.io/v1"
    assert created["level"] == "Request"
    assert created["requestURI"] == PODS
    assert created["user"] == auth.INSECURE_SUPERUSER.to_dict()
    assert created["sourceIPs"] == ["127.0.0.1"] and created["userAgent"] == "audit-test/1.0"
    assert created["objectRef"] == {"resource": "pods", "namespace": "default", "apiVersion": "v1"}
    assert created["requestObject"]["metadata"]["name"] == "first"
    assert "responseObject" not in created
    assert created["auditID"] and created["requestReceivedTimestamp"].endswith("Z")
    assert refused["responseStatus"]["reason"] == "Forbidden"
    assert refused["responseStatus"]["message"].startswith('pods "second" is forbidden: exceeded quota: q')
    assert configmap["level"] == "RequestResponse"
    assert configmap["responseObject"]["metadata"]["name"] == "cm"
    assert missing["objectRef"]["name"] == "missing" and missing["responseStatus"]["reason"] == "NotFound"


async def test_without_a_policy_everything_is_metadata_with_both_stages(tmp_path) -> None:
    log = tmp_path / "audit.log"
    async with serving(tmp_path / "data", audit_log_path=str(log)) as (_, client):
        status, _ = await client.get("/version")
        assert status == 200
    first, second = events(log)
    assert (first["stage"], second["stage"]) == ("RequestReceived", "ResponseComplete")
    assert first["auditID"] == second["auditID"]
    assert second["verb"] == "get" and second["requestURI"] == "/version" and "objectRef" not in second
    assert second["responseStatus"] == {"metadata": {}, "code": 200}


def test_rule_matching() -> None:
    policy = audit.Policy.parse(POLICY)
    admin = auth.User("admin", groups=("system:masters",))

    def level(verb: str, resource: str = "", subresource: str = "", namespace: str = "", path: str = "/x") -> str:
        attributes = auth.Attributes(admin, verb, path, bool(resource), "", "v1", resource, subresource, namespace)
        return policy.decide(admin, attributes)[0]

    assert level("get", path="/healthz/ready") == "None"
    assert level("create", "pods", "eviction", "default") == "Request"
    assert level("create", "pods", "", "other") == "Metadata"
    assert level("update", "configmaps", "", "x") == "RequestResponse"
    assert level("post", path="/api") == "Metadata"


async def test_a_body_over_the_limit_is_a_recorded_413(tmp_path) -> None:
    log = tmp_path / "audit.log"
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Request}]\n")
    async with serving(tmp_path / "data", audit_log_path=str(log), audit_policy_file=str(policy)) as (_, client):

        async def chunks():
            for _ in range(4):
                yield b" " * (1024 * 1024)

        async with client.session.post(client.url + "/api/v1/namespaces/default/configmaps", data=chunks()) as response:
            assert response.status == 413
            assert (await response.json())["reason"] == "RequestEntityTooLarge"
    [received, complete] = events(log)
    assert complete["responseStatus"]["code"] == 413 and "requestObject" not in complete
