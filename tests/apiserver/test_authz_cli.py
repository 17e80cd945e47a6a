"""``hyperkube apiserver --authorization-mode``: Node,RBAC by default, checked before starting."""

from __future__ import annotations

import json
import urllib.request

from click.testing import CliRunner

from hyperkube.cli.apiserver import command
from tests.e2e._cluster import start_apiserver, stop


def test_unknown_modes_are_refused_before_anything_starts(tmp_path) -> None:
    for value in ("Foo", "RBAC,RBAC", ""):
        result = CliRunner().invoke(command, ["--authorization-mode", value, "--data-dir", str(tmp_path)])
        assert result.exit_code == 2, value
        assert "--authorization-mode" in result.output and "AlwaysAllow, AlwaysDeny, Node, RBAC" in result.output
    help_text = CliRunner().invoke(command, ["--help"]).output
    assert "--authorization-mode" in help_text and "Node,RBAC" in help_text


def test_the_default_modes_bring_the_bootstrap_policy(tmp_path) -> None:
    process, port, log = start_apiserver(tmp_path)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/apis/rbac.authorization.k8s.io/v1/clusterroles") as r:
            names = {item["metadata"]["name"] for item in json.load(r)["items"]}
        assert {"cluster-admin", "admin", "edit", "view", "system:node", "system:kube-scheduler"} <= names
    finally:
        stop(process)
    assert process.returncode in (0, -15), "".join(log)
