"""Pods: defaults, validation, update rules, field selectors, graceful deletion and the Table row."""

from __future__ import annotations

import copy

from hyperkube.api.kinds import builtin_registry
from hyperkube.machinery.durations import parse_rfc3339
from hyperkube.machinery.errors import Invalid

NOW = parse_rfc3339("2026-11-25T18:00:00Z")
STRATEGY = builtin_registry().get("", "v1", "pods").strategy


def pod(**spec):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2026-11-25T17:55:00Z"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}


def created(**spec):
    obj = pod(**spec)
    STRATEGY.prepare_for_create(obj)
    return obj


def test_defaults():
    obj = created()
    spec = obj["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert {t["key"] for t in spec["tolerations"]} == {"node.kubernetes.io/not-ready",
                                                       "node.kubernetes.io/unreachable"}
    container = spec["containers"][0]
    assert container["imagePullPolicy"] == "Always"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"
    assert obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert STRATEGY.validate(obj) == []


def test_image_pull_policy_follows_the_tag():
    obj = pod()
    obj["spec"]["containers"] = [{"name": "a", "image": "nginx:latest"}, {"name": "b", "image": "nginx:1.27"},
                                 {"name": "c", "image": "registry:5000/app"}, {"name": "d", "image": "app@sha256:ab"},
                                 {"name": "e", "image": "x:1", "imagePullPolicy": "Never"}]
    STRATEGY.prepare_for_create(obj)
    assert [c["imagePullPolicy"] for c in obj["spec"]["containers"]] == [
        "Always", "IfNotPresent", "Always", "IfNotPresent", "Never"]


def test_ports_probes_volumes_and_host_network_defaults():
    obj = pod(hostNetwork=True, volumes=[{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}}])
    obj["spec"]["containers"][0].update(ports=[{"containerPort": 8080}], livenessProbe={"httpGet": {"port": 80}})
    STRATEGY.prepare_for_create(obj)
    container = obj["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP", "hostPort": 8080}]
    assert container["livenessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                                          "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                                          "failureThreshold": 3}
    assert obj["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {}},
                                      {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}}]


