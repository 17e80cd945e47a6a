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
from hyperkube.machinery import validation as v

Causes = list[dict[str, str]]


class KindStrategy(Strategy):
    namespaced: bool = True
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

    def prepare_for_update(self, new: Object, old: Object) -> None:
        self.default(new)
        super().prepare_for_update(new, old)

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


class ClusterStrategy(KindStrategy):
    namespaced = False


class PlainStrategy(KindStrategy):
    """Kinds without a status split or generation (ConfigMap, Secret, Lease, RBAC ...)."""

    has_status = False
    tracks_generation = False


def spec(obj: Object) -> dict[str, Any]:
    """obj["spec"], created if missing (defaulting writes into it)."""
    value = obj.get("spec")
    if not isinstance(value, dict):
        value = obj["spec"] = {}
    return value


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """A nested value, or ``default`` when any step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(obj, list) or step >= len(obj):
                return default
        elif not isinstance(obj, dict) or step not in obj:
            return default
        obj = obj[step]
    return default if obj is None else obj
