"""kube-scheduler: filters and scores from a policy, binding through the API.

Public surface::

    Scheduler, SchedulerConfig             the component (informers, queue, cycle, binding)
    Policy, parse_policy, load_policy      the Kubernetes policy JSON; PolicyError
    PREDICATES, PRIORITIES                 the plugins by policy name
    FitError                               "0/N nodes are available: ..."

Layout: resources (requests as integers) -> nodeinfo (per-pod and per-node state) -> cache
(nodes, bound and assumed pods) and queue (active / backoff / unschedulable) -> framework
(extension points, registry, policy) -> predicates, priorities -> scheduler (the loop).
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
