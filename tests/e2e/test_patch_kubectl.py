"""kubectl's write path against a real ``hyperkube apiserver``: apply (client- and server-side),
patch of every type, diff, set image, scale, and a kopf-style finalizer patch; plus the Python
client's two patch forms."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config

from tests.e2e._cluster import KUBECTL

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def web_deployment(name: str, image: str, env: list[dict[str, str]], replicas: int = 1) -> str:
    app = {"name": "app", "image": image, **({"env": env} if env else {})}
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [app, {"name": "log", "image": "busybox"}]}}}})


def get(cluster, *what: str) -> dict:
    return json.loads(cluster.kubectl("get", *what, "-o", "json").stdout)


def containers(obj: dict) -> dict[str, dict]:
    return {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}


def test_client_side_apply_create_change_unchanged(cluster):
    first = web_deployment("web", "nginx:1.26", [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    assert cluster.kubectl("apply", "-f", "-", input=first).stdout.strip() == "deployment.apps/web created"
    created = get(cluster, "deployment", "web")
    assert json.loads(created["metadata"]["annotations"][LAST_APPLIED])["spec"]["replicas"] == 1

    # someone else labels it
    assert "labeled" in cluster.kubectl("label", "deployment", "web", "team=ops").stdout

    second = web_deployment("web", "nginx:1.27", [{"name": "A", "value": "1"}])
    assert cluster.kubectl("apply", "-f", "-", input=second).stdout.strip() == "deployment.apps/web configured"
    changed = get(cluster, "deployment", "web")
    app = containers(changed)["app"]
    assert app["image"] == "nginx:1.27"
    assert app["env"] == [{"name": "A", "value": "1"}]
    assert containers(changed)["log"]["image"] == "busybox"
    assert [c["name"] for c in changed["spec"]["template"]["spec"]["containers"]] == ["app", "log"]
    assert changed["metadata"]["labels"] == {"app": "web", "team": "ops"}
    assert changed["metadata"]["generation"] == created["metadata"]["generation"] + 1
    assert "nginx:1.27" in changed["metadata"]["annotations"][LAST_APPLIED]

    assert cluster.kubectl("apply", "-f", "-", input=second).stdout.strip() == "deployment.apps/web unchanged"
    assert get(cluster, "deployment", "web")["metadata"]["resourceVersion"] == changed["metadata"]["resourceVersion"]


def test_diff_uses_a_dry_run(cluster):
    manifest = web_deployment("diffed", "nginx:1", [])
    cluster.kubectl("apply", "-f", "-", input=manifest)
    same = cluster.kubectl("diff", "-f", "-", input=manifest, check=False)
    assert same.returncode == 0 and same.stdout == ""
    changed = cluster.kubectl("diff", "-f", "-", input=web_deployment("diffed", "nginx:2", []), check=False)
    assert changed.returncode == 1, changed.stderr
    removed = [line for line in changed.stdout.splitlines() if line.startswith("-") and "image:" in line]
    added = [line for line in changed.stdout.splitlines() if line.startswith("+") and "image:" in line]
    assert [line.split()[-1] for line in removed] == ["nginx:1"] and [line.split()[-1] for line in added] == ["nginx:2"]
    assert containers(get(cluster, "deployment", "diffed"))["app"]["image"] == "nginx:1"  # nothing written


@pytest.mark.parametrize("kind, patch, check", [
    ("json", '[{"op":"replace","path":"/spec/replicas","value":4},{"op":"add","path":"/metadata/labels/j","value":"1"}]',
     lambda d: d["spec"]["replicas"] == 4 and d["metadata"]["labels"]["j"] == "1"),
    ("merge", '{"metadata":{"labels":{"m":"1","app":null}}}',
     lambda d: d["metadata"]["labels"] == {"m": "1"}),
    ("strategic", '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"redis"}]}}}}',
     lambda d: [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["side", "app", "log"]),
    ("merge", '{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"redis"}]}}}}',
     lambda d: [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["only"]),
])
def test_patch_types(cluster, kind, patch, check):
    name = f"patched-{kind}-{len(patch)}"
    cluster.kubectl("apply", "-f", "-", input=web_deployment(name, "nginx", []))
    out = cluster.kubectl("patch", "deployment", name, "--type", kind, "-p", patch).stdout
    assert out.strip() == f"deployment.apps/{name} patched"
    assert check(get(cluster, "deployment", name))
    again = cluster.kubectl("patch", "deployment", name, "--type", kind, "-p", patch)
    if kind != "strategic" or "side" not in patch:
        assert "(no change)" in again.stdout or "patched" in again.stdout


def test_patch_errors_as_kubectl_prints_them(cluster):
    cluster.kubectl("apply", "-f", "-", input=web_deployment("perr", "nginx", []))
    missing = cluster.kubectl("patch", "deployment", "perr", "--type", "json",
                              "-p", '[{"op":"remove","path":"/spec/nothing"}]', check=False)
    assert missing.returncode != 0
    assert missing.stderr.strip() == ("The request is invalid: the server rejected our request due to an error "
                                      "in our request")
    invalid = cluster.kubectl("patch", "deployment", "perr", "--type", "merge", "-p", '{"spec":{"replicas":-1}}',
                              check=False)
    assert invalid.returncode != 0 and 'The Deployment "perr" is invalid' in invalid.stderr
    absent = cluster.kubectl("patch", "deployment", "nope", "--type", "merge", "-p", "{}", check=False)
    assert 'deployments.apps "nope" not found' in absent.stderr


def test_set_image_scale_and_status(cluster):
    cluster.kubectl("apply", "-f", "-", input=web_deployment("tools", "nginx:1", []))
    out = cluster.kubectl("set", "image", "deployment/tools", "app=nginx:9").stdout
    assert "image updated" in out
    deployed = get(cluster, "deployment", "tools")
    assert containers(deployed)["app"]["image"] == "nginx:9" and containers(deployed)["log"]["image"] == "busybox"
    assert cluster.kubectl("scale", "deployment", "tools", "--replicas=3").stdout.strip() == \
        "deployment.apps/tools scaled"
    assert get(cluster, "deployment", "tools")["spec"]["replicas"] == 3
    out = cluster.kubectl("patch", "deployment", "tools", "--subresource=status", "--type=merge",
                          "-p", '{"status":{"observedGeneration":7}}').stdout
    assert "patched" in out
    assert get(cluster, "deployment", "tools")["status"]["observedGeneration"] == 7


def test_server_side_apply_conflict_and_force(cluster):
    manifest = web_deployment("ssa", "nginx:1", [{"name": "A", "value": "1"}], replicas=2)
    out = cluster.kubectl("apply", "--server-side", "-f", "-", input=manifest).stdout
    assert out.strip() == "deployment.apps/ssa serverside-applied"
    managed = json.loads(cluster.kubectl("get", "deployment", "ssa", "-o", "json", "--show-managed-fields").stdout)
    entries = {(e["manager"], e["operation"]) for e in managed["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in entries

    cluster.kubectl("patch", "deployment", "ssa", "--type", "merge", "-p", '{"spec":{"replicas":5}}')
    conflict = cluster.kubectl("apply", "--server-side", "-f", "-", input=manifest, check=False)
    assert conflict.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: .spec.replicas' \
        in conflict.stderr
    assert get(cluster, "deployment", "ssa")["spec"]["replicas"] == 5

    preview = cluster.kubectl("diff", "--server-side", "--force-conflicts", "-f", "-", input=manifest, check=False)
    assert preview.returncode == 1 and "-  replicas: 5" in preview.stdout and "+  replicas: 2" in preview.stdout
    forced = cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=manifest)
    assert forced.stdout.strip() == "deployment.apps/ssa serverside-applied"
    assert get(cluster, "deployment", "ssa")["spec"]["replicas"] == 2
    same = cluster.kubectl("diff", "--server-side", "-f", "-", input=manifest, check=False)
    assert same.returncode == 0 and same.stdout == "", same.stdout + same.stderr

    # dropping an env var from the applied file removes it; a label added by another manager stays
    cluster.kubectl("label", "deployment", "ssa", "team=ops")
    cluster.kubectl("apply", "--server-side", "-f", "-", input=web_deployment("ssa", "nginx:2", [], replicas=2))
    after = get(cluster, "deployment", "ssa")
    assert "env" not in containers(after)["app"] and containers(after)["app"]["image"] == "nginx:2"
    assert after["metadata"]["labels"] == {"app": "ssa", "team": "ops"}


def test_kopf_style_finalizer_patch(cluster):
    cluster.kubectl("apply", "-f", "-", input=web_deployment("kopfed", "nginx", []))
    rv = get(cluster, "deployment", "kopfed")["metadata"]["resourceVersion"]
    add = json.dumps([{"op": "test", "path": "/metadata/resourceVersion", "value": rv},
                      {"op": "add", "path": "/metadata/finalizers", "value": ["kopf.zalando.org/KopfFinalizerMarker"]}])
    cluster.kubectl("patch", "deployment", "kopfed", "--type", "json", "-p", add)
    patched = get(cluster, "deployment", "kopfed")
    assert patched["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]
    stale = cluster.kubectl("patch", "deployment", "kopfed", "--type", "json", "-p", json.dumps(
        [{"op": "test", "path": "/metadata/resourceVersion", "value": rv},
         {"op": "remove", "path": "/metadata/finalizers"}]), check=False)
    assert stale.returncode != 0 and "the server rejected our request" in stale.stderr
    assert get(cluster, "deployment", "kopfed")["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]
    fresh = patched["metadata"]["resourceVersion"]
    cluster.kubectl("patch", "deployment", "kopfed", "--type", "json", "-p", json.dumps(
        [{"op": "test", "path": "/metadata/resourceVersion", "value": fresh},
         {"op": "remove", "path": "/metadata/finalizers"}]))
    assert "finalizers" not in get(cluster, "deployment", "kopfed")["metadata"]


def test_python_client_patches(cluster):
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        apps = k8s.AppsV1Api(api_client)
        cluster.kubectl("apply", "-f", "-", input=web_deployment("py", "nginx:1", [{"name": "A", "value": "1"}]))
        # a dict body is sent as a strategic merge patch: containers merge by name
        apps.patch_namespaced_deployment("py", "default", {"spec": {"template": {"spec": {
            "containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}})
        app = containers(get(cluster, "deployment", "py"))["app"]
        assert app["image"] == "nginx:1" and [e["name"] for e in app["env"]] == ["B", "A"]
        # a list body is sent as a JSON patch
        result = apps.patch_namespaced_deployment("py", "default", [
            {"op": "replace", "path": "/spec/replicas", "value": 2}])
        assert result.spec.replicas == 2
        with pytest.raises(k8s.ApiException) as failed:
            apps.patch_namespaced_deployment("py", "default", [{"op": "test", "path": "/spec/replicas", "value": 9}])
        assert failed.value.status == 422
    finally:
        api_client.close()


def test_annotate_and_edit(cluster, tmp_path):
    cluster.kubectl("apply", "-f", "-", input=web_deployment("edited", "nginx:1", [{"name": "A", "value": "1"}]))
    assert "annotated" in cluster.kubectl("annotate", "deployment", "edited", "note=hello").stdout
    assert get(cluster, "deployment", "edited")["metadata"]["annotations"]["note"] == "hello"
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        "path = pathlib.Path(sys.argv[-1])\n"
        "text = path.read_text().replace('image: nginx:1', 'image: nginx:5')\n"
        "text = text.replace('note: hello', 'note: edited')\n"
        "path.write_text(text)\n")
    env_editor = f"{sys.executable} {editor}"
    result = subprocess.run([str(KUBECTL), "edit", "deployment", "edited"], capture_output=True, text=True,
                            env={**cluster.env(), "EDITOR": env_editor, "KUBE_EDITOR": env_editor}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deployment.apps/edited edited"
    edited = get(cluster, "deployment", "edited")
    assert containers(edited)["app"]["image"] == "nginx:5"
    assert containers(edited)["app"]["env"] == [{"name": "A", "value": "1"}]
    assert edited["metadata"]["annotations"]["note"] == "edited"
