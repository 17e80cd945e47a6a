"""kube-controller-manager's controllers.

Layout (each controller is its own module, registered by name in :mod:`.registry`)::

    base.py              Controller (informers -> WorkQueue of keys -> N workers -> sync(key)),
                         ControllerContext, Expectations
    registry.py          the table: name -> "module:Class", --concurrent-*-syncs flag, extra flags;
                         --controllers parsing (Kubernetes' "*,-name" syntax)
    manager.py           ControllerManager: one client, one InformerFactory, one EventRecorder,
                         leader election (Lease kube-system/kube-controller-manager)
    podcontrol.py        ownerReferences, claiming (adopt/release), pod readiness/availability,
                         deletion ranking, slow-start batches
    replicaset.py        ReplicaSet and ReplicationController
    deployment*.py       Deployment (controller, rollout steps, pure helpers)
    garbagecollector.py  ownerReferences graph, background/foreground/orphan propagation
    job.py, ttlafterfinished.py, cronjob.py, daemonset.py, statefulset.py, podgc.py

Adding a controller: write ``mymodule.py`` with a :class:`~.base.Controller` subclass whose
``__init__(ctx)`` asks ``ctx.factory`` for informers and registers handlers that enqueue keys,
and whose ``sync(key)`` is idempotent; then add one ``ControllerSpec`` to ``registry.py``. The
command line (``hyperkube controller-manager``) picks up its flags from the table.
"""
