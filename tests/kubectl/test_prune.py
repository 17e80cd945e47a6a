"""``apply --prune -l`` / ``--prune-allowlist`` / ``--all`` side by side with the real kubectl:
each tool works in its own namespace of the same objects and must print the same."""

from __future__ import annotations

OBJECTS = """apiVersion: v1
kind: ConfigMap
metadata: {{name: pa, namespace: {ns}, labels: {{app: p}}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: pb, namespace: {ns}, labels: {{app: p}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: ps, namespace: {ns}, labels: {{app: p}}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: other, namespace: {ns}, labels: {{app: q}}}}
"""
STEPS = [
    ("all", ()),
    ("two", ("--prune", "-l", "app=p")),
    ("two", ("--prune",)),
    ("all", ()),
    ("two", ("--prune", "-l", "app=p", "--prune-allowlist=core/v1/Secret", "--dry-run=client")),
    ("two", ("--prune", "-l", "app=p", "--prune-allowlist=core/v1/Secret", "-o", "name")),
    ("all", ("-l", "app=q")),
    ("two", ("--prune", "--all", "--prune-allowlist=core/v1/ConfigMap")),
]


def test_prune_matches_the_real_kubectl(k):
    for ns in ("prune-real", "prune-ours"):
        k.ok("create", "namespace", ns)
    for which, flags in STEPS:
        outputs = []
        for tool, ns in (("theirs", "prune-real"), ("ours", "prune-ours")):
            text = OBJECTS.format(ns=ns)
            if which == "two":
                text = "---".join(text.split("---")[:2])
            result = getattr(k, tool)("apply", "-f", "-", *flags, input=text)
            stderr = "".join(line for line in result.stderr.splitlines(True) if "prune.go" not in line)
            outputs.append((result.stdout.replace(ns, "NS"), stderr.replace(ns, "NS"), result.returncode))
        assert outputs[0] == outputs[1], (which, flags)
    left = k.ok("get", "cm,secret", "-n", "prune-ours", "-o", "name")
    assert left == k.ok("get", "cm,secret", "-n", "prune-real", "-o", "name")
    assert left == "configmap/pa\nconfigmap/pb\n"
