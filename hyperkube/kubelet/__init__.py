"""kubelet: pod sources merged into a desired set, run by a process or fake runtime.

Modules, from the outside in:

- ``kubelet``: :class:`~hyperkube.kubelet.kubelet.Kubelet` and its config; the desired set
  (API informer, static sources), mirror pods, status writes.
- ``node``: Node registration, status from the host, the Lease heartbeat.
- ``sources``: static pods from a manifest directory and a manifest URL.
- ``admission``: pods that do not fit the node's allocatable are rejected.
- ``worker``: one task per pod (init containers, restarts with back-off, hooks, deadlines,
  graceful termination); ``status``: the pod status it reports; ``probes``: startup,
  readiness and liveness probes.
- ``runtime``: the CRI-like interface and the fake runtime (hollow nodes);
  ``process_runtime`` + ``shim``: containers as processes, adoptable after a restart;
  ``containers``: command and environment from the pod spec and the image map;
  ``volumes``: volumes without a mount namespace (the symlink rule).
- ``server``: the kubelet's HTTP API (/pods, /containerLogs, /exec, /attach, /portForward,
  /run, /stats/summary, /metrics); ``logs``, ``exec``, ``portforward``, ``stats`` serve it.
"""
