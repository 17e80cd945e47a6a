"""The real kubectl's typed commands send protobuf: a Job made from a CronJob carries the whole pod
template, security contexts included, and arrives as the JSON body would have."""

from __future__ import annotations

import json

from tests.e2e._cluster import Cluster

CRONJOB = """
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000, supplementalGroups: [3000],
                            seccompProfile: {type: RuntimeDefault}, sysctls: [{name: net.core.somaxconn, value: "1024"}]}
          containers:
          - name: task
            image: busybox
            command: [sh, -c, "echo hi"]
            securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
                              capabilities: {drop: [ALL]}}
"""


def test_create_job_from_cronjob_keeps_security_contexts(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=CRONJOB)
    cluster.kubectl("create", "job", "nightly-now", "--from=cronjob/nightly")
    job = json.loads(cluster.kubectl("get", "job", "nightly-now", "-o", "json").stdout)
    spec = job["spec"]["template"]["spec"]
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 2000,
                                       "supplementalGroups": [3000], "seccompProfile": {"type": "RuntimeDefault"},
                                       "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]}
    assert spec["containers"][0]["securityContext"] == {"allowPrivilegeEscalation": False,
                                                        "readOnlyRootFilesystem": True,
                                                        "capabilities": {"drop": ["ALL"]}}
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("CronJob", "nightly")
