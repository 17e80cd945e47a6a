"""Jobs and CronJobs: defaults, the generated Job selector, schedule syntax, and their Tables."""

from __future__ import annotations

import re
from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.apps import CONTAINERS, IMAGES, SELECTOR
from hyperkube.api.strategies.base import (
    Causes,
    KindStrategy,
    dicts,
    ensure_map,
    get,
    get_dicts,
    get_map,
    mapping,
    name_of,
    spec,
)
from hyperkube.api.strategies.common import (
    NONE,
    age,
    containers_cell,
    format_label_selector,
    images_cell,
    int_cell,
    selector_is_empty,
    selector_matches,
    since,
    validate_label_selector,
)
from hyperkube.api.strategies.podspec import default_template, validate_template
from hyperkube.machinery import validation as v
from hyperkube.machinery.durations import human_duration, parse_rfc3339

JOB_RESTART_POLICIES = ("OnFailure", "Never")
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
CRONJOB_NAME_MAX = 52


def default_job_spec(s: dict[str, Any]) -> None:
    if s.get("completions") is None and s.get("parallelism") is None:
        s["completions"] = 1
        s["parallelism"] = 1
    s.setdefault("parallelism", 1)
    s.setdefault("completionMode", "NonIndexed")
    if s.get("backoffLimit") is None:
        s["backoffLimit"] = 2147483647 if s.get("backoffLimitPerIndex") is not None else 6
    s.setdefault("suspend", False)
    s.setdefault("podReplacementPolicy", "Failed" if s.get("podFailurePolicy") else "TerminatingOrFailed")
    default_template(s.get("template"))


def generate_selector(job: Object) -> None:
    """Label the template with the job's uid and name and select on the uid, unless manualSelector."""
    s = spec(job)
    uid = get(job, "metadata", "uid", default="")
    name = get(job, "metadata", "name", default="")
    if s.get("manualSelector") or not uid:
        return
    template = ensure_map(s, "template")
    labels = ensure_map(ensure_map(template, "metadata"), "labels")
    labels.setdefault(CONTROLLER_UID, uid)
    labels.setdefault(JOB_NAME, name)
    labels.setdefault("controller-uid", uid)
    labels.setdefault("job-name", name)
    if not s.get("selector"):
        s["selector"] = {"matchLabels": {CONTROLLER_UID: uid}}


def validate_job_spec(s: Any, path: str) -> Causes:
    if not isinstance(s, dict):
        return [v.required(path)]
    out: Causes = []
    for field in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"):
        out += v.non_negative(f"{path}.{field}", s.get(field))
    out += v.positive(f"{path}.activeDeadlineSeconds", s.get("activeDeadlineSeconds"))
    out += v.enum(f"{path}.completionMode", s.get("completionMode"), ("NonIndexed", "Indexed"))
    if s.get("completionMode") == "Indexed" and s.get("completions") is None:
        out.append(v.required(f"{path}.completions", "when completion mode is Indexed"))
    out += v.enum(f"{path}.podReplacementPolicy", s.get("podReplacementPolicy"), ("TerminatingOrFailed", "Failed"))
    selector = s.get("selector")
    out += validate_label_selector(selector, f"{path}.selector")
    template = s.get("template")
    if template is None:
        return out + [v.required(f"{path}.template")]
    out += validate_template(template, f"{path}.template", restart_policies=JOB_RESTART_POLICIES)
    labels = get_map(template, "metadata", "labels")
    if s.get("manualSelector") and selector_is_empty(selector):
        out.append(v.required(f"{path}.selector"))
    elif selector is not None and not selector_is_empty(selector) and not selector_matches(selector, labels):
        out.append(v.invalid(f"{path}.template.metadata.labels", labels,
                             "`selector` does not match template `labels`"))
    return out


class JobStrategy(KindStrategy):
    field_labels = ("status.successful",)

    def default(self, obj: Object) -> None:
        default_job_spec(spec(obj))

    def prepare_for_create(self, obj: Object) -> None:
        super().prepare_for_create(obj)
        generate_selector(obj)

    def validate_spec(self, obj: Object) -> Causes:
        # Kubernetes generates the selector at validation time, once the uid is known
        generate_selector(obj)
        return validate_job_spec(obj.get("spec"), "spec")

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        new_spec, old_spec = mapping(new.get("spec")), mapping(old.get("spec"))
        out: Causes = []
        if old_spec.get("selector") is not None and new_spec.get("selector") != old_spec.get("selector"):
            out.append(v.immutable("spec.selector", new_spec.get("selector")))
        if new_spec.get("completions") != old_spec.get("completions") and \
                old_spec.get("completionMode") != "Indexed":
            out.append(v.immutable("spec.completions", new_spec.get("completions")))
        if new_spec.get("completionMode") != old_spec.get("completionMode"):
            out.append(v.immutable("spec.completionMode", new_spec.get("completionMode")))
        suspended = old_spec.get("suspend") and not get(old, "status", "startTime")
        if not suspended and new_spec.get("template") != old_spec.get("template"):
            out.append(v.immutable("spec.template", ""))
        return out

    def field_values(self, obj: Object) -> dict[str, str]:
        return {"status.successful": str(int_cell(get(obj, "status", "succeeded", default=0)))}

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Status", description="Status of the job."),
                Column("Completions", description="The completion status of the job."),
                Column("Duration", description="Time required to complete the job."), AGE_COLUMN,
                CONTAINERS, IMAGES, SELECTOR]

    def row(self, obj: Object, now: float) -> list[Any]:
        s, st = mapping(obj.get("spec")), mapping(obj.get("status"))
        template = get(s, "template", "spec")
        succeeded = int_cell(st.get("succeeded"))
        if s.get("completions") is not None:
            completions = f"{succeeded}/{s['completions']}"
        elif int_cell(s.get("parallelism")) > 1:
            completions = f"{succeeded}/1 of {s['parallelism']}"
        else:
            completions = f"{succeeded}/1"
        duration = ""
        try:
            if st.get("startTime"):
                end = parse_rfc3339(st["completionTime"]) if st.get("completionTime") else now
                duration = human_duration(end - parse_rfc3339(st["startTime"]))
        except ValueError:
            duration = ""
        return [get(obj, "metadata", "name", default=""), job_status(obj), completions, duration, age(obj, now),
                containers_cell(template), images_cell(template), format_label_selector(s.get("selector"))]


