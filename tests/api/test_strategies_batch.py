"""Jobs and CronJobs: defaults, the generated selector, restart policies, schedules and rows."""

from __future__ import annotations

import copy

from hyperkube.api.kinds import builtin_registry
from hyperkube.api.strategies.batch import schedule_errors
from hyperkube.machinery.durations import parse_rfc3339

NOW = parse_rfc3339("2026-11-25T18:00:00Z")
REGISTRY = builtin_registry()
JOBS = REGISTRY.get("batch", "v1", "jobs").strategy
CRONJOBS = REGISTRY.get("batch", "v1", "cronjobs").strategy


def job(restart="Never", **spec):
    pod_spec = {"containers": [{"name": "pi", "image": "perl:5"}]}
    if restart:
        pod_spec["restartPolicy"] = restart
    return {"metadata": {"name": "pi", "namespace": "default", "uid": "1234",
                         "creationTimestamp": "2026-11-25T17:00:00Z"},
            "spec": {"template": {"spec": pod_spec}, **spec}}


def test_job_defaults_and_generated_selector():
    obj = job()
    JOBS.prepare_for_create(obj)
    spec = obj["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": "1234", "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "1234", "job-name": "pi"}
    assert JOBS.validate(obj) == []
    parallel = job(parallelism=3)
    JOBS.prepare_for_create(parallel)
    assert "completions" not in parallel["spec"] and parallel["spec"]["parallelism"] == 3


def test_selector_generated_at_validation_when_uid_comes_later():
    obj = job()
    del obj["metadata"]["uid"]
    JOBS.prepare_for_create(obj)
    assert "selector" not in obj["spec"]
    obj["metadata"]["uid"] = "5678"  # the server assigns it after PrepareForCreate, as Kubernetes does
    assert JOBS.validate(obj) == []
    assert obj["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "5678"}}


def test_job_restart_policy_and_immutability():
    always = job(restart=None)
    JOBS.prepare_for_create(always)
    assert JOBS.validate(always) == [{"reason": "FieldValueNotSupported", "field": "spec.template.spec.restartPolicy",
                                      "message": 'Unsupported value: "Always": supported values: "OnFailure", '
                                                 '"Never"'}]
    old = job()
    JOBS.prepare_for_create(old)
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:6"
    new["spec"]["selector"] = {"matchLabels": {"x": "y"}}
    fields = {c["field"] for c in JOBS.validate_update(new, old)}
    assert {"spec.selector", "spec.template"} <= fields
    parallel = copy.deepcopy(old)
    parallel["spec"]["parallelism"] = 4
    assert JOBS.validate_update(parallel, old) == []


def test_job_rows():
    obj = job()
    JOBS.prepare_for_create(obj)
    assert JOBS.row(obj, NOW) == ["pi", "Running", "0/1", "", "60m", "pi", "perl:5",
                                  "batch.kubernetes.io/controller-uid=1234"]
    obj["status"] = {"succeeded": 1, "startTime": "2026-11-25T17:00:00Z", "completionTime": "2026-11-25T17:00:42Z",
                     "conditions": [{"type": "Complete", "status": "True"}]}
    assert JOBS.row(obj, NOW)[1:4] == ["Complete", "1/1", "42s"]
    assert JOBS.field_values(obj) == {"status.successful": "1"}
    failing = job(parallelism=2)
    JOBS.prepare_for_create(failing)
    failing["status"] = {"startTime": "2026-11-25T17:58:00Z", "conditions": [{"type": "Failed", "status": "True"}]}
    assert JOBS.row(failing, NOW)[1:4] == ["Failed", "0/1 of 2", "2m"]
    suspended = job()
    suspended["status"] = {"conditions": [{"type": "Suspended", "status": "True"}]}
    assert JOBS.row(suspended, NOW)[1] == "Suspended"


def test_schedule_syntax():
    for good in ("*/5 * * * *", "0 0 * * 0", "@hourly", "30 4 1-15 jan,mar mon-fri", "@every 1h"):
        assert schedule_errors(good) == "", good
    assert schedule_errors("* * *") == "expected exactly 5 fields, found 3: [* * *]"
    assert schedule_errors("61 * * * *").startswith("end of range (61) above maximum (59)")
    assert schedule_errors("TZ=UTC 0 * * * *") == "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"


def test_cronjob_defaults_validation_and_row():
    cron = {"metadata": {"name": "backup", "namespace": "default", "creationTimestamp": "2026-11-25T17:00:00Z"},
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "b", "image": "busybox"}]}}}}}}
    CRONJOBS.prepare_for_create(cron)
    spec = cron["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"], spec["successfulJobsHistoryLimit"],
            spec["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert CRONJOBS.validate(cron) == []
    assert CRONJOBS.row(cron, NOW) == ["backup", "0 * * * *", "<none>", "False", 0, "<none>", "60m", "b", "busybox",
                                       "<none>"]
    cron["status"] = {"active": [{"name": "backup-1"}], "lastScheduleTime": "2026-11-25T17:59:30Z"}
    assert CRONJOBS.row(cron, NOW)[4:6] == [1, "30s"]
    bad = copy.deepcopy(cron)
    bad["metadata"]["name"] = "b" * 53
    bad["spec"]["schedule"] = "every day"
    fields = {c["field"]: c["message"] for c in CRONJOBS.validate(bad)}
    assert fields["metadata.name"].endswith("must be no more than 52 characters")
    assert fields["spec.schedule"].startswith('Invalid value: "every day": expected exactly 5 fields')
