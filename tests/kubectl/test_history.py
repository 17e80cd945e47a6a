"""``rollout history`` and ``rollout undo`` side by side with the real kubectl. No controller runs
here, so each test writes the revisions a controller would have made: ReplicaSets for a
Deployment, ControllerRevisions for a DaemonSet, owned by the workload."""

from __future__ import annotations

import json

import yaml


def _template(image: str, extra: dict[str, str] | None = None) -> dict:
    labels = {"app": "h", **(extra or {})}
    return {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": image}]}}


def _deployment(k, name: str) -> dict:
    k.ok("apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "annotations": {"deployment.kubernetes.io/revision": "3"}},
        "spec": {"selector": {"matchLabels": {"app": "h"}}, "template": _template("nginx:3")}}))
    deployment = json.loads(k.ok("get", "deploy", name, "-o", "json"))
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
             "uid": deployment["metadata"]["uid"], "controller": True}
    for revision, cause in ((1, None), (2, "kubectl set image deploy/x c=nginx:2"), (3, None)):
        annotations = {"deployment.kubernetes.io/revision": str(revision)}
        if cause:
            annotations["kubernetes.io/change-cause"] = cause
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{name}-r{revision}", "annotations": annotations, "ownerReferences": [owner],
                           "labels": {"app": "h", "pod-template-hash": f"h{revision}"}},
              "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "h", "pod-template-hash": f"h{revision}"}},
                       "template": _template(f"nginx:{revision}", {"pod-template-hash": f"h{revision}"})}}
        k.ok("create", "-f", "-", input=json.dumps(rs))
    return deployment


def test_deployment_history_and_undo_match_the_real_kubectl(k):
    for name in ("real-d", "ours-d"):
        _deployment(k, name)
    # both deployments select the same pods (app=h) but own only their own ReplicaSets
    history = k.same("rollout", "history", "deployment/real-d")
    assert history.stdout.splitlines()[:4] == [
        "deployment.apps/real-d ", "REVISION  CHANGE-CAUSE", "1         <none>",
        "2         kubectl set image deploy/x c=nginx:2"]
    k.same("rollout", "history", "deploy", "real-d", "--revision=2")
    missing = k.same("rollout", "history", "deploy/real-d", "--revision=9")
    assert missing.returncode == 1
    k.same("rollout", "undo", "deploy/real-d", "--to-revision=7")
    k.same("rollout", "undo", "deploy/real-d", "--to-revision=3")

    for tool, name in (("theirs", "real-d"), ("ours", "ours-d")):
        result = getattr(k, tool)("rollout", "undo", f"deployment/{name}")
        assert result.stdout == f"deployment.apps/{name} rolled back\n", result.stderr
    real, ours = (json.loads(k.ok("get", "deploy", name, "-o", "json")) for name in ("real-d", "ours-d"))
    assert ours["spec"]["template"] == real["spec"]["template"]
    assert ours["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert ours["metadata"]["annotations"]["kubernetes.io/change-cause"] == "kubectl set image deploy/x c=nginx:2"
    assert ours["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"

    k.ok("rollout", "pause", "deploy/ours-d")
    k.ok("rollout", "pause", "deploy/real-d")
    paused = k.same("rollout", "undo", "deploy/real-d")
    assert paused.returncode == 1


def test_daemonset_history_and_undo_from_controller_revisions(k):
    k.ok("create", "namespace", "dshist")
    for name in ("real-ds", "ours-ds"):
        k.ok("apply", "-n", "dshist", "-f", "-", input=yaml.safe_dump({
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": "h"}}, "template": _template("busybox:2")}}))
        ds = json.loads(k.ok("get", "ds", name, "-n", "dshist", "-o", "json"))
        owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "uid": ds["metadata"]["uid"],
                 "controller": True}
        for revision in (1, 2):
            template = {**ds["spec"]["template"], "$patch": "replace"}
            template["spec"] = {**template["spec"],
                                "containers": [{**template["spec"]["containers"][0], "image": f"busybox:{revision}"}]}
            k.ok("create", "-n", "dshist", "-f", "-", input=json.dumps({
                "apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": f"{name}-{revision}", "labels": {"app": "h"}, "ownerReferences": [owner],
                             "annotations": {"kubernetes.io/change-cause": f"step {revision}"}},
                "revision": revision, "data": {"spec": {"template": template}}}))
    k.same("rollout", "history", "-n", "dshist", "ds/real-ds")
    k.same("rollout", "undo", "-n", "dshist", "ds/real-ds", "--to-revision=2")
    for tool, name in (("theirs", "real-ds"), ("ours", "ours-ds")):
        result = getattr(k, tool)("rollout", "undo", "-n", "dshist", f"daemonset/{name}")
        assert result.stdout == f"daemonset.apps/{name} rolled back\n", result.stderr
    real, ours = (json.loads(k.ok("get", "ds", name, "-n", "dshist", "-o", "json")) for name in ("real-ds", "ours-ds"))
    assert ours["spec"]["template"] == real["spec"]["template"]
    assert ours["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1"
