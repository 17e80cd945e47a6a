"""Admission in a real ``hyperkube apiserver`` with its default plugins, through the real kubectl:
a quota that blocks the 4th pod, LimitRange defaults, and the plugin flags."""

from __future__ import annotations

import json
import subprocess
import sys


def test_quota_blocks_the_fourth_pod(cluster):
    cluster.kubectl("create", "namespace", "quota-e2e")
    cluster.kubectl("create", "quota", "q", "--hard=pods=3", "-n", "quota-e2e")
    for i in range(3):
        cluster.kubectl("run", f"p{i}", "--image=nginx", "-n", "quota-e2e")
    refused = cluster.kubectl("run", "p3", "--image=nginx", "-n", "quota-e2e", check=False)
    assert refused.returncode != 0
    assert ('Error from server (Forbidden): pods "p3" is forbidden: exceeded quota: q, requested: pods=1, '
            "used: pods=3, limited: pods=3") in refused.stderr
    names = cluster.kubectl("get", "pods", "-n", "quota-e2e", "-o", "name").stdout.split()
    assert names == ["pod/p0", "pod/p1", "pod/p2"]


def test_limit_range_defaults_reach_the_pod(cluster):
    cluster.kubectl("create", "namespace", "limits-e2e")
    limit_range = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults"},
                   "spec": {"limits": [{"type": "Container", "default": {"memory": "128Mi"}}]}}
    cluster.kubectl("apply", "-n", "limits-e2e", "-f", "-", input=json.dumps(limit_range))
    cluster.kubectl("run", "web", "--image=nginx", "-n", "limits-e2e")
    pod = json.loads(cluster.kubectl("get", "pod", "web", "-n", "limits-e2e", "-o", "json").stdout)
    assert pod["spec"]["containers"][0]["resources"] == {"limits": {"memory": "128Mi"},
                                                         "requests": {"memory": "128Mi"}}


def test_unknown_admission_plugin_is_a_usage_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "hyperkube", "apiserver", "--insecure-port", "0", "--data-dir",
                             str(tmp_path), "--enable-admission-plugins", "NodeRestriction,Bogus"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown admission plugins: Bogus" in result.stderr
