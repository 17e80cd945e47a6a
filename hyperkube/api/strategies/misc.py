"""HorizontalPodAutoscalers (autoscaling v2, and v1 converted onto it), PodDisruptionBudgets,
Leases and PriorityClasses.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import (
    Causes,
    KindStrategy,
    PlainStrategy,
    dicts,
    ensure_map,
    get,
    mapping,
    name_of,
    spec,
    text,
)
from hyperkube.api.strategies.common import NONE, age, int_cell, validate_label_selector
from hyperkube.machinery import validation as v

#: where a v1 HPA keeps the v2 metrics it cannot express (as Kubernetes does)
METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"


#: the scaling rules Kubernetes fills into a given spec.behavior
SCALING_RULES = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                             {"type": "Percent", "value": 100, "periodSeconds": 15}]},
    "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                  "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
}


class HorizontalPodAutoscalerStrategy(KindStrategy):
    status_zero = ("desiredReplicas",)
    def default(self, obj: Object) -> None:
        s = spec(obj)
        s.setdefault("minReplicas", 1)
        if not s.get("metrics"):
            s["metrics"] = [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
        behavior = s.get("behavior")
        if isinstance(behavior, dict):  # only a given behavior gets its gaps filled
            for direction, defaults in SCALING_RULES.items():
                rules = behavior.get(direction)
                if not isinstance(rules, dict):
                    rules = behavior[direction] = {}
                for field, value in defaults.items():
                    if rules.get(field) is None:
                        rules[field] = copy.deepcopy(value)

    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
        out: Causes = []
        ref = mapping(s.get("scaleTargetRef"))
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
        for i, metric in enumerate(dicts(s.get("metrics"))):
            out += v.enum(f"spec.metrics[{i}].type", metric.get("type"),
                          ("Object", "Pods", "Resource", "ContainerResource", "External"), allow_empty=False)
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN,
                Column("Reference", description="Reference to the target resource of this autoscaler"),
                Column("Targets", description="The current and target metrics"),
                Column("MinPods", description="Lower limit for the number of pods"),
                Column("MaxPods", description="Upper limit for the number of pods"),
                Column("Replicas", description="Current number of replicas"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        hpa = self.to_storage(copy.deepcopy(obj))
        s, st = mapping(hpa.get("spec")), mapping(hpa.get("status"))
        ref = mapping(s.get("scaleTargetRef"))
        minimum = s.get("minReplicas")
        return [get(obj, "metadata", "name", default=""), f"{ref.get('kind', '')}/{ref.get('name', '')}",
                hpa_targets(dicts(s.get("metrics")), dicts(st.get("currentMetrics"))),
                str(minimum) if minimum is not None else "<unset>", int_cell(s.get("maxReplicas")),
                int_cell(st.get("currentReplicas")), age(obj, now)]


_METRIC_FIELDS = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
                  "Object": "object", "External": "external"}


def _metric_cell(kind: str, target: dict[str, Any], current: dict[str, Any] | None, name: str) -> str:
    current = current or {}
    if kind in ("Resource", "ContainerResource"):
        if target.get("averageValue") is not None:
            return f"{name}: {current.get('averageValue', '<unknown>')}/{target['averageValue']}"
        now = current.get("averageUtilization")
        goal = target.get("averageUtilization")
        return (f"{name}: {f'{now}%' if now is not None else '<unknown>'}/"
                f"{f'{goal}%' if goal is not None else '<auto>'}")
    if kind == "Pods":
        return f"{current.get('averageValue', '<unknown>')}/{target.get('averageValue', '')}"
    if target.get("averageValue") is not None:
        return f"{current.get('averageValue', '<unknown>')}/{target['averageValue']} (avg)"
    return f"{current.get('value', '<unknown>')}/{target.get('value', '')}"


def hpa_targets(metrics: list[dict[str, Any]], current: list[dict[str, Any]]) -> str:
    """The TARGETS cell: ``cpu: 50%/80%``, two metrics at most then ``+ N more...``."""
    if not metrics:
        return NONE
    cells = []
    for i, metric in enumerate(dicts(metrics)):
        kind = text(metric.get("type"))
        field = _METRIC_FIELDS.get(kind)
        if field is None:
            cells.append("<unknown type>")
            continue
        body = mapping(metric.get(field))
        status = mapping(current[i].get(field)) if i < len(current) and isinstance(current[i], dict) else {}
        cells.append(_metric_cell(kind, mapping(body.get("target")), mapping(status.get("current")),
                                  text(body.get("name"))))
    joined = ", ".join(cells[:2])
    return joined + (f" + {len(cells) - 2} more..." if len(cells) > 2 else "")


class HorizontalPodAutoscalerV1Strategy(HorizontalPodAutoscalerStrategy):
    """autoscaling/v1: targetCPUUtilizationPercentage over the stored v2 metrics."""

    status_zero = ("currentReplicas", "desiredReplicas")

    def default(self, obj: Object) -> None:
        spec(obj).setdefault("minReplicas", 1)

    def validate_spec(self, obj: Object) -> Causes:
        return super().validate_spec(self.to_storage(copy.deepcopy(obj)))

    def to_storage(self, obj: Object) -> Object:
        if obj.get("apiVersion") == "autoscaling/v2":
            return obj
        out = copy.deepcopy(obj)
        out["apiVersion"] = "autoscaling/v2"
        s = ensure_map(out, "spec")
        target = s.pop("targetCPUUtilizationPercentage", None)
        annotations = mapping(mapping(out.get("metadata")).get("annotations"))
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
        s = ensure_map(out, "spec")
        rest = []
        for metric in dicts(s.pop("metrics", None)):
            resource = mapping(metric.get("resource"))
            target = mapping(resource.get("target"))
            if (metric.get("type") == "Resource" and resource.get("name") == "cpu"
                    and target.get("type") == "Utilization" and "targetCPUUtilizationPercentage" not in s):
                s["targetCPUUtilizationPercentage"] = target.get("averageUtilization")
            else:
                rest.append(metric)
        if rest:
            ensure_map(ensure_map(out, "metadata"), "annotations")[METRICS_ANNOTATION] = json.dumps(rest)
        s.pop("behavior", None)
        st = out.get("status")
        if isinstance(st, dict):
            st.setdefault("currentReplicas", 0)
            st.setdefault("desiredReplicas", 0)
            for metric in dicts(st.pop("currentMetrics", None)):
                resource = mapping(metric.get("resource"))
                if resource.get("name") == "cpu" and "averageUtilization" in mapping(resource.get("current")):
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
    status_zero = ("currentHealthy", "desiredHealthy", "disruptionsAllowed", "expectedPods")
    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
        out: Causes = []
        if s.get("minAvailable") is not None and s.get("maxUnavailable") is not None:
            out.append(v.invalid("spec", s, "minAvailable and maxUnavailable cannot be both set"))
        out += _int_or_percent(s.get("minAvailable"), "spec.minAvailable")
        out += _int_or_percent(s.get("maxUnavailable"), "spec.maxUnavailable")
        out += validate_label_selector(s.get("selector"), "spec.selector")
        out += v.enum("spec.unhealthyPodEvictionPolicy", s.get("unhealthyPodEvictionPolicy"),
                      ("IfHealthyBudget", "AlwaysAllow"))
        return out

    def columns(self) -> list[Column]:
        return [NAME_COLUMN,
                Column("Min Available", description="The minimum number or percentage of available pods this "
                       "budget requires"),
                Column("Max Unavailable", description="The maximum number or percentage of unavailable pods "
                       "this budget requires"),
                Column("Allowed Disruptions", type="integer", description="Calculated number of pods that may "
                       "be disrupted at this time"), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        s = mapping(obj.get("spec"))
        minimum, maximum = s.get("minAvailable"), s.get("maxUnavailable")
        return [get(obj, "metadata", "name", default=""), "N/A" if minimum is None else str(minimum),
                "N/A" if maximum is None else str(maximum),
                int_cell(get(obj, "status", "disruptionsAllowed", default=0)), age(obj, now)]


class LeaseStrategy(PlainStrategy):
    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
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
    tracks_generation = True  # created at generation 1, as Kubernetes does

    def default(self, obj: Object) -> None:
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")

    def validate_spec(self, obj: Object) -> Causes:
        name = name_of(obj)
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
                AGE_COLUMN,
                Column("PreemptionPolicy", description="PreemptionPolicy is the Policy for preempting pods with "
                       "lower priority.")]

    def row(self, obj: Object, now: float) -> list[Any]:
        return [get(obj, "metadata", "name", default=""), int_cell(obj.get("value")), bool(obj.get("globalDefault")),
                age(obj, now), obj.get("preemptionPolicy") or ""]
