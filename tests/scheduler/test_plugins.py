"""Plugins as pure functions over NodeInfo and PodInfo: no server, no loop."""

from __future__ import annotations

from hyperkube.scheduler.affinity import required_node_matcher, tolerates
from hyperkube.scheduler.cache import SchedulerCache
from hyperkube.scheduler.framework import PREDICATES, PRIORITIES, CycleState, FitError, run_filters
from hyperkube.scheduler.nodeinfo import PodInfo
from hyperkube.scheduler.resources import DEFAULT_MEMORY, DEFAULT_MILLI_CPU, pod_requests
from tests.scheduler._objects import node, pod


def cluster(*nodes: dict, pods: tuple[dict, ...] = ()) -> SchedulerCache:
    cache = SchedulerCache()
    for item in nodes:
        cache.set_node(item)
    for item in pods:
        cache.set_bound_pod(PodInfo.of(item))
    return cache


def run(name: str, cache: SchedulerCache, incoming: dict) -> tuple[list[str], dict[str, int]]:
    plugin = PREDICATES[name]()
    state = CycleState(PodInfo.of(incoming), cache)
    if not plugin.prepare(state):
        return [n.name for n in cache.nodes], {}
    feasible, reasons = run_filters([plugin], state, cache.nodes)
    return [n.name for n in feasible], reasons


def scores(name: str, cache: SchedulerCache, incoming: dict) -> list[float] | None:
    return PRIORITIES[name]().score(CycleState(PodInfo.of(incoming), cache), cache.nodes)


def test_requests_sum_containers_take_the_largest_init_container_and_add_overhead():
    spec_pod = pod("p", cpu="250m", memory="64Mi")
    spec_pod["spec"]["containers"].append({"name": "b", "image": "x", "resources": {"limits": {"cpu": "1"}}})
    spec_pod["spec"]["initContainers"] = [{"name": "i", "image": "x", "resources": {"requests": {"cpu": "2"}}}]
    spec_pod["spec"]["overhead"] = {"memory": "1Mi"}
    requests = pod_requests(spec_pod)
    assert (requests.cpu, requests.memory) == (2000, 65 * 1024 * 1024)
    empty = pod_requests(pod("empty"))
    assert (empty.cpu, empty.memory) == (0, 0)
    assert (empty.nonzero_cpu, empty.nonzero_memory) == (DEFAULT_MILLI_CPU, DEFAULT_MEMORY)


def test_pod_fits_resources_counts_every_missing_resource():
    cache = cluster(node("n1", cpu="1", memory="1Gi"), node("n2", cpu="4", memory="1Gi"))
    feasible, reasons = run("PodFitsResources", cache, pod("p", cpu="2", memory="2Gi"))
    assert feasible == []
    assert reasons == {"Insufficient cpu": 1, "Insufficient memory": 2}
    assert FitError(PodInfo.of(pod("p")), 2, reasons).message == (
        "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory.")


def test_assumed_pods_take_room_and_forgetting_frees_it():
    cache = cluster(node("n1", cpu="2"))
    big = PodInfo.of(pod("big", cpu="2"))
    cache.assume(big, "n1")
    assert run("PodFitsResources", cache, pod("p", cpu="1"))[0] == []
    cache.forget(big.key)
    assert run("PodFitsResources", cache, pod("p", cpu="1"))[0] == ["n1"]
    cache.assume(big, "n1")
    bound = pod("big", cpu="2", nodeName="n1")
    cache.set_bound_pod(PodInfo.of(bound))  # the binding is seen: no longer assumed, still there
    assert not cache.assumed
    assert cache.node("n1").requested_cpu == 2000


def test_host_name():
    cache = cluster(node("n1"), node("n2"))
    assert run("HostName", cache, pod("p", nodeName="n2")) == (
        ["n2"], {"node(s) didn't match the requested node name": 1})
    assert run("HostName", cache, pod("p"))[0] == ["n1", "n2"]


def test_node_selector_terms_are_ored_and_expressions_anded():
    matcher = required_node_matcher(pod("p", affinity={"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]},
                                  {"key": "b", "operator": "Exists"}]},
            {"matchExpressions": [{"key": "c", "operator": "Gt", "values": ["5"]}]},
        ]}}}))
    assert matcher({"a": "1", "b": ""}, "n")
    assert not matcher({"a": "1"}, "n")
    assert matcher({"c": "6"}, "n")
    assert not matcher({"c": "five"}, "n")
    assert required_node_matcher(pod("p")) is None


def test_tolerations():
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert tolerates({"key": "k", "operator": "Equal", "value": "v"}, taint)
    assert not tolerates({"key": "k", "operator": "Equal", "value": "w"}, taint)
    assert tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert not tolerates({"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint)
    assert tolerates({"operator": "Exists"}, taint)


def test_max_pods_and_ports_come_from_bound_pods():
    cache = cluster(node("n1", pods=2), pods=(pod("a", ports=[80], nodeName="n1"), pod("b", nodeName="n1")))
    assert run("MaxPods", cache, pod("c")) == ([], {"Too many pods": 1})
    cache.remove_pod("default/b")
    assert run("MaxPods", cache, pod("c"))[0] == ["n1"]
    assert run("PodFitsHostPorts", cache, pod("c", ports=[80]))[1] == {
        "node(s) didn't have free ports for the requested pod ports": 1}
    assert run("PodFitsHostPorts", cache, pod("c", ports=[81]))[0] == ["n1"]


def test_least_requested_and_balanced_scores():
    cache = cluster(node("empty", cpu="1", memory="1Gi"), node("half", cpu="1", memory="1Gi"),
                    pods=(pod("x", cpu="500m", memory="512Mi", nodeName="half"),))
    incoming = pod("p", cpu="500m", memory="512Mi")
    assert scores("LeastRequestedPriority", cache, incoming) == [50.0, 0.0]
    assert scores("BalancedResourceAllocation", cache, incoming) == [100.0, 0.0]


def test_scores_that_would_not_tell_nodes_apart_are_skipped():
    cache = cluster(node("a"), node("b"))
    for name in ("SelectorSpreadPriority", "NodeAffinityPriority", "TaintTolerationPriority",
                 "InterPodAffinityPriority"):
        assert scores(name, cache, pod("p")) is None, name


def test_taint_toleration_priority_counts_untolerated_prefer_no_schedule_taints():
    soft = [{"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "effect": "PreferNoSchedule"}]
    cache = cluster(node("two", taints=soft), node("one", taints=soft[:1]), node("none"))
    assert scores("TaintTolerationPriority", cache, pod("p")) == [0.0, 50.0, 100.0]
    tolerant = pod("p", tolerations=[{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}])
    assert scores("TaintTolerationPriority", cache, tolerant) is None
