"""HorizontalPodAutoscalers (autoscaling v2, and v1 converted onto it), PodDisruptionBudgets,
Leases and PriorityClasses.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import Causes, KindStrategy, PlainStrategy, get, spec
from hyperkube.api.strategies.common import NONE, int_cell, validate_label_selector
from hyperkube.machinery import validation as v
from hyperkube.machinery.durations import age

#: where a v1 HPA keeps the v2 metrics it cannot express (as Kubernetes does)
METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"


class HorizontalPodAutoscalerStrategy(KindStrategy):
    def default(self, obj: Object) -> None:
        s = spec(obj)
        s.setdefault("minReplicas", 1)
        if not s.get("metrics"):
            s["metrics"] = [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]

    def validate_spec(self, obj: Object) -> Causes:
        s = obj.get("spec") or {}
        out: Causes = []
        ref = s.get("scaleTargetRef") or {}
        for field in ("kind", "name"):
            if not ref.get(field):
                out.append(v.required(f"spec.scaleTargetRef.{field}"))
        minimum = s.get("minReplicas")
        if isinstance(minimum, int) and minimum < 1:
            out.append(v.invalid("spec.minReplicas", minimum, "must be greater than or equal to 1"))
        maximum = s.get("maxReplicas")
        if not isinstance(maximum, int) or maximum < 1:
            out.append(v.invalid("spec.maxReplicas", maximum, "must be greater than 0"))
        elif isinstance(minimum, int) and maximum < minimum:
            out.append(v.invalid("spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`"))
        for i, metric in enumerate(s.get("metrics") or []):
            out += v.enum(f"spec.metrics[{i}].type", metric.get("type"),
                          ("Object", "Pods", "Resource", "ContainerResource", "External"), allow_empty=False)
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN,
                Column("Reference", description="Reference to the target resource of this autoscaler"),
                Column("Targets", description="The current and target metrics"),
                Column("MinPods", description="Lower limit for the number of pods"),
                Column("MaxPods", type="integer", description="Upper limit for the number of pods"),
                Column("Replicas", type="integer", description="Current number of replicas"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        hpa = self.to_storage(copy.deepcopy(obj))
        s, st = hpa.get("spec") or {}, hpa.get("status") or {}
        ref = s.get("scaleTargetRef") or {}
        minimum = s.get("minReplicas")
        return [get(obj, "metadata", "name", default=""), f"{ref.get('kind', '')}/{ref.get('name', '')}",
                hpa_targets(s.get("metrics") or [], st.get("currentMetrics") or []),
                str(minimum) if minimum is not None else "<unset>", int_cell(s.get("maxReplicas")),
                int_cell(st.get("currentReplicas")), age(obj, now)]


def _target_text(target: dict[str, Any], current: dict[str, Any] | None) -> tuple[str, str]:
    if target.get("type") == "Utilization":
        now = current.get("averageUtilization") if current else None
        return (f"{now}%" if now is not None else "<unknown>"), f"{target.get('averageUtilization')}%"
    key = "averageValue" if target.get("type") == "AverageValue" else "value"
    now = current.get(key) if current else None
    return (str(now) if now is not None else "<unknown>"), str(target.get(key, ""))


def hpa_targets(metrics: list[dict[str, Any]], current: list[dict[str, Any]]) -> str:
    cells = []
    for i, metric in enumerate(metrics):
        kind = metric.get("type", "")
        field = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
                 "Object": "object", "External": "external"}.get(kind, "")
        body = metric.get(field) or {}
        now_body = (current[i].get(field) or {}) if i < len(current) else {}
        now_value, target_value = _target_text(body.get("target") or {}, now_body.get("current"))
        prefix = f"{body.get('name')}: " if kind in ("Resource", "ContainerResource") else ""
        cells.append(f"{prefix}{now_value}/{target_value}")
    if not cells:
        return NONE
    text = ", ".join(cells[:3])
    return text + (f" + {len(cells) - 3} more..." if len(cells) > 3 else "")


class HorizontalPodAutoscalerV1Strategy(HorizontalPodAutoscalerStrategy):
    """autoscaling/v1: targetCPUUtilizationPercentage over the stored v2 metrics."""

    def default(self, obj: Object) -> None:
        spec(obj).setdefault("minReplicas", 1)

    def validate_spec(self, obj: Object) -> Causes:
        return super().validate_spec(self.to_storage(copy.deepcopy(obj)))

    def to_storage(self, obj: Object) -> Object:
        if obj.get("apiVersion") == "autoscaling/v2":
            return obj
        out = copy.deepcopy(obj)
        out["apiVersion"] = "autoscaling/v2"
        s = out.setdefault("spec", {})
        target = s.pop("targetCPUUtilizationPercentage", None)
        annotations = (out.get("metadata") or {}).get("annotations") or {}
        extra = annotations.pop(METRICS_ANNOTATION, None)
        metrics = json.loads(extra) if extra else []
        if target is not None:
            metrics.insert(0, {"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}})
        if metrics:
            s["metrics"] = metrics
        HorizontalPodAutoscalerStrategy.default(self, out)
        st = out.get("status")
        if isinstance(st, dict):
            current = st.pop("currentCPUUtilizationPercentage", None)
            if current is not None:
                st["currentMetrics"] = [{"type": "Resource", "resource": {
                    "name": "cpu", "current": {"averageUtilization": current}}}]
        return out

    def from_storage(self, obj: Object) -> Object:
        out = copy.deepcopy(obj)
        out["apiVersion"] = "autoscaling/v1"
        s = out.setdefault("spec", {})
        rest = []
        for metric in s.pop("metrics", None) or []:
            resource = metric.get("resource") or {}
            target = resource.get("target") or {}
            if (metric.get("type") == "Resource" and resource.get("name") == "cpu"
                    and target.get("type") == "Utilization" and "targetCPUUtilizationPercentage" not in s):
                s["targetCPUUtilizationPercentage"] = target.get("averageUtilization")
            else:
                rest.append(metric)
        if rest:
            out.setdefault("metadata", {}).setdefault("annotations", {})[METRICS_ANNOTATION] = json.dumps(rest)
        s.pop("behavior", None)
        st = out.get("status")
        if isinstance(st, dict):
            for metric in st.pop("currentMetrics", None) or []:
                resource = metric.get("resource") or {}
                if resource.get("name") == "cpu" and "averageUtilization" in (resource.get("current") or {}):
                    st["currentCPUUtilizationPercentage"] = resource["current"]["averageUtilization"]
            st.pop("conditions", None)
        return out


def _int_or_percent(value: Any, field: str) -> Causes:
    if value is None:
        return []
    if isinstance(value, str):
        if not value.endswith("%") or not value[:-1].isdigit():
            return [v.invalid(field, value, "a valid percent string must be a numeric string followed by an "
                              "ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")]
        if int(value[:-1]) > 100:
            return [v.invalid(field, value, "must not be greater than 100%")]
        return []
    return v.non_negative(field, value)


class PodDisruptionBudgetStrategy(KindStrategy):
    def validate_spec(self, obj: Object) -> Causes:
        s = obj.get("spec") or {}
        out: Causes = []
        if s.get("minAvailable") is not None and s.get("maxUnavailable") is not None:
            out.append(v.invalid("spec", s, "minAvailable and maxUnavailable cannot be both set"))
        out += _int_or_percent(s.get("minAvailable"), "spec.minAvailable")
        out += _int_or_percent(s.get("maxUnavailable"), "spec.maxUnavailable")
        out += validate_label_selector(s.get("selector"), "spec.selector")
        out += v.enum("spec.unhealthyPodEvictionPolicy", s.get("unhealthyPodEvictionPolicy"),
                      ("IfHealthyBudget", "AlwaysAllow"))
        return out

    def initial_status(self, obj: Object) -> Object:
        return {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}

    def columns(self) -> list[Column]:
        return [NAME_COLUMN,
                Column("Min Available", description="The minimum number or percentage of available pods this "
                       "budget requires"),
                Column("Max Unavailable", description="The maximum number or percentage of unavailable pods "
                       "this budget requires"),
                Column("Allowed Disruptions", type="integer", description="Calculated number of pods that may "
                       "be disrupted at this time"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        s = obj.get("spec") or {}
        minimum, maximum = s.get("minAvailable"), s.get("maxUnavailable")
        return [get(obj, "metadata", "name", default=""), "N/A" if minimum is None else str(minimum),
                "N/A" if maximum is None else str(maximum),
                int_cell(get(obj, "status", "disruptionsAllowed", default=0)), age(obj, now)]


class LeaseStrategy(PlainStrategy):
    def validate_spec(self, obj: Object) -> Causes:
        s = obj.get("spec") or {}
        out: Causes = v.non_negative("spec.leaseTransitions", s.get("leaseTransitions"))
        duration = s.get("leaseDurationSeconds")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            out.append(v.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Holder", description="The holder of the lease"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        return [get(obj, "metadata", "name", default=""), get(obj, "spec", "holderIdentity", default=""),
                age(obj, now)]


HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}


class PriorityClassStrategy(PlainStrategy):
    namespaced = False

    def default(self, obj: Object) -> None:
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")

    def validate_spec(self, obj: Object) -> Causes:
        name = get(obj, "metadata", "name", default="")
        value = obj.get("value")
        out: Causes = []
        if name in SYSTEM_PRIORITY_CLASSES:
            if value != SYSTEM_PRIORITY_CLASSES[name]:
                out.append(v.forbidden("metadata.name", f"{name} is a reserved system priority class name"))
        elif name.startswith("system-"):
            out.append(v.forbidden("metadata.name", "priority class names with 'system-' prefix are reserved."))
        elif isinstance(value, int) and value > HIGHEST_USER_PRIORITY:
            out.append(v.forbidden("value", f"maximum allowed value of a user defined priority is "
                                   f"{HIGHEST_USER_PRIORITY}"))
        out += v.enum("preemptionPolicy", obj.get("preemptionPolicy"), ("PreemptLowerPriority", "Never"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        out: Causes = []
        if new.get("value") != old.get("value"):
            out.append(v.forbidden("value", "may not be changed in an update."))
        if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
            out.append(v.immutable("preemptionPolicy", new.get("preemptionPolicy")))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Value", type="integer", description="The value of this priority class."),
                Column("Global-Default", type="boolean", description="globalDefault specifies whether this "
                       "PriorityClass should be considered as the default priority."),
                Column("PreemptionPolicy", description="PreemptionPolicy is the Policy for preempting pods with "
                       "lower priority."), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        return [get(obj, "metadata", "name", default=""), int_cell(obj.get("value")), bool(obj.get("globalDefault")),
                obj.get("preemptionPolicy") or "PreemptLowerPriority", age(obj, now)]
