"""``kubectl config``: the same edits to copies of one kubeconfig give the same files and output."""

from __future__ import annotations

import shutil

import pytest
import yaml


@pytest.fixture
def two_configs(k, tmp_path):
    """A kubeconfig copy for each tool, with the cluster's environment pointed at it."""
    envs = {}
    for tool in ("theirs", "ours"):
        path = tmp_path / f"{tool}.yaml"
        shutil.copy(k.cluster.kubeconfig, path)
        envs[tool] = {**k.cluster.env(), "KUBECONFIG": str(path)}
    return envs


STEPS = [
    ["config", "get-contexts"],
    ["config", "current-context"],
    ["config", "set-context", "staging", "--cluster=dev", "--user=dev", "--namespace=stage"],
    ["config", "set-context", "staging", "--namespace=stage2"],
    ["config", "get-contexts"],
    ["config", "get-contexts", "-o", "name"],
    ["config", "use-context", "nowhere"],
    ["config", "use-context", "staging"],
    ["config", "current-context"],
    ["config", "set-context", "--current", "--namespace=kube-system"],
    ["config", "set-cluster", "remote", "--server=https://10.0.0.1:6443"],
    ["config", "set-credentials", "admin", "--token=secret"],
    ["config", "get-clusters"],
    ["config", "get-users"],
    ["config", "view"],
    ["config", "view", "--raw"],
    ["config", "view", "--minify"],
    ["config", "view", "-o", "jsonpath={.contexts[*].name}"],
    ["config", "delete-context", "staging"],
]


def test_config_edits_match_the_real_kubectl(k, two_configs, tmp_path):
    for step in STEPS:
        theirs = k.theirs(*step, env=two_configs["theirs"])
        ours = k.ours(*step, env=two_configs["ours"])
        if step[1] in ("get-clusters", "get-users"):  # kubectl walks a Go map: any order
            assert sorted(ours.stdout.splitlines()) == sorted(theirs.stdout.splitlines())
            continue
        assert (ours.stdout, ours.returncode) == (theirs.stdout.replace("theirs.yaml", "ours.yaml"),
                                                 theirs.returncode), step
        assert ours.stderr == theirs.stderr.replace("theirs.yaml", "ours.yaml"), step
    assert yaml.safe_load((tmp_path / "ours.yaml").read_text()) == yaml.safe_load((tmp_path / "theirs.yaml").read_text())


def test_flags_override_the_kubeconfig(k, tmp_path):
    empty = {**k.cluster.env(), "KUBECONFIG": str(tmp_path / "none.yaml")}
    result = k.ours("get", "namespaces", "default", "-o", "name", "-s", k.cluster.url, "--token", k.cluster.token,
                    "--insecure-skip-tls-verify", env=empty)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "namespace/default\n"
    result = k.ours("--kubeconfig", str(k.cluster.kubeconfig), "get", "ns", "default", "-o", "name", env=empty)
    assert result.stdout == "namespace/default\n"
    result = k.ours("get", "pods", "--context", "nope")
    assert result.returncode == 1
    assert result.stderr == 'error: context "nope" does not exist\n'


def test_unreachable_server(k, tmp_path):
    env = {**k.cluster.env(), "KUBECONFIG": str(tmp_path / "none.yaml")}
    ours = k.ours("get", "pods", "-s", "http://127.0.0.1:1", env=env)
    theirs = k.theirs("get", "pods", "-s", "http://127.0.0.1:1", env=env)
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr == theirs.stderr.splitlines(keepends=True)[-1]


def test_proxy_forwards_requests_and_watches(k):
    import json
    import subprocess
    import urllib.request

    from tests.kubectl.conftest import HYPERKUBE

    process = subprocess.Popen([str(HYPERKUBE), "kubectl", "proxy", "--port=0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=k.cluster.env())
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Starting to serve on 127.0.0.1:"), line + (process.stderr.read() if process.poll() else "")
        base = "http://" + line.split()[-1]
        with urllib.request.urlopen(base + "/api/v1/namespaces/default", timeout=10) as response:
            assert json.loads(response.read())["metadata"]["name"] == "default"
        request = urllib.request.Request(base + "/api/v1/namespaces/default/configmaps", method="POST",
                                         data=b'{"metadata":{"name":"via-proxy"},"data":{"a":"b"}}',
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
        assert k.ok("get", "cm", "via-proxy", "-o", "name") == "configmap/via-proxy\n"
        try:
            urllib.request.urlopen(base + "/api/v1/namespaces/default/configmaps/missing", timeout=10)
        except urllib.error.HTTPError as error:
            assert error.code == 404 and json.loads(error.read())["reason"] == "NotFound"
        else:
            raise AssertionError("expected 404")
    finally:
        process.terminate()
        process.wait(10)
