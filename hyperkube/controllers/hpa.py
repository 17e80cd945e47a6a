"""The HorizontalPodAutoscaler controller (autoscaling/v2, Resource metrics).

Every HPA is synced every ``sync_period`` seconds (``--horizontal-pod-autoscaler-sync-period``,
15 s) and on changes. A sync:

1. reads the target's ``scale`` subresource (the resource found from ``scaleTargetRef`` by
   discovery): current replicas and the pod selector;
2. for each ``Resource`` metric (cpu, memory; target ``Utilization`` or ``AverageValue``)
   reads the pods' usage from ``metrics.k8s.io/v1beta1`` PodMetrics (served by the API server
   from the kubelets' summaries, ``apiserver/metrics_api.py``) and their requests from the pod
   informer, and proposes ``ceil(current * usage / target)``, within the 10 %
   tolerance keeping the current count; pods without metrics count as 0 % when scaling up and
   100 % when scaling down, as Kubernetes does; the largest proposal wins;
3. applies the behaviour: the stabilization window (scale-down: the highest recommendation of
   the last ``stabilizationWindowSeconds``, default 300 s, ``--horizontal-pod-autoscaler-
   downscale-stabilization``; scale-up: the lowest, default 0), then the rate policies (Pods
   / Percent per ``periodSeconds``, selected by ``selectPolicy``; defaults: up by max(4 pods,
   100 %) per 15 s, down by 100 % per 15 s), then min/max replicas;
4. writes ``spec.replicas`` through the scale subresource when it changes, and the status:
   current/desired replicas, currentMetrics, lastScaleTime and the conditions AbleToScale,
   ScalingActive and ScalingLimited, whose reasons explain the decision.
"""

from __future__ import annotations

import math
import time
from typing import Any

from hyperkube.client import NORMAL, WARNING, APIError, Discovery, ResourceNotFound
from hyperkube.controllers.base import Controller, ControllerContext, Object
from hyperkube.controllers.podcontrol import PODS, is_pod_ready, is_terminating, meta, set_condition
from hyperkube.controllers.resourcequota import pod_resources, quantity
from hyperkube.machinery.durations import now_rfc3339
from hyperkube.machinery.selectors import parse_label_selector

HPAS = "autoscaling/v2/horizontalpodautoscalers"
POD_METRICS = "metrics.k8s.io/v1beta1/pods"
TOLERANCE = 0.1
DEFAULT_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
              "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                           {"type": "Percent", "value": 100, "periodSeconds": 15}]}
DEFAULT_DOWN = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


