"""A real kopf operator (``python -m kopf run``) against a real ``hyperkube apiserver`` process.

The operator below is what a kopf user writes: create/update/delete handlers for a custom
resource, status patched from the handlers, an event posted with ``kopf.info``. kopf itself
adds and removes its finalizer (json-patch with a ``test`` of the resourceVersion), stores its
progress in ``kopf.zalando.org/*`` annotations (merge patch) and patches ``/status`` because
discovery lists ``widgets/status`` (CLIENTS.md B7).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e._cluster import Cluster, stop

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.kopf.example.com"},
    "spec": {
        "group": "kopf.example.com", "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "shortNames": ["gd"]},
        "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}},
        }],
    },
}

OPERATOR = '''
import kopf


@kopf.on.startup()
def configure(settings, **_):
    settings.watching.server_timeout = 30
    settings.posting.level = 20


@kopf.on.create("kopf.example.com", "v1", "gadgets")
def created(spec, name, body, patch, logger, **_):
    kopf.info(body, reason="Made", message=f"gadget {name} of size {spec.get('size')}")
    patch.status["phase"] = "Created"
    return {"size": spec.get("size")}


@kopf.on.update("kopf.example.com", "v1", "gadgets")
def updated(spec, patch, **_):
    patch.status["phase"] = "Updated"
    patch.status["size"] = spec.get("size")


@kopf.on.delete("kopf.example.com", "v1", "gadgets")
def deleted(name, **_):
    with open(MARKER, "a") as out:
        out.write(f"deleted {name}\\n")
'''

FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60, operator: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            log = ""
            if operator is not None:
                operator.kill()
                log = operator.communicate()[0]
            raise AssertionError(f"timed out waiting for {what}\n{log}")
        time.sleep(0.2)


def get_json(cluster: Cluster, *args: str) -> dict[str, Any] | None:
    result = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


@pytest.fixture
def operator(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(CRD))
    cluster.kubectl("wait", "--for=condition=established", "crd/gadgets.kopf.example.com", "--timeout=30s")
    marker = tmp_path / "deleted.txt"
    script = tmp_path / "op.py"
    script.write_text(f"MARKER = {str(marker)!r}\n" + OPERATOR)
    process = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone", "-n", "default", str(script)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=cluster.env(),
                               cwd=tmp_path)
    try:
        yield process, marker
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()
        cluster.kubectl("delete", "crd", "gadgets.kopf.example.com", "--ignore-not-found", "--timeout=60s")


def test_operator_create_update_delete(cluster: Cluster, operator):
    process, marker = operator
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "kopf.example.com/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 3}}))

    # create handler: finalizer added, status patched through /status, handler result stored
    gadget = wait_for("the create handler", lambda: (lambda g: g if g and (g.get("status") or {}).get(
        "phase") == "Created" else None)(get_json(cluster, "gadget", "g1")), operator=process)
    assert FINALIZER in gadget["metadata"]["finalizers"]
    assert gadget["status"]["created"] == {"size": 3}
    assert any(k.startswith("kopf.zalando.org/") for k in gadget["metadata"].get("annotations", {}))

    # the event kopf.info posted, about this object
    def made_event() -> Any:
        events = get_json(cluster, "events", "--field-selector", "involvedObject.name=g1") or {"items": []}
        return [e for e in events["items"] if e.get("reason") == "Made"]
    event = wait_for("the posted event", made_event, operator=process)[0]
    assert event["involvedObject"]["kind"] == "Gadget" and event["message"] == "gadget g1 of size 3"

    # update handler
    cluster.kubectl("patch", "gadget", "g1", "--type=merge", "-p", '{"spec":{"size":5}}')
    gadget = wait_for("the update handler", lambda: (lambda g: g if g and (g.get("status") or {}).get(
        "phase") == "Updated" else None)(get_json(cluster, "gadget", "g1")), operator=process)
    assert gadget["status"]["size"] == 5

    # delete handler through kopf's finalizer, then the object is gone
    cluster.kubectl("delete", "gadget", "g1", "--timeout=60s")
    assert get_json(cluster, "gadget", "g1") is None
    assert marker.read_text() == "deleted g1\n"
    assert process.poll() is None, "the operator is still running"


def test_operator_all_namespaces_sees_other_namespaces(cluster: Cluster, tmp_path: Path):
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(CRD))
    cluster.kubectl("wait", "--for=condition=established", "crd/gadgets.kopf.example.com", "--timeout=30s")
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace",
                                                             "metadata": {"name": "kopf-elsewhere"}}))
    script = tmp_path / "op.py"
    script.write_text(f"MARKER = {str(tmp_path / 'deleted.txt')!r}\n" + OPERATOR)
    process = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces",
                                str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=cluster.env(), cwd=tmp_path)
    try:
        cluster.kubectl("apply", "-n", "kopf-elsewhere", "-f", "-", input=yaml.safe_dump({
            "apiVersion": "kopf.example.com/v1", "kind": "Gadget", "metadata": {"name": "g2"},
            "spec": {"size": 1}}))
        wait_for("the create handler in another namespace", lambda: (lambda g: g and (g.get("status") or {}).get(
            "phase") == "Created")(get_json(cluster, "gadget", "g2", "-n", "kopf-elsewhere")), operator=process)
        # deleting the CRD deletes the custom resource; kopf's delete handler releases it first
        cluster.kubectl("delete", "crd", "gadgets.kopf.example.com", "--timeout=60s")
        assert (tmp_path / "deleted.txt").read_text() == "deleted g2\n"
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()
        cluster.kubectl("delete", "crd", "gadgets.kopf.example.com", "--ignore-not-found", "--timeout=60s")
