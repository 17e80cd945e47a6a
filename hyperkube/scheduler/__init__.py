"""kube-scheduler: filters and scores from a policy, binding through the API.

Public surface::

    Scheduler, SchedulerConfig             the component (informers, queue, cycle, binding)
    Policy, parse_policy, load_policy      the Kubernetes policy JSON; PolicyError
    PREDICATES, PRIORITIES                 the plugins by policy name
    FitError                               "0/N nodes are available: ..."

Layout: resources (requests as integers) -> nodeinfo (per-pod and per-node state) -> cache
(nodes, bound and assumed pods; vectorized keeps the same numbers as numpy columns) and queue
(active / backoff / unschedulable) -> framework (extension points, registry, policy) ->
predicates, priorities, topologyspread -> scheduler (the loop, binding, failure reports).

numpy is optional at import time: without it every filter and score runs per node in Python
(same answers, about a fifth of the speed at 5,000 nodes).
"""

from hyperkube.scheduler import predicates as _predicates  # noqa: F401  (registers the filters)
from hyperkube.scheduler import priorities as _priorities  # noqa: F401  (registers the scores)
from hyperkube.scheduler import topologyspread as _topologyspread  # noqa: F401  (registers both)
from hyperkube.scheduler.framework import (
    PREDICATES,
    PRIORITIES,
    FitError,
    Policy,
    PolicyError,
    load_policy,
    parse_policy,
)
from hyperkube.scheduler.scheduler import Scheduler, SchedulerConfig

__all__ = ["PREDICATES", "PRIORITIES", "FitError", "Policy", "PolicyError", "Scheduler", "SchedulerConfig",
           "load_policy", "parse_policy"]
