"""The rest of kubectl's write path against a real ``hyperkube apiserver``: field ownership
across create / replace / apply --server-side, and the typed commands that send protobuf
bodies (create namespace|configmap|secret generic|deployment, auth can-i, auth whoami)."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading

import pytest
import yaml
from aiohttp import web

from tests.apiserver import _kubelet


def get(cluster, *what: str) -> dict:
    return json.loads(cluster.kubectl("get", *what, "-o", "json", "--show-managed-fields").stdout)


def managers(obj: dict) -> set[tuple[str, str]]:
    return {(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])}


CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"}, "data": {"a": "1"}}


def test_create_then_server_side_apply_conflicts_with_kubectl_create(cluster):
    cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(CONFIGMAP))
    assert managers(get(cluster, "configmap", "owned")) == {("kubectl-create", "Update")}

    changed = {**CONFIGMAP, "data": {"a": "2"}}
    result = cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(changed), check=False)
    assert result.returncode != 0
    assert 'conflict with "kubectl-create"' in result.stderr and ".data.a" in result.stderr

    forced = cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump(changed))
    assert "serverside-applied" in forced.stdout
    obj = get(cluster, "configmap", "owned")
    assert obj["data"] == {"a": "2"}
    assert ("kubectl", "Apply") in managers(obj)


def test_replace_keeps_ownership(cluster):
    config = {**CONFIGMAP, "metadata": {"name": "kept"}}
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(config))
    live = json.loads(cluster.kubectl("get", "configmap", "kept", "-o", "json").stdout)
    live["data"]["b"] = "2"
    cluster.kubectl("replace", "-f", "-", input=json.dumps(live))
    obj = get(cluster, "configmap", "kept")
    assert managers(obj) == {("kubectl", "Apply"), ("kubectl-replace", "Update")}
    owned = {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"]}
    assert owned["kubectl"] == {"f:data": {"f:a": {}}}
    assert owned["kubectl-replace"] == {"f:data": {"f:b": {}}}

    # the applier still owns a: changing it by apply needs no force, and b stays
    config["data"] = {"a": "3"}
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(config))
    assert get(cluster, "configmap", "kept")["data"] == {"a": "3", "b": "2"}


# ---- protobuf bodies -------------------------------------------------------------------------------


def test_create_namespace_configmap_secret_over_protobuf(cluster):
    assert cluster.kubectl("create", "namespace", "pb").stdout.strip() == "namespace/pb created"
    ns = get(cluster, "namespace", "pb")
    assert ns["metadata"]["name"] == "pb" and ns["status"]["phase"] == "Active"
    assert ("kubectl-create", "Update") in managers(ns)

    out = cluster.kubectl("create", "configmap", "cfg", "-n", "pb", "--from-literal=k1=v1",
                          "--from-literal=k2=line1\nline2").stdout
    assert out.strip() == "configmap/cfg created"
    cm = get(cluster, "configmap", "cfg", "-n", "pb")
    assert cm["data"] == {"k1": "v1", "k2": "line1\nline2"}

    out = cluster.kubectl("create", "secret", "generic", "sec", "-n", "pb", "--from-literal=password=s3cr3t",
                          "--type=Opaque").stdout
    assert out.strip() == "secret/sec created"
    secret = get(cluster, "secret", "sec", "-n", "pb")
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["password"]) == b"s3cr3t"

    again = cluster.kubectl("create", "configmap", "cfg", "-n", "pb", check=False)
    assert again.returncode == 1
    assert 'configmaps "cfg" already exists' in again.stderr


def test_create_deployment_over_protobuf(cluster):
    out = cluster.kubectl("create", "deployment", "dd", "--image=nginx:1.27", "--replicas=2", "--port=80").stdout
    assert out.strip() == "deployment.apps/dd created"
    deployment = get(cluster, "deployment", "dd")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "dd"}}
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "dd"}
    [container] = template["spec"]["containers"]
    assert container["image"] == "nginx:1.27" and container["name"] == "nginx"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"


def test_auth_can_i_and_whoami(cluster):
    assert cluster.kubectl("auth", "can-i", "get", "pods").stdout.strip() == "yes"
    assert cluster.kubectl("auth", "can-i", "create", "deployments.apps", "-n", "kube-system").stdout.strip() == "yes"
    whoami = cluster.kubectl("auth", "whoami", "-o", "json").stdout
    review = json.loads(whoami)
    assert review["kind"] == "SelfSubjectReview"
    assert review["status"]["userInfo"] == {"username": "kubernetes-admin",  # the admin client certificate
                                            "groups": ["system:masters", "system:authenticated"]}


# ---- eviction ---------------------------------------------------------------------------------------


def _running_pod_on(cluster, name: str, node: str, namespace: str = "drain") -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace,
                                                           "labels": {"app": "d"}},
           "spec": {"containers": [{"name": "c", "image": "nginx"}], **({"nodeName": node} if node else {})}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(pod))
    status = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    cluster.kubectl("patch", "pod", name, "-n", namespace, "--subresource=status", "--type=merge", "-p",
                    json.dumps(status))


def test_drain_evicts_and_respects_the_disruption_budget(cluster):
    cluster.kubectl("create", "namespace", "drain")
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(node))
    _running_pod_on(cluster, "a", "n1")
    _running_pod_on(cluster, "b", "n1")
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "keep", "namespace": "drain"},
           "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "d"}}}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(pdb))

    blocked = cluster.kubectl("drain", "n1", "--force", "--grace-period=0", "--timeout=3s", check=False)
    assert blocked.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in blocked.stderr
    assert cluster.kubectl("get", "pods", "-n", "drain", "-o", "name").stdout.split() == ["pod/a", "pod/b"]

    cluster.kubectl("delete", "pdb", "keep", "-n", "drain")
    drained = cluster.kubectl("drain", "n1", "--force", "--grace-period=0", "--timeout=30s")
    assert "evicting pod drain/a" in drained.stderr + drained.stdout
    assert "node/n1 drained" in drained.stdout
    assert cluster.kubectl("get", "pods", "-n", "drain", "-o", "name").stdout.split() == []


# ---- logs and exec through the API server to a kubelet ------------------------------------------------


@pytest.fixture(scope="module")
def kubelet(cluster):
    """tests/apiserver/_kubelet.py's app on its own loop in a thread (kubectl runs synchronously),
    serving TLS with node k1's certificate, as the API server calls kubelets over https."""
    loop = asyncio.new_event_loop()
    application = _kubelet.app()
    started: list = []
    ready = threading.Event()
    serving = cluster.node_pki("k1").serving
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(serving.cert, serving.key)

    async def start() -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(application)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def run() -> None:
        asyncio.set_event_loop(loop)
        started.append(loop.run_until_complete(start()))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    runner, port = started[0]
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def pod_on_kubelet(cluster, kubelet):
    cluster.kubectl("create", "-f", "-", input=json.dumps(_kubelet.node("k1", kubelet)))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shell"},
           "spec": {"nodeName": "k1", "containers": [{"name": "main", "image": "busybox"}]}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(pod))
    cluster.kubectl("patch", "pod", "shell", "--subresource=status", "--type=merge", "-p",
                    json.dumps({"status": {"phase": "Running", "podIP": "127.0.0.1"}}))
    return "shell"


