"""The real kubectl against ``hyperkube apiserver`` over HTTPS only (no plain port), with the
admin kubeconfig the server writes on first start: ``get``, ``auth whoami``, ``create token``,
tokens from the static token file, anonymous and refused credentials, ``logs`` and ``exec``
through a kubelet, and the controller manager publishing the generated CA."""

from __future__ import annotations

import json
import shutil
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from hyperkube.client import write_kubeconfig
from hyperkube.machinery import pki
from tests.e2e._cluster import Cluster, running_component, start_process, stop
from tests.e2e.test_kubelet_e2e import POD, kill_everything, start_kubelet, wait


@pytest.fixture(scope="module")
def https_cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("https")
    (home / "tokens.csv").write_text('static-secret,carol,u-9,"dev,ops"\n')
    generated = home / "data" / "pki"  # made by the server on its first start, before it calls a kubelet
    command = [sys.executable, "-m", "hyperkube", "apiserver", "--secure-port", "0", "--data-dir", str(home / "data"),
               "--token-auth-file", str(home / "tokens.csv"),
               "--kubelet-client-certificate", str(generated / "apiserver-kubelet-client.crt"),
               "--kubelet-client-key", str(generated / "apiserver-kubelet-client.key"),
               "--kubelet-certificate-authority", str(generated / "ca.crt")]
    process, port, log = start_process(command, r"Admin kubeconfig: \S+ \(https://[\d.]+:(\d+)\)", "apiserver")
    try:
        shutil.copy(generated / "admin.kubeconfig", home / "kubeconfig")
        yield Cluster(f"https://127.0.0.1:{port}", port, home, process, log, pki.ensure_cluster_pki(generated))
    finally:
        stop(process)


def other_kubeconfig(cluster: Cluster, name: str, **credentials) -> Cluster:
    """The same server, reached with other credentials (the generated CA still trusted)."""
    home = cluster.home / name
    home.mkdir(exist_ok=True)
    ca = (cluster.home / "data" / "pki" / "ca.crt").read_bytes()
    write_kubeconfig(home / "kubeconfig", cluster.url, ca_data=ca, **credentials)
    return Cluster(cluster.url, cluster.port, home, cluster.process, cluster.log, cluster.pki)


def whoami(cluster: Cluster) -> dict:
    return yaml.safe_load(cluster.kubectl("auth", "whoami", "-o", "yaml").stdout)["status"]["userInfo"]


def test_get_and_whoami_with_the_generated_admin_kubeconfig(https_cluster: Cluster):
    config = yaml.safe_load(https_cluster.kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == https_cluster.url
    assert "certificate-authority-data" in config["clusters"][0]["cluster"]
    assert "Serving insecurely" not in "".join(https_cluster.log)
    names = https_cluster.kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/kube-system" in names
    assert whoami(https_cluster) == {"username": "kubernetes-admin",
                                     "groups": ["system:masters", "system:authenticated"]}
    out = https_cluster.kubectl("auth", "whoami").stdout
    assert "kubernetes-admin" in out and "system:masters" in out


def test_static_and_service_account_tokens(https_cluster: Cluster):
    carol = other_kubeconfig(https_cluster, "carol", token="static-secret")
    assert whoami(carol) == {"username": "carol", "uid": "u-9", "groups": ["dev", "ops", "system:authenticated"]}
    https_cluster.kubectl("create", "serviceaccount", "robot")
    token = https_cluster.kubectl("create", "token", "robot", "--audience",
                                  "https://kubernetes.default.svc.cluster.local").stdout.strip()
    robot = other_kubeconfig(https_cluster, "robot", token=token)
    user = whoami(robot)
    assert user["username"] == "system:serviceaccount:default:robot"
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]
    https_cluster.kubectl("delete", "serviceaccount", "robot")
    refused = robot.kubectl("get", "pods", check=False)
    assert refused.returncode != 0 and "You must be logged in to the server" in refused.stderr


def test_anonymous_wrong_token_and_foreign_certificate(https_cluster: Cluster, tmp_path):
    ca = str(https_cluster.home / "data" / "pki" / "ca.crt")
    request = urllib.request.Request(https_cluster.url + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                     data=b'{"kind":"SelfSubjectReview"}', headers={"Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=ca)
    with pytest.raises(urllib.error.HTTPError) as refused:  # RBAC: anonymous may not even ask who it is
        urllib.request.urlopen(request, context=context, timeout=10)
    status = json.load(refused.value)
    assert refused.value.code == 403 and status["reason"] == "Forbidden"
    assert 'User "system:anonymous" cannot create resource "selfsubjectreviews"' in status["message"]
    with urllib.request.urlopen(https_cluster.url + "/version", context=context, timeout=10) as response:
        assert json.load(response)["gitVersion"].startswith("v1.")  # what anonymous may read
    wrong = other_kubeconfig(https_cluster, "wrong", token="not-a-token")
    result = wrong.kubectl("get", "pods", check=False)
    assert result.returncode != 0 and "You must be logged in to the server" in result.stderr
    foreign = pki.ensure_cluster_pki(tmp_path / "foreign")
    cert, key = foreign.admin.read()
    impostor = other_kubeconfig(https_cluster, "impostor", cert_data=cert, key_data=key)
    result = impostor.kubectl("auth", "whoami", check=False)  # refused in the TLS handshake
    assert result.returncode != 0 and "Unable to connect to the server" in result.stderr


def test_logs_and_exec_over_https(https_cluster: Cluster, tmp_path):
    root = tmp_path / "root"
    process = None
    try:
        process, _ = start_kubelet(https_cluster, root, "https-node")
        https_cluster.kubectl("apply", "-f", "-", input=POD.format(name="https-pod", node="https-node",
                                                                  python=sys.executable, marker=tmp_path / "pids"))
        wait(lambda: https_cluster.kubectl("get", "pod", "https-pod", "-o",
                                           "jsonpath={.status.phase}").stdout == "Running")
        assert wait(lambda: https_cluster.kubectl("logs", "https-pod").stdout) == "started\n"
        result = https_cluster.kubectl("exec", "https-pod", "--", "sh", "-c", "echo out; exit 3", check=False)
        assert (result.returncode, result.stdout) == (3, "out\n")
    finally:
        kill_everything(process, root)


def test_the_controller_manager_publishes_the_generated_ca(https_cluster: Cluster):
    ca = (https_cluster.home / "data" / "pki" / "ca.crt").read_text()
    kubeconfig = https_cluster.home / "data" / "pki" / "kube-controller-manager.kubeconfig"  # the server's
    with running_component(https_cluster, "controller-manager", "--no-leader-elect", kubeconfig=kubeconfig):
        published = wait(lambda: https_cluster.kubectl("get", "configmap", "kube-root-ca.crt", "-o",
                                                       "jsonpath={.data.ca\\.crt}", check=False).stdout)
    assert published == ca
    assert Path(kubeconfig).stat().st_mode & 0o077 == 0
