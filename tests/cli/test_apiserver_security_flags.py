"""``hyperkube apiserver``'s secure-serving flags: pairs that go together, and a real start with
the user's own certificate and client CA (no PKI generated, no plain port)."""

from __future__ import annotations

import json
import ssl
import sys
import urllib.request

import pytest
from click.testing import CliRunner

from hyperkube.cli.apiserver import command
from hyperkube.machinery import pki
from tests.e2e._cluster import start_process, stop


@pytest.mark.parametrize(("given", "message"), [
    (["--tls-cert-file", "x.crt"], "--tls-cert-file and --tls-private-key-file go together"),
    (["--kubelet-client-key", "k.key"], "--kubelet-client-certificate and --kubelet-client-key go together"),
    (["--insecure-port", "0", "--insecure-bind-address", "0.0.0.0"], "'0.0.0.0' is not a loopback address"),
])
def test_pairs_go_together(tmp_path, given, message):
    result = CliRunner().invoke(command, ["--data-dir", str(tmp_path), *given])
    assert result.exit_code == 2 and message in result.output


def test_serving_the_users_own_certificate(tmp_path):
    mine = pki.ensure_cluster_pki(tmp_path / "mine")
    process, port, log = start_process(
        [sys.executable, "-m", "hyperkube", "apiserver", "--secure-port", "0", "--data-dir", str(tmp_path / "data"),
         "--tls-cert-file", mine.apiserver.cert, "--tls-private-key-file", mine.apiserver.key,
         "--client-ca-file", mine.ca.cert, "--authorization-mode", "AlwaysAllow"],
        r"Serving securely on [\d.]+:(\d+)", "apiserver")
    try:
        context = ssl.create_default_context(cafile=mine.ca.cert)
        context.load_cert_chain(mine.admin.cert, mine.admin.key)
        request = urllib.request.Request(f"https://localhost:{port}/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                         data=b'{"kind":"SelfSubjectReview"}',
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            assert json.load(response)["status"]["userInfo"]["username"] == "kubernetes-admin"
    finally:
        stop(process)
    assert not (tmp_path / "data" / "pki").exists()
    assert not any("Serving insecurely" in line for line in log)