def test_kubectl_logs_through_the_api_server(cluster, pod_on_kubelet):
    out = cluster.kubectl("logs", pod_on_kubelet, "--tail=3", "--timestamps").stdout
    assert out == 'log of default/shell/main {"tailLines": "3", "timestamps": "true"}\n'
    followed = cluster.kubectl("logs", "-f", pod_on_kubelet, "-c", "main").stdout
    assert followed.splitlines() == ['log of default/shell/main {"follow": "true"}', "line 0", "line 1", "line 2"]
    missing = cluster.kubectl("logs", pod_on_kubelet, "-c", "other", check=False)
    assert missing.returncode == 1 and "container other is not valid for pod shell" in missing.stderr


def test_kubectl_exec_through_the_api_server(cluster, pod_on_kubelet):
    result = cluster.kubectl("exec", "-i", pod_on_kubelet, "--", "cat", input="hello from stdin\n")
    lines = result.stdout.splitlines()
    said = json.loads(lines[0])
    assert said["path"] == "exec" and said["pod"] == "default/shell/main" and said["command"] == ["cat"]
    assert said["protocol"] == "v5.channel.k8s.io"
    assert lines[1:] == ["HELLO FROM STDIN"]
    assert "to stderr" in result.stderr

    failed = cluster.kubectl("exec", pod_on_kubelet, "--", "exit", "3", check=False)
    assert failed.returncode == 3
    assert "command terminated with exit code 3" in failed.stderr


