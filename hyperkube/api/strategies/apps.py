"""Workloads with a pod template: Deployments, ReplicaSets, ReplicationControllers,
StatefulSets, DaemonSets; plus ControllerRevisions.

:class:`ScalableStrategy` adds the ``/scale`` hooks (extension): :meth:`~ScalableStrategy.scale`
builds the autoscaling/v1 Scale the subresource answers with, :meth:`~ScalableStrategy.apply_scale`
writes a Scale's spec.replicas back into the object.
"""

from __future__ import annotations

from typing import Any

from hyperkube.api.registry import AGE_COLUMN, NAME_COLUMN, Column, Object
from hyperkube.api.strategies.base import (
    Causes,
    KindStrategy,
    PlainStrategy,
    dicts,
    ensure_map,
    get,
    get_dicts,
    get_map,
    mapping,
    spec,
)
from hyperkube.api.strategies.common import (
    NONE,
    age,
    containers_cell,
    format_label_selector,
    images_cell,
    int_cell,
    map_selector_string,
    selector_is_empty,
    selector_matches,
    selector_string,
    validate_label_selector,
)
from hyperkube.api.strategies.podspec import default_template, validate_template
from hyperkube.machinery import validation as v

CONTAINERS = Column("Containers", priority=1, description="Names of each container in the template.")
IMAGES = Column("Images", priority=1, description="Images referenced by each container in the template.")
SELECTOR = Column("Selector", priority=1, description="Label selector for pods.")


def _name(obj: Object) -> str:
    return get(obj, "metadata", "name", default="")


class ScalableStrategy(KindStrategy):
    """A kind with spec.replicas and a pod template, served with /scale."""

    def selector_text(self, obj: Object) -> str:
        selector = get(obj, "spec", "selector")
        return "" if selector_is_empty(selector) else selector_string(selector)

    def scale(self, obj: Object) -> Object:
        meta = mapping(obj.get("metadata"))
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": int_cell(get(obj, "spec", "replicas", default=0))},
            "status": {"replicas": int_cell(get(obj, "status", "replicas", default=0)),
                       "selector": self.selector_text(obj)},
        }

    def apply_scale(self, obj: Object, scale: Object) -> Causes:
        replicas = get(scale, "spec", "replicas", default=0)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            return [v.invalid("spec.replicas", replicas, "must be greater than or equal to 0")]
        spec(obj)["replicas"] = replicas
        return []


