"""``rollout status|restart``, ``wait``, ``create <kind>`` and ``run`` against a real API server
(no controller runs here, so the test writes the deployment's status itself)."""

from __future__ import annotations

import json
import subprocess
import time

from tests.kubectl.conftest import HYPERKUBE


def test_rollout_status_follows_the_status_and_restart_patches_the_template(k):
    k.ok("create", "deployment", "roll", "--image=nginx:1.27", "--replicas=2")
    follower = subprocess.Popen([str(HYPERKUBE), "kubectl", "rollout", "status", "deploy/roll", "--timeout=60s"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=k.cluster.env())
    try:
        time.sleep(1.5)
        assert follower.poll() is None
        generation = json.loads(k.ok("get", "deploy", "roll", "-o", "json"))["metadata"]["generation"]
        status = {"status": {"observedGeneration": generation, "replicas": 2, "updatedReplicas": 2,
                             "readyReplicas": 2, "availableReplicas": 2}}
        k.ok("patch", "deploy", "roll", "--subresource=status", "--type=merge", "-p", json.dumps(status))
        out, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, err
    assert out.splitlines()[-1] == 'deployment "roll" successfully rolled out'
    assert k.ok("rollout", "status", "deploy/roll", "--watch=false") == 'deployment "roll" successfully rolled out\n'
    assert k.ok("rollout", "restart", "deployment", "roll") == "deployment.apps/roll restarted\n"
    annotations = json.loads(k.ok("get", "deploy", "roll", "-o", "jsonpath={.spec.template.metadata.annotations}"))
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    pending = k.ours("rollout", "status", "deploy/roll", "--watch=false")
    assert pending.stdout == "Waiting for deployment spec update to be observed...\n"


def test_wait_for_condition_jsonpath_and_delete(k):
    k.ok("run", "waited", "--image=busybox")
    assert k.ok("wait", "--for=jsonpath={.status.phase}=Pending", "pod/waited") == "pod/waited condition met\n"
    timed_out = k.ours("wait", "--for=condition=Ready", "pod/waited", "--timeout=1s")
    assert timed_out.returncode == 1
    assert timed_out.stderr == "error: timed out waiting for the condition on pods/waited\n"
    waiter = subprocess.Popen([str(HYPERKUBE), "kubectl", "wait", "--for=delete", "pod/waited", "--timeout=30s"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=k.cluster.env())
    try:
        time.sleep(1.5)
        k.ok("delete", "pod", "waited", "--wait=false")
        out, err = waiter.communicate(timeout=30)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 0, err
    assert out == "pod/waited condition met\n"


def test_create_kinds_and_run_match_the_real_kubectl(k):
    for tool, name in (("theirs", "real"), ("ours", "ours")):
        runner = getattr(k, tool)
        assert runner("create", "namespace", f"{name}-ns").stdout == f"namespace/{name}-ns created\n"
        assert runner("create", "configmap", f"{name}-cm", "--from-literal=a=1", "--from-literal=b=2").stdout == \
            f"configmap/{name}-cm created\n"
        assert runner("create", "secret", "generic", f"{name}-s", "--from-literal=p=q").stdout == \
            f"secret/{name}-s created\n"
        assert runner("create", "deployment", f"{name}-d", "--image=nginx:1.27", "--replicas=2").stdout == \
            f"deployment.apps/{name}-d created\n"
        assert runner("run", f"{name}-p", "--image=busybox", "--labels=a=b", "--env=X=1", "--", "sleep", "9").stdout \
            == f"pod/{name}-p created\n"
    for kind, field in (("cm", "data"), ("secret", "data"), ("deploy", "spec"), ("pod", "spec")):
        suffix = {"cm": "cm", "secret": "s", "deploy": "d", "pod": "p"}[kind]
        real = json.loads(k.ok("get", kind, f"real-{suffix}", "-o", "json"))
        ours = json.loads(k.ok("get", kind, f"ours-{suffix}", "-o", "json"))
        assert json.dumps(ours[field]).replace("ours-", "real-") == json.dumps(real[field]), kind


def test_expose_matches_the_real_kubectl(k):
    k.ok("create", "deployment", "exposed", "--image=nginx", "--port=8080")
    for tool, name in (("theirs", "real-svc"), ("ours", "ours-svc")):
        result = getattr(k, tool)("expose", "deploy", "exposed", "--port=80", "--target-port=8080", f"--name={name}")
        assert result.stdout == f"service/{name} exposed\n", result.stderr
    real = json.loads(k.ok("get", "svc", "real-svc", "-o", "json"))
    ours = json.loads(k.ok("get", "svc", "ours-svc", "-o", "json"))
    for field in ("selector", "ports", "type", "sessionAffinity"):
        assert ours["spec"][field] == real["spec"][field]
    assert ours["metadata"]["labels"] == real["metadata"]["labels"]


def test_edit_through_the_editor(k, tmp_path):
    k.ok("create", "configmap", "edited", "--from-literal=mode=slow")
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\npath = sys.argv[1]\ntext = open(path).read()\n"
                      "open(path, 'w').write(text.replace('mode: slow', 'mode: fast'))\n")
    env = {**k.cluster.env(), "KUBE_EDITOR": f"{__import__('sys').executable} {editor}"}
    result = k.ours("edit", "configmap", "edited", env=env)
    assert (result.returncode, result.stdout) == (0, "configmap/edited edited\n"), result.stderr
    assert json.loads(k.ok("get", "cm", "edited", "-o", "jsonpath={.data}")) == {"mode": "fast"}
    unchanged = k.ours("edit", "configmap", "edited", env={**k.cluster.env(), "KUBE_EDITOR": "true"})
    assert unchanged.stdout == "Edit cancelled, no changes made.\n"


def test_pause_resume_and_top_match_the_real_kubectl(k):
    for tool, name in (("theirs", "real-pause"), ("ours", "ours-pause")):
        runner = getattr(k, tool)
        runner("create", "deployment", name, "--image=nginx")
        steps = [("rollout", "pause", f"deploy/{name}"), ("rollout", "pause", f"deploy/{name}"),
                 ("rollout", "resume", f"deploy/{name}"), ("rollout", "resume", f"deploy/{name}")]
        results = [runner(*step) for step in steps]
        assert [(r.returncode, r.stdout.replace(name, "X"), r.stderr.replace(name, "X")) for r in results] == [
            (0, "deployment.apps/X paused\n", ""), (1, "", 'error: deployments.apps "X" is already paused\n'),
            (0, "deployment.apps/X resumed\n", ""), (1, "", 'error: deployments.apps "X" is not paused\n')]
    ours, theirs = k.ours("top", "pods"), k.theirs("top", "pods")
    # metrics.k8s.io is served; with no kubelet to scrape both say the same (no numbers yet)
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)


def test_create_service_job_and_set_image_match_the_real_kubectl(k):
    for tool, name in (("theirs", "real"), ("ours", "ours")):
        runner = getattr(k, tool)
        assert runner("create", "service", "nodeport", f"{name}-np", "--tcp=80:8080").stdout == \
            f"service/{name}-np created\n"
        assert runner("create", "job", f"{name}-job", "--image=busybox", "--", "echo", "hi").stdout == \
            f"job.batch/{name}-job created\n"
        runner("create", "deployment", f"{name}-img", "--image=nginx:1")
        result = runner("set", "image", f"deploy/{name}-img", "nginx=nginx:2")
        assert result.stdout == f"deployment.apps/{name}-img image updated\n", result.stderr
    for kind, suffix, path in (("svc", "np", "{.spec.ports[0].port}/{.spec.ports[0].targetPort}/{.spec.type}"),
                               ("job", "job", "{.spec.template.spec.containers[0].command}"),
                               ("deploy", "img", "{.spec.template.spec.containers[0].image}")):
        real = k.ok("get", kind, f"real-{suffix}", "-o", f"jsonpath={path}")
        assert k.ok("get", kind, f"ours-{suffix}", "-o", f"jsonpath={path}") == real