def test_qos_class_and_requests_from_limits():
    guaranteed = pod()
    guaranteed["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "500m", "memory": "128Mi"}}
    STRATEGY.prepare_for_create(guaranteed)
    assert guaranteed["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "500m", "memory": "128Mi"}
    assert guaranteed["status"]["qosClass"] == "Guaranteed"
    burstable = pod()
    burstable["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "0.5"}, "limits": {"cpu": "1"}}
    STRATEGY.prepare_for_create(burstable)
    assert burstable["status"]["qosClass"] == "Burstable"


def test_status_on_create_is_reset():
    obj = pod()
    obj["status"] = {"phase": "Running", "podIP": "1.2.3.4"}
    STRATEGY.prepare_for_create(obj)
    assert obj["status"]["phase"] == "Pending" and "podIP" not in obj["status"]


def test_validation_messages():
    obj = {"metadata": {"name": "Bad_Name", "namespace": "default", "labels": {"ok": "no spaces"}},
           "spec": {"containers": [{"name": "c"}, {"name": "c", "image": "x",
                                                   "ports": [{"containerPort": 70000, "protocol": "HTTP"}]}],
                    "restartPolicy": "Sometimes", "dnsPolicy": "Nope"}}
    STRATEGY.prepare_for_create(obj)
    causes = STRATEGY.validate(obj)
    by_field = {c["field"]: c for c in causes}
    assert by_field["metadata.name"]["message"].startswith(
        'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of')
    assert by_field["metadata.labels"]["message"].startswith('Invalid value: "no spaces": a valid label')
    assert by_field["spec.containers[0].image"] == {"reason": "FieldValueRequired", "message": "Required value",
                                                    "field": "spec.containers[0].image"}
    assert by_field["spec.containers[1].name"]["message"] == 'Duplicate value: "c"'
    assert by_field["spec.containers[1].ports[0].containerPort"]["message"] == \
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    assert by_field["spec.containers[1].ports[0].protocol"]["message"] == \
        'Unsupported value: "HTTP": supported values: "TCP", "UDP", "SCTP"'
    assert by_field["spec.restartPolicy"]["message"] == \
        'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'
    assert by_field["spec.dnsPolicy"]["reason"] == "FieldValueNotSupported"
    error = Invalid.for_object("Pod", "Bad_Name", causes)
    assert error.message.startswith('Pod "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name"')


def test_at_least_one_container_and_volume_mounts():
    obj = pod()
    obj["spec"]["containers"] = []
    STRATEGY.prepare_for_create(obj)
    assert {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"} in \
        STRATEGY.validate(obj)
    obj = pod(volumes=[{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}}])
    obj["spec"]["containers"][0]["volumeMounts"] = [{"name": "missing", "mountPath": "/x"}]
    STRATEGY.prepare_for_create(obj)
    messages = {c["field"]: c["message"] for c in STRATEGY.validate(obj)}
    assert messages["spec.volumes[1].name"] == 'Duplicate value: "data"'
    assert messages["spec.containers[0].volumeMounts[0].name"] == 'Not found: "missing"'


def test_update_may_change_images_and_add_tolerations_only():
    old = created()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.27"
    new["spec"]["tolerations"].append({"key": "k", "operator": "Exists"})
    STRATEGY.prepare_for_update(new, old)
    assert STRATEGY.validate_update(new, old) == []
    changed = copy.deepcopy(old)
    changed["spec"]["restartPolicy"] = "Never"
    STRATEGY.prepare_for_update(changed, old)
    (cause,) = STRATEGY.validate_update(changed, old)
    assert cause["field"] == "spec" and cause["reason"] == "FieldValueForbidden"
    assert cause["message"].startswith("Forbidden: pod updates may not change fields other than "
                                       "`spec.containers[*].image`")
    removed = copy.deepcopy(old)
    removed["spec"]["tolerations"] = removed["spec"]["tolerations"][:1]
    assert any(c["field"] == "spec.tolerations" for c in STRATEGY.validate_update(removed, old))


def test_update_keeps_status_and_what_the_control_plane_set():
    old = pod()
    old["spec"]["containers"][0]["image"] = "nginx:1"
    STRATEGY.prepare_for_create(old)
    old["spec"]["nodeName"] = "node-1"
    old["status"] = {"phase": "Running"}
    replacement = pod()  # a manifest as the user wrote it: no nodeName, no admission defaults
    replacement["spec"]["containers"][0]["image"] = "nginx:2"
    replacement["status"] = {"phase": "Failed"}
    STRATEGY.prepare_for_update(replacement, old)
    assert replacement["status"] == {"phase": "Running"}
    assert replacement["spec"]["nodeName"] == "node-1"
    assert STRATEGY.validate_update(replacement, old) == []


def test_name_change_is_rejected_on_update():
    old = created()
    new = copy.deepcopy(old)
    new["metadata"]["namespace"] = "other"
    assert {"reason": "FieldValueInvalid", "message": 'Invalid value: "other": field is immutable',
            "field": "metadata.namespace"} in STRATEGY.validate_update(new, old)


def test_field_values():
    obj = created(nodeName="n1")
    obj["status"].update(podIP="10.0.0.5", podIPs=[{"ip": "10.0.0.5"}])
    assert STRATEGY.field_values(obj) == {
        "spec.nodeName": "n1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "default", "spec.hostNetwork": "false", "status.phase": "Pending",
        "status.podIP": "10.0.0.5", "status.podIPs": "10.0.0.5", "status.nominatedNodeName": ""}


def test_graceful_delete_seconds():
    assert STRATEGY.graceful_delete_seconds(created()) == 0  # never scheduled: goes at once
    running = created(nodeName="n1", terminationGracePeriodSeconds=10)
    assert STRATEGY.graceful_delete_seconds(running) == 10
    running["spec"]["terminationGracePeriodSeconds"] = 0
    assert STRATEGY.graceful_delete_seconds(running) == 0
    running["spec"]["terminationGracePeriodSeconds"] = -5
    assert STRATEGY.graceful_delete_seconds(running) == 1
    running["status"]["phase"] = "Succeeded"
    assert STRATEGY.graceful_delete_seconds(running) == 0


def status_row(status, **spec):
    obj = created(**spec)
    obj["status"] = status
    return STRATEGY.row(obj, NOW)


def running(name="c", ready=True, restarts=0, last_finished=None):
    cs = {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {}}}
    if last_finished:
        cs["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": last_finished}}
    return cs


def test_row_pending_and_wide_cells():
    assert STRATEGY.row(created(), NOW) == ["web", "0/1", "Pending", "0", "5m", "<none>", "<none>", "<none>",
                                            "<none>"]


def test_row_statuses():
    waiting = {"phase": "Pending", "containerStatuses": [
        {"name": "c", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}
    assert status_row(waiting)[1:4] == ["0/1", "ContainerCreating", "0"]
    up = {"phase": "Running", "podIP": "10.1.1.1", "containerStatuses": [running()],
          "conditions": [{"type": "Ready", "status": "True"}]}
    assert status_row(up, nodeName="n1") == ["web", "1/1", "Running", "0", "5m", "10.1.1.1", "n1", "<none>",
                                             "<none>"]
    done = {"phase": "Succeeded", "containerStatuses": [
        {"name": "c", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0,
                                                                                  "reason": "Completed"}}}]}
    assert status_row(done)[2] == "Completed"
    failed = {"phase": "Failed", "containerStatuses": [
        {"name": "c", "restartCount": 0, "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}
    assert status_row(failed)[2] == "Error"
    signal = {"phase": "Failed", "containerStatuses": [
        {"name": "c", "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}
    assert status_row(signal)[2] == "Signal:9"


def test_row_crash_loop_restarts_with_last_restart_age():
    crashing = {"phase": "Running", "containerStatuses": [
        {"name": "c", "ready": False, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-11-25T17:55:00Z"}}}]}
    assert status_row(crashing)[1:4] == ["0/1", "CrashLoopBackOff", "5 (5m ago)"]


def test_row_init_containers_and_sidecars():
    spec = {"initContainers": [{"name": "init", "image": "busybox"}]}
    first = {"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "restartCount": 0, "state": {"running": {}}}]}
    assert status_row(first, **spec)[2] == "Init:0/1"
    broken = {"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "restartCount": 2, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}
    assert status_row(broken, **spec)[2:4] == ["Init:Error", "2"]
    backoff = {"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
    assert status_row(backoff, **spec)[2] == "Init:CrashLoopBackOff"
    sidecar = {"initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]}
    both = {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "started": True, "ready": True, "restartCount": 1,
                                       "state": {"running": {}}}],
            "containerStatuses": [running()]}
    assert status_row(both, **sidecar)[1:4] == ["2/2", "Running", "1"]


def test_row_terminating_and_gates():
    obj = created(nodeName="n1", readinessGates=[{"conditionType": "example.com/ready"}])
    obj["metadata"]["deletionTimestamp"] = "2026-11-25T17:59:00Z"
    obj["status"] = {"phase": "Running", "containerStatuses": [running()],
                     "conditions": [{"type": "example.com/ready", "status": "True"}]}
    cells = STRATEGY.row(obj, NOW)
    assert cells[2] == "Terminating" and cells[8] == "1/1"
    gated = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                                 "reason": "SchedulingGated"}]}
    assert status_row(gated)[2] == "SchedulingGated"


def test_status_update_rules():
    old = created(nodeName="n1")
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "ignored:2"
    new["status"] = {"phase": "Running", "podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.7"}],
                     "conditions": [{"type": "Ready", "status": "True"}]}
    STRATEGY.prepare_for_status_update(new, old)
    assert new["spec"] == old["spec"]  # /status changes status only
    assert STRATEGY.validate_status_update(new, old) == []
    new["status"].update(phase="Sleeping", podIP="not-an-ip", conditions=[{"status": "Maybe"}])
    fields = {c["field"] for c in STRATEGY.validate_status_update(new, old)}
    assert fields == {"status.phase", "status.podIP", "status.conditions[0].type", "status.conditions[0].status"}


def test_pod_templates():
    templates = builtin_registry().get("", "v1", "podtemplates").strategy
    obj = {"metadata": {"name": "t", "namespace": "default"},
           "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}
    templates.prepare_for_create(obj)
    assert obj["template"]["spec"]["restartPolicy"] == "Always" and "status" not in obj
    assert templates.validate(obj) == []
    assert templates.row(obj, NOW) == ["t", "c", "x", "app=web"]


def test_probes_env_ports_and_init_containers():
    obj = pod(hostNetwork=True, volumes=[{"name": "cfg", "configMap": {}}],
              initContainers=[{"name": "setup", "image": "busybox", "readinessProbe": {"exec": {"command": ["true"]}}},
                              {"name": "proxy", "image": "envoy", "restartPolicy": "Always",
                               "startupProbe": {"tcpSocket": {"port": 80}}}])
    obj["spec"]["containers"] = [
        {"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}],
         "livenessProbe": {"periodSeconds": 5, "successThreshold": 2},
         "env": [{"name": "POD", "valueFrom": {}}, {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s"}}}]},
        {"name": "b", "image": "x", "ports": [{"containerPort": 8080, "hostPort": 8080}]}]
    STRATEGY.prepare_for_create(obj)
    by_field = {c["field"]: c["message"] for c in STRATEGY.validate(obj)}
    assert by_field["spec.volumes[0].configMap.name"] == "Required value"
    assert by_field["spec.initContainers[0].readinessProbe"] == \
        "Forbidden: may not be set for init containers without restartPolicy=Always"
    assert "spec.initContainers[1].startupProbe" not in by_field  # a sidecar may have probes
    assert by_field["spec.containers[0].livenessProbe"] == "Required value: must specify a handler type"
    assert by_field["spec.containers[0].livenessProbe.successThreshold"] == "Invalid value: 2: must be 1"
    assert by_field["spec.containers[0].ports[0].hostPort"] == \
        "Invalid value: 8080: must match `containerPort` when `hostNetwork` is true"
    assert by_field["spec.containers[0].env[0].valueFrom"].startswith('Invalid value: "": must specify one of')
    assert by_field["spec.containers[0].env[1].valueFrom.secretKeyRef.key"] == "Required value"
    assert by_field["spec.containers[1].ports[0].hostPort"] == 'Duplicate value: "8080/TCP"'
