"""``auth can-i`` and ``auth whoami`` side by side with the real kubectl: the same answers,
warnings, usage errors and exit codes, whatever the server's authorizer says."""

from __future__ import annotations

import pytest

CASES = [
    ("auth", "can-i", "get", "pods"),
    ("auth", "can-i", "list", "nodes", "-n", "default"),
    ("auth", "can-i", "frob", "foos"),
    ("auth", "can-i", "get", "/healthz"),
    ("auth", "can-i", "frob", "/x"),
    ("auth", "can-i", "get", "/x", "y"),
    ("auth", "can-i", "get"),
    ("auth", "can-i", "create", "deployments.apps", "x"),
    ("auth", "can-i", "get", "deploy/x"),
    ("auth", "can-i", "get", "pods", "-A", "--subresource=log", "-q"),
    ("auth", "can-i", "--list"),
    ("auth", "can-i", "--list", "-n", "kube-system"),
    ("auth", "whoami"),
    ("auth", "whoami", "-o", "json"),
    ("auth", "whoami", "-o", "yaml"),
]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_auth_matches_the_real_kubectl(k, args):
    k.same(*args)


def test_can_i_answers_yes_or_no_with_its_exit_code(k):
    allowed = k.ours("auth", "can-i", "get", "pods")
    assert (allowed.stdout, allowed.returncode) == ("yes\n", 0)
    quiet = k.ours("auth", "can-i", "delete", "nodes", "-q", "-A")
    assert (quiet.stdout, quiet.returncode) == ("", 0)
