"""A real ``hyperkube apiserver`` with ``--encryption-provider-config`` and ``--audit-log-path``:
``hyperkube etcdctl get`` shows only ciphertext of a Secret kubectl created and reads back,
and the audit log holds the create."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

from tests.e2e._cluster import KUBECTL, start_apiserver, stop, write_kubeconfig

CONFIG = """apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: {key}
      - identity: {{}}
"""


def test_secret_encrypted_at_rest_and_create_audited(tmp_path):
    config = tmp_path / "encryption.yaml"
    config.write_text(CONFIG.format(key=base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()))
    log = tmp_path / "audit.log"
    process, port, lines = start_apiserver(tmp_path, "--encryption-provider-config", str(config),
                                           "--audit-log-path", str(log))
    try:
        write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")

        def kubectl(*args: str) -> str:
            return subprocess.run([str(KUBECTL), "--kubeconfig", str(tmp_path / "kubeconfig"), *args],
                                  capture_output=True, text=True, check=True, timeout=60).stdout

        kubectl("create", "secret", "generic", "db", "--from-literal=password=s3cr3t-value")
        got = json.loads(kubectl("get", "secret", "db", "-o", "json"))
        assert base64.b64decode(got["data"]["password"]) == b"s3cr3t-value"
        raw = subprocess.run([sys.executable, "-m", "hyperkube", "etcdctl", "--data-dir", str(tmp_path / "data"),
                              "get", "/registry/secrets/default/db"], capture_output=True, check=True, timeout=60)
        assert b"k8s:enc:aescbc:v1:key1:" in raw.stdout
        assert b"s3cr3t-value" not in raw.stdout and base64.b64encode(b"s3cr3t-value") not in raw.stdout
    finally:
        stop(process)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    created = [e for e in events if e["verb"] == "create" and e.get("objectRef", {}).get("resource") == "secrets"]
    assert {e["stage"] for e in created} == {"RequestReceived", "ResponseComplete"}
    assert [e["responseStatus"]["code"] for e in created if e["stage"] == "ResponseComplete"] == [201]
    assert all("requestObject" not in e for e in events)  # Metadata level: no secret in the log
    encoded = base64.b64encode(b"s3cr3t-value").decode()
    for text in (log.read_text(), "".join(lines)):
        assert "s3cr3t-value" not in text and encoded not in text
