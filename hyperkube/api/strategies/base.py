"""The shared shape of every built-in kind's strategy.

:class:`KindStrategy` extends the registry's :class:`~hyperkube.api.registry.Strategy` with the
steps Kubernetes runs on every write, split so a kind overrides only what differs:

* :meth:`default` is the kind's ``SetDefaults_*``: Kubernetes applies defaults to every decoded
  body, so it runs on create *and* update;
* :meth:`initial_status` is what ``PrepareForCreate`` leaves as status (most kinds: empty);
* :meth:`validate_spec` / :meth:`validate_spec_update` hold the kind's own rules, after the
  ObjectMeta rules every object follows (``machinery.validation``).

Extra hooks the API server may call (all optional, with harmless defaults here):

* :meth:`to_storage` / :meth:`from_storage`: convert between the served version and the stored
  one when two versions share storage (events.k8s.io/v1 over core/v1 events, autoscaling/v1
  over v2 HPAs); identity for everything else.
* :meth:`validate_status_update`: rules for a ``/status`` write.
* :meth:`graceful_delete_seconds`: how long a DELETE leaves the object Terminating (pods);
  ``None`` means delete at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hyperkube.api.registry import Object, Strategy
from hyperkube.api.strategies.common import (  # noqa: F401  (re-exported for the kind modules)
    age,
    dicts,
    ensure_list,
    ensure_map,
    get,
    get_dicts,
    get_map,
    mapping,
    name_of,
    seq,
    text,
)
from hyperkube.machinery import validation as v

Causes = list[dict[str, str]]


class KindStrategy(Strategy):
    namespaced: bool = True
    #: status fields Kubernetes always serializes (non-omitempty integers); clients such as the
    #: Python client reject a status without them, so every status write fills them with 0
    status_zero: tuple[str, ...] = ()
    #: the rule metadata.name must follow; None skips it (Kubernetes' "any name" kinds)
    name_check: Callable[[str], list[str]] | None = staticmethod(v.dns1123_subdomain)  # type: ignore[assignment]

    # -- hooks for subclasses -------------------------------------------------------------
    def default(self, obj: Object) -> None:
        """Kubernetes' defaults for this kind, applied to every write."""

    def initial_status(self, obj: Object) -> Object | None:
        """The status a new object starts with (None: drop it)."""
        return {}

    def validate_spec(self, obj: Object) -> Causes:
        return []

    def validate_spec_update(self, new: Object, old: Object) -> Causes:
        return []

    # -- the registry's Strategy methods ---------------------------------------------------
    def prepare_for_create(self, obj: Object) -> None:
        self.default(obj)
        if self.has_status:
            status = self.initial_status(obj)
            if status is None:
                obj.pop("status", None)
            else:
                obj["status"] = status
                self.fill_status(obj)

    def prepare_for_update(self, new: Object, old: Object) -> None:
        self.default(new)
        super().prepare_for_update(new, old)

    def prepare_for_status_update(self, new: Object, old: Object) -> None:
        super().prepare_for_status_update(new, old)
        self.fill_status(new)

    def fill_status(self, obj: Object) -> None:
        if self.status_zero and isinstance(obj.get("status"), dict):
            for field in self.status_zero:
                obj["status"].setdefault(field, 0)

    def validate(self, obj: Object) -> Causes:
        out = v.validate_object_meta(obj.get("metadata"), namespaced=self.namespaced, name_check=self.name_check)
        return out + self.validate_spec(obj)

    def validate_update(self, new: Object, old: Object) -> Causes:
        out = self.validate(new)
        out += v.validate_object_meta_update(new.get("metadata"), old.get("metadata"))
        return out + self.validate_spec_update(new, old)

    # -- extensions ------------------------------------------------------------------------
    def validate_status_update(self, new: Object, old: Object) -> Causes:
        return v.validate_object_meta_update(new.get("metadata"), old.get("metadata"))

    def to_storage(self, obj: Object) -> Object:
        return obj

    def from_storage(self, obj: Object) -> Object:
        return obj

    def graceful_delete_seconds(self, obj: Object) -> int | None:
        return None

    def row(self, obj: Object, now: float) -> list[Any]:
        return [name_of(obj), age(obj, now)]


class ClusterStrategy(KindStrategy):
    namespaced = False


class PlainStrategy(KindStrategy):
    """Kinds without a status split or generation (ConfigMap, Secret, Lease, RBAC ...)."""

    has_status = False
    tracks_generation = False


def spec(obj: Object) -> dict[str, Any]:
    """obj["spec"], created if missing or not an object (defaulting writes into it)."""
    value = obj.get("spec")
    if not isinstance(value, dict):
        value = obj["spec"] = {}
    return value
