"""Writing verbs: the same scenario run by the real kubectl and by ours, on objects that
differ only by name, prints the same lines, exits alike and leaves the same objects."""

from __future__ import annotations

import json

import pytest
import yaml


def deployment(name: str, image: str = "nginx:1.27", replicas: int = 1, extra_env: bool = False) -> dict:
    container = {"name": "app", "image": image, "ports": [{"containerPort": 80}]}
    if extra_env:
        container["env"] = [{"name": "MODE", "value": "fast"}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def configmap(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def docs(*objects: dict) -> str:
    return "---\n".join(yaml.safe_dump(o) for o in objects)


def run_both(k, steps):
    """``steps(name)`` yields (args, input[, "exit-code"]); each step must print the same for
    both tools (only the exit code and stdout for steps marked so: their error text differs)."""
    outputs = {}
    for tool, name in (("theirs", "real"), ("ours", "ours")):
        runner = getattr(k, tool)
        lines = []
        for args, stdin, *only in steps(name):
            result = runner(*args, input=stdin)
            lines.append((result.stdout.replace(name, "NAME"), "" if only else result.stderr.replace(name, "NAME"),
                          result.returncode))
        outputs[tool] = lines
    for step, (theirs, ours) in enumerate(zip(outputs["theirs"], outputs["ours"], strict=True)):
        assert ours == theirs, f"step {step}: theirs={theirs!r} ours={ours!r}"
    return outputs["ours"]


def live(k, *args: str) -> dict:
    return json.loads(k.ok(*args, "-o", "json"))


def test_apply_create_configure_unchanged(k):
    def steps(name):
        yield ["apply", "-f", "-"], docs(deployment(f"{name}-d"), configmap(f"{name}-c", a="1"))
        yield ["apply", "-f", "-"], docs(deployment(f"{name}-d"), configmap(f"{name}-c", a="1"))
        yield ["apply", "-f", "-"], docs(deployment(f"{name}-d", image="nginx:1.28", extra_env=True),
                                         configmap(f"{name}-c", b="2"))
        yield ["apply", "-f", "-", "--dry-run=client"], docs(configmap(f"{name}-c", b="3"))
        yield ["apply", "-f", "-", "--dry-run=server"], docs(configmap(f"{name}-c", b="3"))
        yield ["apply", "-f", "-", "-o", "name"], docs(configmap(f"{name}-c", b="2"))
    run_both(k, steps)
    real, ours = live(k, "get", "cm", "real-c"), live(k, "get", "cm", "ours-c")
    assert real["data"] == ours["data"] == {"b": "2"}  # a deleted: it was in the last applied config
    annotation = "kubectl.kubernetes.io/last-applied-configuration"
    assert ours["metadata"]["annotations"][annotation] == \
        real["metadata"]["annotations"][annotation].replace("real-c", "ours-c")
    real_d, ours_d = live(k, "get", "deploy", "real-d"), live(k, "get", "deploy", "ours-d")
    assert real_d["spec"]["template"]["spec"]["containers"][0]["env"] == \
        ours_d["spec"]["template"]["spec"]["containers"][0]["env"]
    assert ours_d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"


def test_apply_keeps_fields_others_set(k):
    k.ok("apply", "-f", "-", input=docs(configmap("kept", a="1")))
    k.ok("patch", "configmap", "kept", "--type", "merge", "-p", '{"data":{"other":"x"}}')
    assert k.ok("apply", "-f", "-", input=docs(configmap("kept", a="2"))) == "configmap/kept configured\n"
    assert live(k, "get", "cm", "kept")["data"] == {"a": "2", "other": "x"}


def test_apply_then_server_side_apply(k):
    def steps(name):
        yield ["apply", "-f", "-", "--server-side"], docs(configmap(f"{name}-ssa", a="1"))
        yield ["apply", "-f", "-", "--server-side"], docs(configmap(f"{name}-ssa", a="2"))
        yield ["get", "cm", f"{name}-ssa", "-o", "jsonpath={.data}"], None
    run_both(k, steps)


def test_create_errors_and_files(k, tmp_path):
    directory = tmp_path / "manifests"
    (directory / "nested").mkdir(parents=True)

    def steps(name):
        (directory / f"{name}-1.yaml").write_text(docs(configmap(f"{name}-f1", a="1")))
        (directory / "nested" / f"{name}-2.json").write_text(json.dumps(configmap(f"{name}-f2")))
        (directory / "nested" / f"{name}-3.yaml").write_text(docs(configmap(f"{name}-f3"), configmap(f"{name}-f4")))
        yield ["create", "-f", str(directory / f"{name}-1.yaml")], None
        yield ["create", "-f", str(directory / f"{name}-1.yaml")], None  # AlreadyExists, exit 1
        yield ["create", "-f", "-"], docs(configmap(f"{name}-f1"))
        yield ["create", "-f", "-", "--dry-run=client", "-o", "name"], docs(configmap(f"{name}-dry"))
        yield ["get", "cm", f"{name}-dry"], None
        yield ["apply", "-f", str(directory / "nested")], None
        yield ["delete", "-f", str(directory / "nested")], None
        yield ["create", "-f", "-"], docs({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}}), "exit-code"
        (directory / f"{name}-1.yaml").unlink()
        (directory / "nested" / f"{name}-2.json").unlink()
        (directory / "nested" / f"{name}-3.yaml").unlink()
    run_both(k, steps)


def test_list_kinds_are_expanded(k):
    # (the real kubectl's validation of a v1 List needs the List schema in the server's OpenAPI)
    listed = {"apiVersion": "v1", "kind": "List", "items": [configmap("listed-1"), configmap("listed-2")]}
    assert k.ok("apply", "-f", "-", input=json.dumps(listed)) == \
        "configmap/listed-1 created\nconfigmap/listed-2 created\n"
    assert k.ok("delete", "-f", "-", "-o", "name", input=json.dumps(listed)) == \
        "configmap/listed-1\nconfigmap/listed-2\n"


def test_create_invalid_object_prints_the_causes(k):
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "NAME-bad"}, "spec": {"containers": []}}

    def steps(name):
        yield ["create", "-f", "-"], docs({**bad, "metadata": {"name": f"{name}-bad"}})
    outputs = run_both(k, steps)
    assert outputs[0][2] == 1 and "is invalid" in outputs[0][1]