def _validate_selected_template(obj: Object, kind: str, restart: tuple[str, ...] = ("Always",)) -> Causes:
    s = mapping(obj.get("spec"))
    out: Causes = v.non_negative("spec.replicas", s.get("replicas"))
    out += v.non_negative("spec.minReadySeconds", s.get("minReadySeconds"))
    out += v.non_negative("spec.revisionHistoryLimit", s.get("revisionHistoryLimit"))
    selector = s.get("selector")
    if selector is None:
        out.append(v.required("spec.selector"))
    elif selector_is_empty(selector):
        out.append(v.invalid("spec.selector", selector, f"empty selector is invalid for {kind}"))
    else:
        out += validate_label_selector(selector, "spec.selector")
    template = s.get("template")
    if template is None:
        out.append(v.required("spec.template"))
        return out
    out += validate_template(template, "spec.template", restart_policies=restart)
    labels = get_map(template, "metadata", "labels")
    if selector and not selector_is_empty(selector) and not selector_matches(selector, labels):
        out.append(v.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"))
    return out


def _selector_immutable(new: Object, old: Object) -> Causes:
    new_sel, old_sel = get(new, "spec", "selector"), get(old, "spec", "selector")
    if old_sel is not None and new_sel != old_sel:
        return [v.immutable("spec.selector", new_sel)]
    return []


def _percent_or_int(value: Any) -> tuple[bool, int]:
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return True, int(value[:-1])
    if isinstance(value, int) and not isinstance(value, bool):
        return True, value
    return False, 0


class DeploymentStrategy(ScalableStrategy):
    def default(self, obj: Object) -> None:
        s = spec(obj)
        s.setdefault("replicas", 1)
        strategy = ensure_map(s, "strategy")
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = ensure_map(strategy, "rollingUpdate")
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        s.setdefault("revisionHistoryLimit", 10)
        s.setdefault("progressDeadlineSeconds", 600)
        default_template(s.get("template"))

    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
        out = _validate_selected_template(obj, "deployment")
        strategy = mapping(s.get("strategy"))
        out += v.enum("spec.strategy.type", strategy.get("type"), ("Recreate", "RollingUpdate"))
        rolling = strategy.get("rollingUpdate")
        if strategy.get("type") == "Recreate" and rolling:
            out.append(v.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is "
                                   "'Recreate'"))
        elif isinstance(rolling, dict):
            surge_ok, surge = _percent_or_int(rolling.get("maxSurge", 0))
            unavail_ok, unavail = _percent_or_int(rolling.get("maxUnavailable", 0))
            for field, ok, value in (("maxSurge", surge_ok, surge), ("maxUnavailable", unavail_ok, unavail)):
                if not ok:
                    out.append(v.invalid(f"spec.strategy.rollingUpdate.{field}", rolling.get(field),
                                         "a valid percent string must be a numeric string followed by an ending "
                                         "'%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"))
                elif value < 0:
                    out.append(v.invalid(f"spec.strategy.rollingUpdate.{field}", rolling.get(field),
                                         "must be greater than or equal to 0"))
            if surge_ok and unavail_ok and surge == 0 and unavail == 0:
                out.append(v.invalid("spec.strategy.rollingUpdate.maxUnavailable", rolling.get("maxUnavailable"),
                                     "may not be 0 when `maxSurge` is 0"))
            if isinstance(rolling.get("maxUnavailable"), str) and unavail > 100:
                out.append(v.invalid("spec.strategy.rollingUpdate.maxUnavailable", rolling["maxUnavailable"],
                                     "must not be greater than 100%"))
        deadline = s.get("progressDeadlineSeconds")
        if isinstance(deadline, int) and deadline <= int_cell(s.get("minReadySeconds")):
            out.append(v.invalid("spec.progressDeadlineSeconds", deadline,
                                 "must be greater than minReadySeconds"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        return _selector_immutable(new, old)

    def columns(self) -> list[Column]:
        return [NAME_COLUMN,
                Column("Ready", description="Number of the pod with ready state"),
                Column("Up-to-date", description="Total number of non-terminated pods targeted "
                       "by this deployment that have the desired template spec."),
                Column("Available", description="Total number of available pods (ready for at "
                       "least minReadySeconds) targeted by this deployment."),
                AGE_COLUMN, CONTAINERS, IMAGES, SELECTOR]

    def row(self, obj: Object, now: float) -> list[Any]:
        s, st = mapping(obj.get("spec")), mapping(obj.get("status"))
        template = get(s, "template", "spec")
        return [_name(obj), f"{int_cell(st.get('readyReplicas'))}/{int_cell(s.get('replicas'))}",
                int_cell(st.get("updatedReplicas")), int_cell(st.get("availableReplicas")), age(obj, now),
                containers_cell(template), images_cell(template), self.selector_text(obj)]


class ReplicaSetStrategy(ScalableStrategy):
    field_labels = ("status.replicas",)
    status_zero = ("replicas",)

    def default(self, obj: Object) -> None:
        s = spec(obj)
        s.setdefault("replicas", 1)
        default_template(s.get("template"))

    def validate_spec(self, obj: Object) -> Causes:
        return _validate_selected_template(obj, "replicaset")

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        return _selector_immutable(new, old)

    def field_values(self, obj: Object) -> dict[str, str]:
        return {"status.replicas": str(int_cell(get(obj, "status", "replicas", default=0)))}

    def columns(self) -> list[Column]:
        return [NAME_COLUMN,
                Column("Desired", type="integer", description="Replicas is the number of desired replicas."),
                Column("Current", type="integer", description="Replicas is the most recently observed number of "
                       "replicas."),
                Column("Ready", type="integer", description="The number of ready replicas for this replica set."),
                AGE_COLUMN, CONTAINERS, IMAGES, SELECTOR]

    def row(self, obj: Object, now: float) -> list[Any]:
        s, st = mapping(obj.get("spec")), mapping(obj.get("status"))
        template = get(s, "template", "spec")
        return [_name(obj), int_cell(s.get("replicas")), int_cell(st.get("replicas")),
                int_cell(st.get("readyReplicas")), age(obj, now), containers_cell(template), images_cell(template),
                self.selector_cell(obj)]

    def selector_cell(self, obj: Object) -> str:
        return format_label_selector(get(obj, "spec", "selector"))


class ReplicationControllerStrategy(ReplicaSetStrategy):
    """Like a ReplicaSet, but with a plain map selector defaulted from the template's labels."""

    def default(self, obj: Object) -> None:
        s = spec(obj)
        labels = get_map(s, "template", "metadata", "labels")
        if labels:
            if not s.get("selector"):
                s["selector"] = dict(labels)
            meta = ensure_map(obj, "metadata")
            if isinstance(meta, dict) and not meta.get("labels"):
                meta["labels"] = dict(labels)
        s.setdefault("replicas", 1)
        default_template(s.get("template"))

    def selector_text(self, obj: Object) -> str:
        text = map_selector_string(get(obj, "spec", "selector"))
        return "" if text == NONE else text

    def selector_cell(self, obj: Object) -> str:
        return map_selector_string(get(obj, "spec", "selector"))

    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
        out = v.non_negative("spec.replicas", s.get("replicas"))
        selector = mapping(s.get("selector"))
        if not selector:
            out.append(v.required("spec.selector"))
        out += v.validate_labels(selector, "spec.selector")
        template = s.get("template")
        if template is None:
            return out + [v.required("spec.template")]
        out += validate_template(template, "spec.template")
        labels = get_map(template, "metadata", "labels")
        if selector and any(labels.get(k) != val for k, val in selector.items()):
            out.append(v.invalid("spec.template.metadata.labels", labels, "`selector` does not match template "
                                 "`labels`"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        return []


class StatefulSetStrategy(ScalableStrategy):
    status_zero = ("replicas", "availableReplicas")
    #: what an update of a StatefulSet's spec may change
    MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
               "persistentVolumeClaimRetentionPolicy", "minReadySeconds")

    def default(self, obj: Object) -> None:
        s = spec(obj)
        s.setdefault("replicas", 1)
        s.setdefault("podManagementPolicy", "OrderedReady")
        update = ensure_map(s, "updateStrategy")
        update.setdefault("type", "RollingUpdate")
        if update["type"] == "RollingUpdate":
            ensure_map(update, "rollingUpdate").setdefault("partition", 0)
        s.setdefault("revisionHistoryLimit", 10)
        retention = ensure_map(s, "persistentVolumeClaimRetentionPolicy")
        retention.setdefault("whenDeleted", "Retain")
        retention.setdefault("whenScaled", "Retain")
        for claim in dicts(s.get("volumeClaimTemplates")):
            if isinstance(claim, dict):
                claim.setdefault("apiVersion", "v1")
                claim.setdefault("kind", "PersistentVolumeClaim")
                ensure_map(claim, "spec").setdefault("volumeMode", "Filesystem")
                claim.setdefault("status", {"phase": "Pending"})
        default_template(s.get("template"))

    def validate_spec(self, obj: Object) -> Causes:
        s = mapping(obj.get("spec"))
        out = _validate_selected_template(obj, "statefulset")
        out += v.enum("spec.podManagementPolicy", s.get("podManagementPolicy"), ("OrderedReady", "Parallel"))
        out += v.enum("spec.updateStrategy.type", get(s, "updateStrategy", "type"), ("RollingUpdate", "OnDelete"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        new_rest = {k: val for k, val in mapping(new.get("spec")).items() if k not in self.MUTABLE}
        old_rest = {k: val for k, val in mapping(old.get("spec")).items() if k not in self.MUTABLE}
        if new_rest != old_rest:
            return [v.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                "'template', 'updateStrategy', 'revisionHistoryLimit', "
                                "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")]
        return []

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Ready", description="Number of the pod with ready state"), AGE_COLUMN,
                CONTAINERS, IMAGES]

    def row(self, obj: Object, now: float) -> list[Any]:
        s, st = mapping(obj.get("spec")), mapping(obj.get("status"))
        template = get(s, "template", "spec")
        return [_name(obj), f"{int_cell(st.get('readyReplicas'))}/{int_cell(s.get('replicas'))}", age(obj, now),
                containers_cell(template), images_cell(template)]


class DaemonSetStrategy(KindStrategy):
    status_zero = ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady")
    def default(self, obj: Object) -> None:
        s = spec(obj)
        update = ensure_map(s, "updateStrategy")
        update.setdefault("type", "RollingUpdate")
        if update["type"] == "RollingUpdate":
            rolling = ensure_map(update, "rollingUpdate")
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
        s.setdefault("revisionHistoryLimit", 10)
        default_template(s.get("template"))

    def validate_spec(self, obj: Object) -> Causes:
        out = _validate_selected_template(obj, "daemonset")
        out += v.enum("spec.updateStrategy.type", get(obj, "spec", "updateStrategy", "type"),
                      ("RollingUpdate", "OnDelete"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        return _selector_immutable(new, old)

    def columns(self) -> list[Column]:
        return [NAME_COLUMN,
                Column("Desired", type="integer", description="The total number of nodes that should be running "
                       "the daemon pod."),
                Column("Current", type="integer", description="The number of nodes that are running at least 1 "
                       "daemon pod and are supposed to run the daemon pod."),
                Column("Ready", type="integer", description="The number of nodes that should be running the "
                       "daemon pod and have one or more of the daemon pod running and ready."),
                Column("Up-to-date", type="integer", description="The total number of nodes that are running "
                       "updated daemon pod"),
                Column("Available", type="integer", description="The number of nodes that should be running the "
                       "daemon pod and have one or more of the daemon pod running and available."),
                Column("Node Selector", description="NodeSelector is a selector which must be true for the pod to "
                       "fit on a node."),
                AGE_COLUMN, CONTAINERS, IMAGES, SELECTOR]

    def row(self, obj: Object, now: float) -> list[Any]:
        s, st = mapping(obj.get("spec")), mapping(obj.get("status"))
        template = get(s, "template", "spec")
        selector = s.get("selector")
        return [_name(obj), int_cell(st.get("desiredNumberScheduled")), int_cell(st.get("currentNumberScheduled")),
                int_cell(st.get("numberReady")), int_cell(st.get("updatedNumberScheduled")),
                int_cell(st.get("numberAvailable")), map_selector_string(get(template, "nodeSelector")),
                age(obj, now), containers_cell(template), images_cell(template), format_label_selector(selector)]


class ControllerRevisionStrategy(PlainStrategy):
    def validate_spec(self, obj: Object) -> Causes:
        out = v.non_negative("revision", obj.get("revision"))
        if "revision" not in obj:
            out.append(v.required("revision"))
        return out

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        if new.get("data") != old.get("data"):
            return [v.immutable("data", "")]
        return []

    def columns(self) -> list[Column]:
        return [NAME_COLUMN, Column("Controller", description="Controller of the object"),
                Column("Revision", description="Revision indicates the revision of the state "
                       "represented by Data."), AGE_COLUMN]

    def row(self, obj: Object, now: float) -> list[Any]:
        controller = NONE
        for ref in get_dicts(obj, "metadata", "ownerReferences"):
            if isinstance(ref, dict) and ref.get("controller"):
                group = str(ref.get("apiVersion", "")).rpartition("/")[0]
                kind = str(ref.get("kind", "")).lower()
                controller = f"{kind}.{group}/{ref.get('name')}" if group else f"{kind}/{ref.get('name')}"
        return [_name(obj), controller, int_cell(obj.get("revision")), age(obj, now)]