class MetricError(Exception):
    """No usable metric: the reason (for ScalingActive) and the message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class HorizontalPodAutoscalerController(Controller):
    name = "horizontalpodautoscaling"
    workers_option = "horizontalpodautoscaling"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, *, sync_period: float | None = None,
                 downscale_stabilization: float | None = None) -> None:
        super().__init__(ctx)
        options = ctx.options
        self.sync_period = float(sync_period if sync_period is not None
                                 else options.get("horizontal_pod_autoscaler_sync_period", 15.0))
        self.downscale_window = float(downscale_stabilization if downscale_stabilization is not None
                                      else options.get("horizontal_pod_autoscaler_downscale_stabilization", 300.0))
        self.discovery = Discovery(self.client)
        self.recommendations: dict[str, list[tuple[float, int]]] = {}
        self.events: dict[str, list[tuple[float, int]]] = {}  # (when, replica change)
        self.hpas = ctx.factory.informer(HPAS)
        self.pods = ctx.factory.informer(PODS)
        self.hpas.add_event_handler(self._hpa, lambda old, new: self._hpa(new), self._forget)

    def _hpa(self, hpa: Object) -> None:
        self.enqueue(f"{meta(hpa).get('namespace', '')}/{meta(hpa).get('name', '')}")

    def _forget(self, hpa: Object) -> None:
        key = f"{meta(hpa).get('namespace', '')}/{meta(hpa).get('name', '')}"
        self.recommendations.pop(key, None)
        self.events.pop(key, None)

    async def sync(self, key: Any) -> None:
        hpa = self.hpas.cache.get(key)
        if hpa is None:
            return
        try:
            await self.reconcile(key, hpa)
        finally:
            self.enqueue_after(key, self.sync_period)

    # -- one pass ---------------------------------------------------------------------------------

    async def reconcile(self, key: str, hpa: Object) -> None:
        namespace = meta(hpa).get("namespace", "")
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        now = now_rfc3339()
        status = dict(hpa.get("status") or {})
        conditions = list(status.get("conditions") or [])
        try:
            target = await self.discovery.for_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
            scale = await self.client.get(target.gvr, ref.get("name", ""), namespace=namespace, subresource="scale")
        except (APIError, ResourceNotFound) as error:
            conditions = set_condition(conditions, {"type": "AbleToScale", "status": "False",
                                                    "reason": "FailedGetScale",
                                                    "message": f"the HPA controller was unable to get the target's "
                                                               f"current scale: {error}"}, now)
            self.recorder.event(self._typed(hpa), WARNING, "FailedGetScale", str(error))
            await self.write_status(hpa, {**status, "conditions": conditions})
            return
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        selector = (scale.get("status") or {}).get("selector") or ""
        minimum = int(spec.get("minReplicas") or 1)
        maximum = int(spec.get("maxReplicas") or minimum)
        metrics_status: list[Object] = status.get("currentMetrics") or []
        if current == 0 and minimum > 0:
            desired = 0
            conditions = set_condition(conditions, {"type": "ScalingActive", "status": "False",
                                                    "reason": "ScalingDisabled",
                                                    "message": "scaling is disabled since the replica count of the "
                                                               "target is zero"}, now)
        else:
            try:
                proposal, metrics_status, which = await self.propose(namespace, spec, current, selector)
            except MetricError as error:
                conditions = set_condition(conditions, {"type": "ScalingActive", "status": "False",
                                                        "reason": error.reason, "message": str(error)}, now)
                conditions = set_condition(conditions, {"type": "AbleToScale", "status": "True",
                                                        "reason": "SucceededGetScale",
                                                        "message": "the HPA controller was able to get the target's "
                                                                   "current scale"}, now)
                self.recorder.event(self._typed(hpa), WARNING, error.reason, str(error))
                await self.write_status(hpa, {**status, "currentReplicas": current, "conditions": conditions})
                return
            conditions = set_condition(conditions, {"type": "ScalingActive", "status": "True",
                                                    "reason": "ValidMetricFound",
                                                    "message": f"the HPA was able to successfully calculate a replica "
                                                               f"count from {which}"}, now)
            desired, limit_reason, limit_message = self.normalize(key, spec, current, proposal, minimum, maximum)
            conditions = set_condition(conditions, {"type": "ScalingLimited",
                                                    "status": "False" if limit_reason == "DesiredWithinRange"
                                                    else "True", "reason": limit_reason,
                                                    "message": limit_message}, now)
        able = {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
                "message": "recommended size matches current size"}
        if desired != current and not (current == 0 and minimum > 0):
            try:
                await self.client.patch(target.gvr, ref.get("name", ""), {"spec": {"replicas": desired}},
                                        namespace=namespace, subresource="scale")
            except APIError as error:
                conditions = set_condition(conditions, {"type": "AbleToScale", "status": "False",
                                                        "reason": "FailedUpdateScale",
                                                        "message": f"the HPA controller was unable to update the "
                                                                   f"target scale: {error}"}, now)
                await self.write_status(hpa, {**status, "conditions": conditions})
                raise
            self.events.setdefault(key, []).append((time.monotonic(), desired - current))
            reason = "above" if desired > current else "below"
            self.recorder.event(self._typed(hpa), NORMAL, "SuccessfulRescale",
                                f"New size: {desired}; reason: {_metric_names(spec)} {reason} target")
            able = {"type": "AbleToScale", "status": "True", "reason": "SucceededRescale",
                    "message": f"the HPA controller was able to update the target scale to {desired}"}
            status["lastScaleTime"] = now
        elif current == 0 and minimum > 0:
            desired = 0
        conditions = set_condition(conditions, able, now)
        new_status = {**status, "currentReplicas": current, "desiredReplicas": desired,
                      "currentMetrics": metrics_status, "conditions": conditions,
                      "observedGeneration": meta(hpa).get("generation", 1)}
        await self.write_status(hpa, new_status)

    async def propose(self, namespace: str, spec: Object, current: int,
                      selector: str) -> tuple[int, list[Object], str]:
        metrics = spec.get("metrics") or [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
        label_selector = parse_label_selector(selector)
        pods = [p for p in self.pods.cache.list(namespace)
                if label_selector.matches(meta(p).get("labels") or {}) and not is_terminating(p)
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        if not pods:
            raise MetricError("FailedGetResourceMetric", "no pods match the target's selector")
        try:
            listed = await self.client.list(POD_METRICS, namespace=namespace, label_selector=selector or None)
        except APIError as error:
            raise MetricError("FailedGetResourceMetric", f"unable to get metrics from the resource metrics API "
                                                         f"(metrics.k8s.io): {error}") from error
        usage = {meta(m).get("name"): m for m in listed.get("items") or []}
        best, statuses, which = -1, [], ""
        for metric in metrics:
            if metric.get("type") != "Resource":
                continue
            resource = (metric.get("resource") or {}).get("name", "")
            target = (metric.get("resource") or {}).get("target") or {}
            replicas, current_status = self.resource_proposal(pods, usage, resource, target, current)
            statuses.append({"type": "Resource", "resource": {"name": resource, "current": current_status}})
            if replicas > best:
                best, which = replicas, f"{resource} resource" + (
                    " utilization (percentage of request)" if target.get("type") == "Utilization" else "")
        if best < 0:
            raise MetricError("InvalidMetricSourceType", "no Resource metrics in the HPA's spec")
        return best, statuses, which

    def resource_proposal(self, pods: list[Object], usage: dict[str, Object], resource: str, target: Object,
                          current: int) -> tuple[int, Object]:
        used: dict[str, float] = {}
        requested: dict[str, float] = {}
        missing, unready = [], []
        for pod in pods:
            name = meta(pod).get("name", "")
            request = pod_resources(pod, "requests").get(resource)
            requested[name] = float(request.value) if request is not None else 0.0
            metric = usage.get(name)
            if metric is None:
                missing.append(name)
                continue
            if not is_pod_ready(pod) and resource == "cpu":
                unready.append(name)
                continue
            total = 0.0
            for container in metric.get("containers") or ():
                q = quantity((container.get("usage") or {}).get(resource))
                if q is not None:
                    total += float(q.value)
            used[name] = total
        if not used:
            raise MetricError("FailedGetResourceMetric", f"did not receive metrics for any ready pods ({resource})")
        utilization = target.get("type") == "Utilization"
        if utilization:
            if any(requested[n] <= 0 for n in used):
                raise MetricError("FailedGetResourceMetric", f"missing request for {resource}")
            goal = float(target.get("averageUtilization") or 80) / 100.0
            ratio = (sum(used.values()) / sum(requested[n] for n in used)) / goal
        else:
            goal_q = quantity(target.get("averageValue"))
            if goal_q is None or goal_q.value <= 0:
                raise MetricError("InvalidMetricSourceType", f"invalid averageValue for {resource}")
            goal = float(goal_q.value)
            ratio = (sum(used.values()) / len(used)) / goal
        ready_count = len(used)
        observed_average = sum(used.values()) / ready_count
        observed_utilization = int(round(100 * sum(used.values()) / sum(requested[n] for n in used))) \
            if utilization else 0
        if missing or unready:  # Kubernetes' conservative fill-in, then re-evaluate
            if ratio < 1.0:
                for name in missing:
                    used[name] = requested[name] * goal if utilization else goal
            else:
                for name in missing + unready:
                    used[name] = 0.0
            new_ratio = ((sum(used.values()) / sum(requested[n] for n in used)) / goal if utilization
                         else (sum(used.values()) / len(used)) / goal)
            if abs(new_ratio - 1.0) <= TOLERANCE or (new_ratio > 1.0) != (ratio > 1.0):
                replicas = current
            else:
                replicas = math.ceil(new_ratio * len(used))
        elif abs(ratio - 1.0) <= TOLERANCE:
            replicas = current
        else:
            replicas = math.ceil(ratio * ready_count)
        current_status: Object = {"averageValue": _format(observed_average, resource)}
        if utilization:
            current_status = {"averageUtilization": observed_utilization, **current_status}
        return replicas, current_status

    def normalize(self, key: str, spec: Object, current: int, proposal: int, minimum: int,
                  maximum: int) -> tuple[int, str, str]:
        """Stabilization, rate policies and bounds; the final count and the ScalingLimited reason."""
        behavior = spec.get("behavior") or {}
        up = {**DEFAULT_UP, **(behavior.get("scaleUp") or {})}
        down = {**DEFAULT_DOWN, "stabilizationWindowSeconds": self.downscale_window, **(behavior.get("scaleDown") or {})}
        now = time.monotonic()
        history = self.recommendations.setdefault(key, [])
        history.append((now, proposal))
        longest = max(float(up.get("stabilizationWindowSeconds") or 0), float(down.get("stabilizationWindowSeconds")
                                                                             or 0))
        history[:] = [(t, r) for t, r in history if now - t <= longest]
        up_window = [r for t, r in history if now - t <= float(up.get("stabilizationWindowSeconds") or 0)] or [proposal]
        down_window = [r for t, r in history if now - t <= float(down.get("stabilizationWindowSeconds") or 0)] or \
            [proposal]
        stabilized = current
        if proposal > current:
            stabilized = max(current, min(up_window))
        elif proposal < current:
            stabilized = min(current, max(down_window))
        reason, message = "DesiredWithinRange", "the desired count is within the acceptable range"
        desired = stabilized
        events = self.events.setdefault(key, [])
        if desired > current:
            limit = self._limit(up, events, current, now, up=True)
            if desired > limit:
                desired, reason, message = limit, "ScaleUpLimit", "the desired replica count is increasing faster " \
                                                                  "than the maximum scale rate"
        elif desired < current:
            limit = self._limit(down, events, current, now, up=False)
            if desired < limit:
                desired, reason, message = limit, "ScaleDownLimit", "the desired replica count is decreasing " \
                                                                    "faster than the maximum scale rate"
        if desired > maximum:
            desired, reason, message = maximum, "TooManyReplicas", "the desired replica count is more than the " \
                                                                   "maximum replica count"
        elif desired < minimum:
            desired, reason, message = minimum, "TooFewReplicas", "the desired replica count is less than the " \
                                                                  "minimum replica count"
        return desired, reason, message

    @staticmethod
    def _limit(rules: Object, events: list[tuple[float, int]], current: int, now: float, up: bool) -> int:
        """The furthest the policies let replicas move from ``current`` now."""
        if rules.get("selectPolicy") == "Disabled":
            return current
        limits = []
        for policy in rules.get("policies") or ():
            period = float(policy.get("periodSeconds") or 15)
            changed = sum(d for t, d in events if now - t <= period and (d > 0) == up)
            start = current - changed  # replicas at the start of the period
            value = int(policy.get("value") or 0)
            if policy.get("type") == "Pods":
                limits.append(start + value if up else start - value)
            else:
                limits.append(math.ceil(start * (1 + value / 100)) if up else math.ceil(start * (1 - value / 100)))
        if not limits:
            return current
        pick = min if rules.get("selectPolicy") == "Min" else max
        return pick(limits) if up else (min(limits) if pick is max else max(limits))

    async def write_status(self, hpa: Object, status: Object) -> None:
        old = hpa.get("status") or {}
        strip = ({k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or ())
        strip_old = ({k: v for k, v in c.items() if k != "lastTransitionTime"} for c in old.get("conditions") or ())
        if {k: v for k, v in status.items() if k != "conditions"} == {k: v for k, v in old.items()
                                                                      if k != "conditions"} \
                and list(strip) == list(strip_old):
            return
        body = {**hpa, "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "status": status}
        await self.client.update_status(HPAS, body)

    @staticmethod
    def _typed(hpa: Object) -> Object:
        return {**hpa, "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler"}


def _metric_names(spec: Object) -> str:
    names = [(m.get("resource") or {}).get("name", "") for m in spec.get("metrics") or () if m.get("type") == "Resource"]
    return " ".join(f"{n} resource" for n in names) or "cpu resource"


def _format(value: float, resource: str) -> str:
    if resource == "cpu":
        return f"{int(round(value * 1000))}m"
    return str(int(round(value)))
