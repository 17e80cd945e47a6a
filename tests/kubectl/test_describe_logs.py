"""``describe`` pages and ``logs`` errors, compared with the real kubectl."""

from __future__ import annotations

import json

import pytest
import yaml


@pytest.fixture(scope="module")
def described(k):
    k.theirs("create", "deployment", "desc-web", "--image=nginx:1.27", "--port=80")
    k.theirs("run", "desc-pod", "--image=busybox", "--labels=app=desc,tier=x", "--env=MODE=fast",
             "--", "sleep", "3600")
    k.theirs("create", "service", "nodeport", "desc-svc", "--tcp=80:8080")
    k.theirs("create", "configmap", "desc-cm", "--from-literal=a=b", "--from-literal=c=d")
    pod = json.loads(k.theirs("get", "pod", "desc-pod", "-o", "json").stdout)
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "desc-pod.1", "namespace": "default"},
             "involvedObject": {"kind": "Pod", "name": "desc-pod", "namespace": "default",
                                "uid": pod["metadata"]["uid"], "apiVersion": "v1"},
             "reason": "Scheduled", "message": "Successfully assigned default/desc-pod to nowhere",
             "type": "Normal", "source": {"component": "default-scheduler"}, "count": 1,
             "firstTimestamp": pod["metadata"]["creationTimestamp"],
             "lastTimestamp": pod["metadata"]["creationTimestamp"]}
    assert k.theirs("create", "-f", "-", input=yaml.safe_dump(event)).returncode == 0
    return k


@pytest.mark.parametrize("args", [["describe", "pod", "desc-pod"], ["describe", "deploy", "desc-web"],
                                  ["describe", "service", "desc-svc"], ["describe", "cm", "desc-cm"],
                                  ["describe", "namespace", "default"], ["describe", "pods", "-l", "app=desc"],
                                  ["describe", "pod", "missing"], ["describe", "lease", "-n", "kube-system"]])
def test_describe_matches_the_real_kubectl(described, args):
    described.same(*args)


@pytest.mark.parametrize("args", [["events"], ["events", "-A"], ["events", "--for", "pod/desc-pod"],
                                  ["events", "-n", "kube-system"], ["events", "--types=Warning"]])
def test_events_match_the_real_kubectl(described, args):
    described.same(*args)


def test_describe_shows_events(described):
    page = described.ok("describe", "pod", "desc-pod")
    assert "Events:\n  Type    Reason     Age" in page
    assert "default-scheduler  Successfully assigned default/desc-pod to nowhere" in page


@pytest.mark.parametrize("args", [["logs", "missing"], ["logs"], ["logs", "desc-pod", "-c", "nope"]])
def test_logs_errors_exit_1(described, args):
    ours, theirs = described.ours(*args), described.theirs(*args)
    assert ours.returncode == theirs.returncode == 1
    if args == ["logs", "missing"]:
        assert ours.stderr == theirs.stderr
