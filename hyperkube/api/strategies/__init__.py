"""One Strategy per built-in kind, grouped by area; ``hyperkube.api.kinds`` wires them to entries.

Every strategy derives from :class:`base.KindStrategy`, which implements the registry's
``Strategy`` methods as Kubernetes' REST strategies do (defaults on every write, status reset on
create, ObjectMeta rules, then the kind's own rules) and adds optional hooks the API server
looks up with ``getattr``:

========================  =================================================================
``validate_status_update``  rules for a ``/status`` write (default: metadata rules only)
``prepare_for_finalize``    namespaces: a ``/finalize`` write changes spec.finalizers only
``to_storage``              served version -> stored version (events.k8s.io/v1 -> core/v1,
``from_storage``            autoscaling/v1 -> v2) and back; identity elsewhere
``graceful_delete_seconds`` pods: seconds a DELETE leaves the object Terminating (None: at once)
``scale`` / ``apply_scale`` workloads with /scale (``apps.ScalableStrategy``)
``fill_status``             puts in the status integers Kubernetes never omits
========================  =================================================================

Modules: ``pods`` (and ``podspec`` for every pod template), ``core``, ``nodes``, ``services``, ``events``,
``apps``, ``batch``, ``networking``, ``rbac``, ``storage``, ``misc`` (autoscaling, policy,
coordination, scheduling). ``common`` holds tolerant accessors for request bodies (any JSON may
arrive where an object is expected), label selectors, quantities and Table cell helpers.
"""
