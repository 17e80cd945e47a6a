"""Events, served as core/v1 and as events.k8s.io/v1 over one storage.

The stored form is the core/v1 Event (as in Kubernetes, whose storage version for events is
core/v1). :class:`EventsV1Strategy` converts with ``to_storage``/``from_storage``: the two
versions name the same fields differently (regarding/involvedObject, note/message,
deprecatedSource/source, reportingController/reportingComponent ...).
"""

from __future__ import annotations

from typing import Any

from hyperkube.api.registry import Column, Object
from hyperkube.api.strategies.base import Causes, PlainStrategy, get, mapping
from hyperkube.api.strategies.common import since
from hyperkube.machinery import validation as v

#: events.k8s.io/v1 field -> core/v1 field
V1_TO_CORE = {
    "regarding": "involvedObject", "note": "message", "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp", "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count", "reportingController": "reportingComponent",
}
CORE_TO_V1 = {core: new for new, core in V1_TO_CORE.items()}
OBJECT_FIELDS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
FIELD_LABELS = tuple(f"involvedObject.{f}" for f in OBJECT_FIELDS) + ("reason", "reportingComponent", "source",
                                                                       "type")


def to_core(event: Object) -> Object:
    """An events.k8s.io/v1 Event as the core/v1 Event it is stored as."""
    if event.get("apiVersion") == "v1" and "regarding" not in event:
        return event
    out = {V1_TO_CORE.get(k, k): val for k, val in event.items()}
    out["apiVersion"], out["kind"] = "v1", "Event"
    return out


def to_v1(event: Object) -> Object:
    out = {CORE_TO_V1.get(k, k): val for k, val in event.items()}
    out["apiVersion"], out["kind"] = "events.k8s.io/v1", "Event"
    return out


def _validate_core(event: Object, controller_field: str = "reportingComponent") -> Causes:
    """Kubernetes' legacy event rules, which every write of a core/v1 Event follows.

    Old-style events (no eventTime) must sit in their object's namespace (or "default" for
    cluster-scoped objects); new-style ones must name their reporter, instance, action and reason.
    """
    out: Causes = []
    namespace = get(event, "metadata", "namespace", default="")
    involved_ns = get(event, "involvedObject", "namespace", default="")
    mismatch = v.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
    if not event.get("eventTime"):
        if (not involved_ns and namespace not in ("", "default")) or (involved_ns and involved_ns != namespace):
            out.append(mismatch)
        return out
    if not involved_ns and namespace not in ("default", "kube-system"):
        out.append(mismatch)
    controller = event.get("reportingComponent")
    if not controller:
        out.append(v.required(controller_field))
    else:
        out += v.checked(controller_field, controller, v.qualified_name)
    for field, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        value = event.get(field)
        if not value:
            out.append(v.required(field))
        elif len(str(value)) > limit:
            out.append(v.invalid(field, "", f"can have at most {limit} characters"))
    if len(str(event.get("message") or "")) > 1024:
        out.append(v.invalid("message", "", "can have at most 1024 characters"))
    return out


class EventStrategy(PlainStrategy):
    field_labels = FIELD_LABELS

    def validate_spec(self, obj: Object) -> Causes:
        return _validate_core(obj)

    def field_values(self, obj: Object) -> dict[str, str]:
        event = to_core(obj)
        values = {f"involvedObject.{f}": str(get(event, "involvedObject", f, default="")) for f in OBJECT_FIELDS}
        values["reason"] = str(event.get("reason") or "")
        values["reportingComponent"] = str(event.get("reportingComponent") or "")
        values["source"] = str(get(event, "source", "component", default=""))
        values["type"] = str(event.get("type") or "")
        return values

    def columns(self) -> list[Column]:
        return [
            Column("Last Seen", description="Time when the event was last seen"),
            Column("Type", description="Type of this event (Normal, Warning), new types could be added in the "
                   "future."),
            Column("Reason", description="Reason is why the action was taken."),
            Column("Object", description="The object that this event is about."),
            Column("Subobject", priority=1, description="The subobject (container path) the event is about."),
            Column("Source", priority=1, description="The component reporting this event."),
            Column("Message", description="A human-readable description of the status of this operation."),
            Column("First Seen", priority=1, description="The time at which the event was first recorded."),
            Column("Count", priority=1, description="The number of times this event has "
                   "occurred."),
            Column("Name", priority=1, format="name", description="Name of the event"),
        ]

    def row(self, obj: Object, now: float) -> list[Any]:
        event = to_core(obj)
        first = since(event.get("firstTimestamp"), now) if event.get("firstTimestamp") else \
            since(event.get("eventTime"), now)
        last = since(event.get("lastTimestamp"), now) if event.get("lastTimestamp") else first
        count = event.get("count") or 0
        series = event.get("series")
        if isinstance(series, dict):
            last = since(series.get("lastObservedTime"), now)
            count = series.get("count") or 0
        elif not count:
            count = 1
        involved = mapping(event.get("involvedObject"))
        kind = str(involved.get("kind") or "").lower()
        target = f"{kind}/{involved['name']}" if involved.get("name") else kind
        return [last, event.get("type", ""), event.get("reason", ""), target, involved.get("fieldPath", ""),
                event_source(event), str(event.get("message") or "").strip(), first, count,
                get(event, "metadata", "name", default="")]


def event_source(event: Object) -> str:
    component = get(event, "source", "component", default="") or event.get("reportingComponent") or ""
    host = get(event, "source", "host", default="") or event.get("reportingInstance") or ""
    return f"{component}, {host}" if host else component


class EventsV1Strategy(EventStrategy):
    """events.k8s.io/v1: validated in its own form, stored and selected as core/v1."""

    field_labels = FIELD_LABELS + tuple(f"regarding.{f}" for f in OBJECT_FIELDS) + ("reportingController",)

    def validate_spec(self, obj: Object) -> Causes:
        out: Causes = []
        if "regarding" in obj or obj.get("apiVersion") == "events.k8s.io/v1":
            if not obj.get("eventTime"):
                out.append(v.required("eventTime"))
            for field in ("reportingController", "reportingInstance", "action", "reason"):
                if not obj.get(field):
                    out.append(v.required(field))
            out += v.enum("type", obj.get("type"), ("Normal", "Warning"), allow_empty=False)
            if len(str(obj.get("note") or "").encode()) > 1024:
                out.append(v.too_long("note", 1024))
            namespace = get(obj, "metadata", "namespace", default="")
            regarding_ns = get(obj, "regarding", "namespace", default="")
            if regarding_ns and regarding_ns != namespace:
                out.append(v.invalid("regarding.namespace", regarding_ns, "does not match event.namespace"))
            return out
        return _validate_core(obj)

    def field_values(self, obj: Object) -> dict[str, str]:
        values = super().field_values(obj)
        for f in OBJECT_FIELDS:
            values[f"regarding.{f}"] = values[f"involvedObject.{f}"]
        values["reportingController"] = values["reportingComponent"]
        return values

    def to_storage(self, obj: Object) -> Object:
        return to_core(obj)

    def from_storage(self, obj: Object) -> Object:
        return to_v1(obj)