def test_delete_variants(k):
    def steps(name):
        yield ["create", "-f", "-"], docs(configmap(f"{name}-x1"), configmap(f"{name}-x2"),
                                          {**configmap(f"{name}-x3"), "metadata": {"name": f"{name}-x3",
                                                                                   "labels": {"set": name}}})
        yield ["delete", "configmap", f"{name}-x1"], None
        yield ["delete", "configmap", f"{name}-x1"], None
        yield ["delete", "configmap", f"{name}-x1", "--ignore-not-found"], None
        yield ["delete", "configmap", "-l", f"set={name}"], None
        yield ["delete", f"configmap/{name}-x2", "-o", "name"], None
        yield ["delete", "configmap", "-l", f"set={name}"], None
        yield ["delete", "pods"], None
    run_both(k, steps)


def test_delete_waits_for_finalizers(k):
    k.ok("apply", "-f", "-", input=docs({**configmap("held"), "metadata": {"name": "held",
                                                                          "finalizers": ["example.com/hold"]}}))
    import subprocess
    import time

    from tests.kubectl.conftest import HYPERKUBE

    deleting = subprocess.Popen([str(HYPERKUBE), "kubectl", "delete", "configmap", "held"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=k.cluster.env())
    try:
        time.sleep(2)
        assert deleting.poll() is None  # still waiting: the finalizer holds the object
        k.ok("patch", "configmap", "held", "--type", "json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
        out, err = deleting.communicate(timeout=30)
    finally:
        if deleting.poll() is None:
            deleting.kill()
    assert deleting.returncode == 0, err
    assert out == 'configmap "held" deleted from default namespace\n'


def test_patch_label_annotate_scale(k):
    def steps(name):
        yield ["apply", "-f", "-"], docs(deployment(f"{name}-p"))
        yield ["patch", "deploy", f"{name}-p", "-p", '{"spec":{"template":{"spec":{"containers":'
               '[{"name":"app","image":"nginx:2"}]}}}}'], None
        yield ["patch", "deploy", f"{name}-p", "--type", "merge", "-p", '{"metadata":{"labels":{"x":"1"}}}'], None
        yield ["patch", "deploy", f"{name}-p", "--type", "merge", "-p", '{"metadata":{"labels":{"x":"1"}}}'], None
        yield ["patch", "deploy", f"{name}-p", "--type", "json", "-p",
               '[{"op":"replace","path":"/spec/replicas","value":2}]'], None
        yield ["patch", "deploy", f"{name}-p", "--type", "json", "-p",
               '[{"op":"test","path":"/spec/replicas","value":7}]'], None
        yield ["label", "deploy", f"{name}-p", "tier=web"], None
        yield ["label", "deploy", f"{name}-p", "tier=api"], None
        yield ["label", "deploy", f"{name}-p", "tier=api", "--overwrite"], None
        yield ["label", "deploy", f"{name}-p", "tier-"], None
        yield ["annotate", "deploy", f"{name}-p", "note=hello"], None
        yield ["annotate", "deploy", f"{name}-p", "note-"], None
        yield ["scale", "deploy", f"{name}-p", "--replicas=3"], None
        yield ["scale", f"deploy/{name}-p", "--replicas=4", "--current-replicas=2"], None
        yield ["get", "deploy", f"{name}-p", "-o", "jsonpath={.spec.replicas} {.metadata.labels} "
               "{.spec.template.spec.containers[0].image}"], None
        yield ["patch", "deploy", "missing-" + name, "-p", "{}"], None
    run_both(k, steps)


def test_replace_and_conflict(k):
    k.ok("apply", "-f", "-", input=docs(configmap("rep", a="1")))
    current = live(k, "get", "cm", "rep")
    current["data"] = {"a": "2"}
    assert k.ok("replace", "-f", "-", input=json.dumps(current)) == "configmap/rep replaced\n"
    stale = k.ours("replace", "-f", "-", input=json.dumps(current))
    theirs = k.theirs("replace", "-f", "-", input=json.dumps(current))
    assert stale.returncode == theirs.returncode == 1
    assert stale.stderr == theirs.stderr
    assert stale.stderr.startswith("Error from server (Conflict): error when replacing \"STDIN\"")


@pytest.mark.parametrize("args", [["apply"], ["create"], ["delete"], ["apply", "-f", "/no/such/file"],
                                  ["delete", "pods", "a", "-l", "x=y"], ["get", "pods", "-w", "-o", "bogus"]])
def test_usage_errors_exit_1(k, args):
    ours, theirs = k.ours(*args), k.theirs(*args)
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr.startswith("error: ")


def test_diff_exit_codes(k, tmp_path):
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(docs(configmap("diffed", a="1")))
    k.ok("apply", "-f", str(manifest))
    assert k.ours("diff", "-f", str(manifest)).returncode == 0
    manifest.write_text(docs(configmap("diffed", a="2")))
    changed = k.ours("diff", "-f", str(manifest))
    theirs = k.theirs("diff", "-f", str(manifest))
    assert changed.returncode == theirs.returncode == 1
    assert "-  a: \"1\"\n+  a: \"2\"\n" in changed.stdout
    assert live(k, "get", "cm", "diffed")["data"] == {"a": "1"}  # nothing was changed
