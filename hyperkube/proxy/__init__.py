"""kube-proxy: Services reachable at their cluster IPs and node ports.

- :mod:`.table`: Services and EndpointSlices -> Service ports and their ready endpoints (pure).
- :mod:`.balancer`: round robin with ClientIP session affinity.
- :mod:`.tcp`: TCP listeners and connections on raw non-blocking sockets (splice for bulk).
- :mod:`.userspace`: UDP listeners, and the userspace proxier that keeps listeners in sync.
- :mod:`.server`: informers -> sync loop -> proxier; mode choice; /healthz and /metrics.
"""