def job_status(job: Object) -> str:
    true = {c.get("type") for c in get_dicts(job, "status", "conditions")
            if isinstance(c, dict) and c.get("status") == "True"}
    if "Complete" in true:
        return "Complete"
    if "Failed" in true:
        return "Failed"
    if get(job, "metadata", "deletionTimestamp"):
        return "Terminating"
    for condition in ("Suspended", "FailureTarget"):
        if condition in true:
            return condition
    return "Running"


_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = {3: ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
          4: ("sun", "mon", "tue", "wed", "thu", "fri", "sat")}
_TERM = re.compile(r"^(\*|\?|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?$")


def schedule_errors(schedule: str) -> str:
    """'' if a standard 5-field cron schedule (or @macro / @every) parses, else why not."""
    text = schedule.strip()
    if "TZ=" in text:
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if text.startswith("@"):
        if text in _MACROS or text.startswith("@every "):
            return ""
        return f"unrecognized descriptor: {text}"
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for i, field in enumerate(fields):
        low, high = _FIELD_RANGES[i]
        for term in field.lower().split(","):
            match = _TERM.match(term)
            if not match:
                return f"failed to parse int from {term}"
            for part in match.group(1).split("-") if match.group(1) not in ("*", "?") else ():
                if part.isdigit():
                    if not low <= int(part) <= high:
                        return f"end of range ({part}) above maximum ({high}): {term}" if int(part) > high else \
                            f"beginning of range ({part}) below minimum ({low}): {term}"
                elif part not in _NAMES.get(i, ()):
                    return f"failed to parse int from {part}"
    return ""


class CronJobStrategy(KindStrategy):
    def default(self, obj: Object) -> None:
        s = spec(obj)
        s.setdefault("concurrencyPolicy", "Allow")
        s.setdefault("suspend", False)
        s.setdefault("successfulJobsHistoryLimit", 3)
        s.setdefault("failedJobsHistoryLimit", 1)
        job_spec = get(s, "jobTemplate", "spec")
        if isinstance(job_spec, dict):
            default_template(job_spec.get("template"))

    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
        out: Causes = []
        name = name_of(obj)
        if len(name) > CRONJOB_NAME_MAX:
            out.append(v.invalid("metadata.name", name, v.max_len_message(CRONJOB_NAME_MAX)))
        schedule = s.get("schedule")
        if not schedule:
            out.append(v.required("spec.schedule"))
        elif isinstance(schedule, str) and (why := schedule_errors(schedule)):
            out.append(v.invalid("spec.schedule", schedule, why))
        out += v.enum("spec.concurrencyPolicy", s.get("concurrencyPolicy"), ("Allow", "Forbid", "Replace"))
        for field in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
            out += v.non_negative(f"spec.{field}", s.get(field))
        template = s.get("jobTemplate")
        if not isinstance(template, dict):
            return out + [v.required("spec.jobTemplate")]
        out += v.validate_labels(get(template, "metadata", "labels"), "spec.jobTemplate.metadata.labels")
        return out + validate_job_spec(template.get("spec"), "spec.jobTemplate.spec")

    def columns(self) -> list[Column]:
        return [NAME_COLUMN,
                Column("Schedule", description="The schedule in Cron format, see "
                       "https://en.wikipedia.org/wiki/Cron."),
                Column("Timezone", description="The time zone name for the given schedule."),
                Column("Suspend", type="boolean", description="This flag tells the controller to suspend "
                       "subsequent executions."),
                Column("Active", type="integer", description="A list of pointers to currently running jobs."),
                Column("Last Schedule", description="Information when was the last time the job was "
                       "successfully scheduled."),
                AGE_COLUMN, CONTAINERS, IMAGES, SELECTOR]

    def row(self, obj: Object, now: float) -> list[Any]:
        s, st = mapping(obj.get("spec")), mapping(obj.get("status"))
        job_spec = get_map(s, "jobTemplate", "spec")
        template = get(job_spec, "template", "spec")
        last = since(st.get("lastScheduleTime"), now) if st.get("lastScheduleTime") else NONE
        selector = job_spec.get("selector") if isinstance(job_spec, dict) else None
        return [get(obj, "metadata", "name", default=""), s.get("schedule", ""), s.get("timeZone") or NONE,
                "True" if s.get("suspend") else "False", len(dicts(st.get("active"))), last, age(obj, now),
                containers_cell(template), images_cell(template), format_label_selector(selector)]