def test_other_typed_create_commands_over_protobuf(cluster):
    cluster.kubectl("create", "namespace", "typed")
    n = ("-n", "typed")
    cluster.kubectl("create", "serviceaccount", "robot", *n)
    assert get(cluster, "serviceaccount", "robot", *n)["metadata"]["name"] == "robot"

    cluster.kubectl("create", "service", "clusterip", "web", "--tcp=80:8080", *n)
    service = get(cluster, "service", "web", *n)
    assert service["spec"]["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert service["spec"]["selector"] == {"app": "web"} and service["spec"]["clusterIP"]

    cluster.kubectl("create", "job", "once", "--image=busybox", *n, "--", "echo", "hi")
    job = get(cluster, "job", "once", *n)
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["echo", "hi"] and container["image"] == "busybox"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"

    cluster.kubectl("create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", *n, "--", "date")
    cronjob = get(cluster, "cronjob", "tick", *n)
    assert cronjob["spec"]["schedule"] == "*/5 * * * *"
    assert cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] == ["date"]

    cluster.kubectl("create", "role", "reader", "--verb=get,list", "--resource=pods", *n)
    assert get(cluster, "role", "reader", *n)["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                                                            "verbs": ["get", "list"]}]
    cluster.kubectl("create", "rolebinding", "reads", "--role=reader", "--user=bob", *n)
    binding = get(cluster, "rolebinding", "reads", *n)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]

    cluster.kubectl("create", "pdb", "budget", "--selector=app=web", "--min-available=50%", *n)
    assert get(cluster, "pdb", "budget", *n)["spec"]["minAvailable"] == "50%"
    cluster.kubectl("create", "quota", "limits", "--hard=pods=10,requests.cpu=2", *n)
    assert get(cluster, "quota", "limits", *n)["spec"]["hard"] == {"pods": "10", "requests.cpu": "2"}

    cluster.kubectl("create", "ingress", "entry", "--rule=foo.com/bar*=web:8080", *n)
    [rule] = get(cluster, "ingress", "entry", *n)["spec"]["rules"]
    assert rule["host"] == "foo.com"
    assert rule["http"]["paths"] == [{"path": "/bar", "pathType": "Prefix",
                                      "backend": {"service": {"name": "web", "port": {"number": 8080}}}}]

    cluster.kubectl("create", "deployment", "scaled", "--image=nginx", *n)
    cluster.kubectl("autoscale", "deployment", "scaled", "--max=3", "--cpu=50%", *n)
    hpa = get(cluster, "hpa", "scaled", *n)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scaled"}
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 50}

    listing = cluster.kubectl("auth", "can-i", "--list", *n).stdout
    assert "*.*" in listing.splitlines()[1]


def test_kubectl_attach_and_node_proxy(cluster, pod_on_kubelet):
    attached = cluster.kubectl("attach", pod_on_kubelet, "-c", "main")
    said = json.loads(attached.stdout.splitlines()[0])
    assert said["path"] == "attach" and said["pod"] == "default/shell/main"
    assert cluster.kubectl("get", "--raw", "/api/v1/nodes/k1/proxy/healthz").stdout == "ok"


def test_python_client_exec_and_logs(cluster, pod_on_kubelet):
    from kubernetes import client as k8s
    from kubernetes import config
    from kubernetes.stream import stream

    api = k8s.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    out = stream(api.connect_get_namespaced_pod_exec, pod_on_kubelet, "default", command=["ls", "-l"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    said = json.loads(out.splitlines()[0])
    assert said["command"] == ["ls", "-l"] and said["flags"] == {"output": "1", "error": "1"}
    assert said["protocol"] in ("v4.channel.k8s.io", "v5.channel.k8s.io")
    assert api.read_namespaced_pod_log(pod_on_kubelet, "default", tail_lines=10).startswith(
        'log of default/shell/main {"tailLines": "10"}')


def test_client_side_then_server_side_apply(cluster):
    config = {**CONFIGMAP, "metadata": {"name": "moved"}}
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(config))
    config["data"] = {"a": "2"}
    out = cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(config)).stdout
    assert out.strip() == "configmap/moved serverside-applied"
    obj = get(cluster, "configmap", "moved")
    assert obj["data"] == {"a": "2"}
    owned = {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"]}
    assert owned["kubectl"] == {"f:data": {"f:a": {}}}


def test_python_client_eviction(cluster):
    from kubernetes import client as k8s
    from kubernetes import config
    from kubernetes.client.rest import ApiException

    api = k8s.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    cluster.kubectl("create", "namespace", "evict")
    for name in ("e1", "e2"):
        _running_pod_on(cluster, name, "", namespace="evict")
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "one", "namespace": "evict"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "d"}}}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(pdb))

    def evict(name: str) -> None:
        body = k8s.V1Eviction(metadata=k8s.V1ObjectMeta(name=name, namespace="evict"))
        api.create_namespaced_pod_eviction(name, "evict", body)

    evict("e1")
    with pytest.raises(ApiException) as refused:
        evict("e2")
    assert refused.value.status == 429
    assert json.loads(refused.value.body)["message"] == "Cannot evict pod as it would violate the pod's disruption " \
                                                        "budget."
    assert [p.metadata.name for p in api.list_namespaced_pod("evict").items] == ["e2"]
