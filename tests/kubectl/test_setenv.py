"""``set env`` side by side with the real kubectl: each step runs on a twin Deployment
(``real-e`` with theirs, ``ours-e`` with ours) and must print the same and leave the same env."""

from __future__ import annotations

import json

STEPS = [
    ("A=1", "B=2"),
    ("--list",),
    ("A=3", "B-"),
    ("--from=configmap/envsrc", "--prefix=P_"),
    ("--from=secret/envsec", "-c", "nginx"),
    ("--list",),
    ("A=3",),
    ("-c", "nope", "Z=1"),
    (),
    ("-e", "Q=1", "--overwrite=false", "A=9"),
    ("-e", "Q=2", "--overwrite=true"),
]


def _env(k, name: str) -> list[dict]:
    deployment = json.loads(k.ok("get", "deploy", name, "-o", "json"))
    return deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])


def test_set_env_matches_the_real_kubectl(k):
    k.ok("create", "configmap", "envsrc", "--from-literal=db-host=h", "--from-literal=port=5432")
    k.ok("create", "secret", "generic", "envsec", "--from-literal=pw=x")
    for name in ("real-e", "ours-e"):
        k.ok("create", "deployment", name, "--image=nginx")
    for step in STEPS:
        theirs = k.theirs("set", "env", "deploy/real-e", *step)
        ours = k.ours("set", "env", "deploy/ours-e", *step)
        # the real kubectl warns about --from keys in Go map order, which varies run to run
        assert (ours.stdout.replace("ours-e", "real-e"), sorted(ours.stderr.replace("ours-e", "real-e").splitlines()),
                ours.returncode) == (theirs.stdout, sorted(theirs.stderr.splitlines()), theirs.returncode), step
        assert _env(k, "ours-e") == _env(k, "real-e"), step
    assert {"name": "P_PORT", "valueFrom": {"configMapKeyRef": {"key": "port", "name": "envsrc"}}} in _env(k, "ours-e")
