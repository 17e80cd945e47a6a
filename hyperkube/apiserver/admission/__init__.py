"""Admission: the plugins every write passes, mutating then validating, in Kubernetes' order.

:func:`build` returns the :class:`Chain` ``objects.py``/``deletion.py`` call, or None when no
plugin is enabled. The write path is, as in Kubernetes::

    admit (mutating plugins) -> strategy defaults + validation -> validate (validating plugins) -> store

A plugin says which writes it cares about with ``wants(resource, subresource, operation)``;
the chain asks once per (group, resource, subresource, operation) and caches the answer, so a
write nobody wants costs one dict lookup and no :class:`AdmissionRequest` is ever built
(:meth:`Chain.start` returns None). Plugins are named as Kubernetes names them and built by
:data:`FACTORIES`; ``--enable-admission-plugins`` picks them, and the chain always runs them in
:data:`ORDER` whatever order the flag lists them in (Kubernetes does the same).

Defaults: ``hyperkube apiserver`` with no flag runs :data:`DEFAULT_PLUGINS`, Kubernetes' default
set minus ``ServiceAccount`` (which would refuse every pod until the service-account controller
has made the namespace's ``default`` ServiceAccount) plus ``NodeRestriction``, since the default
authorization includes the Node authorizer, whose graph a kubelet could otherwise widen by
creating pods. A whole cluster (``hyperkube up``) runs the same (:data:`CLUSTER_PLUGINS`), also
without ``ServiceAccount``: the process runtime has no mount namespaces, so the token volume it mounts at
``/var/run/secrets/kubernetes.io/serviceaccount`` can be mounted by one pod per node only. An
:class:`APIServerConfig` built in code with ``enable_admission_plugins=None`` (tests, embedders)
gets :data:`IN_PROCESS_PLUGINS`: only what the write path does anyway, so nothing changes for
code that never asked for admission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hyperkube.apiserver.auth import AdmissionRequest, User, current_user

#: Kubernetes' order of the plugins hyperkube implements (its recommended order).
ORDER = ("NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction", "PodSecurity",
         "DefaultTolerationSeconds", "DefaultStorageClass", "RBACEscalation", "ResourceQuota")
DEFAULT_PLUGINS = ("NamespaceLifecycle", "LimitRanger", "NodeRestriction", "PodSecurity", "DefaultTolerationSeconds",
                   "DefaultStorageClass", "ResourceQuota")
IN_PROCESS_PLUGINS = ("NamespaceLifecycle", "DefaultTolerationSeconds")
CLUSTER_PLUGINS = DEFAULT_PLUGINS

#: name -> factory(config, objects) -> plugin (each plugin module registers itself).
#: ``RBACEscalation`` is not here: :func:`build` takes it from the authz package's authorizer.
FACTORIES: dict[str, Callable[[Any, Any], Any]] = {}


def register(name: str) -> Callable[[Any], Any]:
    def decorate(factory: Any) -> Any:
        FACTORIES[name] = factory
        return factory
    return decorate


class Admission:
    """One write's passage through the plugins that want it."""

    __slots__ = ("request", "mutating", "validating")

    def __init__(self, request: AdmissionRequest, mutating: list[Any], validating: list[Any]) -> None:
        self.request = request
        self.mutating = mutating
        self.validating = validating

    async def admit(self) -> None:
        for plugin in self.mutating:
            await plugin.admit(self.request)

    async def validate(self, obj: dict[str, Any] | None = None) -> None:
        if obj is not None:
            self.request.obj = obj
        for plugin in self.validating:
            await plugin.validate(self.request)


class Chain:
    def __init__(self, plugins: list[Any]) -> None:
        self.plugins = plugins
        self.names = [p.name for p in plugins]
        self._selected: dict[tuple[str, str, str, str], tuple[list[Any], list[Any]] | None] = {}

    def select(self, resource: Any, subresource: str, operation: str) -> tuple[list[Any], list[Any]] | None:
        key = (resource.group, resource.plural, subresource, operation)
        try:
            return self._selected[key]
        except KeyError:
            pass
        wanting = [p for p in self.plugins if p.wants(resource, subresource, operation)]
        mutating = [p for p in wanting if getattr(p, "admit", None) is not None]
        validating = [p for p in wanting if getattr(p, "validate", None) is not None]
        found = (mutating, validating) if wanting else None
        self._selected[key] = found
        return found

    def start(self, operation: str, resource: Any, subresource: str, namespace: str, name: str,
              obj: dict[str, Any] | None, old: dict[str, Any] | None, dry_run: bool = False,
              user: User | None = None) -> Admission | None:
        """The write's admission, or None when no plugin wants it."""
        selected = self.select(resource, subresource, operation)
        if selected is None:
            return None
        request = AdmissionRequest(operation, resource, subresource, namespace, name, obj, old,
                                   user or current_user.get(), dry_run)
        return Admission(request, *selected)


def plugin_names(config: Any) -> list[str]:
    wanted = config.enable_admission_plugins
    names = list(IN_PROCESS_PLUGINS if wanted is None else wanted)
    disabled = set(config.disable_admission_plugins or ())
    unknown = [n for n in [*names, *disabled] if n not in ORDER and n not in FACTORIES]
    if unknown:
        raise ValueError(f"unknown admission plugins: {', '.join(sorted(set(unknown)))} "
                         f"(known: {', '.join(ORDER)})")
    chosen = [n for n in names if n not in disabled]
    return sorted(set(chosen), key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


class _RBACOnly:
    """The authz package's ``RBACEscalation`` plugin, asked only about RBAC writes."""

    name = "RBACEscalation"

    def __init__(self, plugin: Any) -> None:
        self.validate = plugin.validate

    def wants(self, resource: Any, subresource: str, operation: str) -> bool:
        return resource.group == "rbac.authorization.k8s.io" and operation in ("CREATE", "UPDATE")


async def build(config: Any, objects: Any, authorizer: Any = None) -> Chain | None:
    """The chain ``config`` asks for. With RBAC among the authorizers, its escalation check
    (``RBACEscalation``, from the authz package) is always in it unless disabled by name:
    Kubernetes makes it part of RBAC's storage, not an optional plugin."""
    from hyperkube.apiserver.admission import basic, limitranger, noderestriction, podsecurity, quota  # noqa: F401 - register

    factories = dict(FACTORIES)
    names = plugin_names(config)
    if authorizer is not None and "RBACEscalation" not in (config.disable_admission_plugins or ()):
        from hyperkube.apiserver import authz

        make = getattr(authz, "rbac_escalation_plugin", None)
        escalation = make(authorizer) if make is not None else None
        if escalation is not None:
            factories["RBACEscalation"] = lambda _config, _objects: _RBACOnly(escalation)
            names = sorted({*names, "RBACEscalation"}, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
    plugins = []
    for name in names:
        factory = factories.get(name)
        if factory is None:  # RBACEscalation without RBAC
            continue
        plugin = factory(config, objects)
        start = getattr(plugin, "start", None)
        if start is not None:
            await start()
        plugins.append(plugin)
    return Chain(plugins) if plugins else None
