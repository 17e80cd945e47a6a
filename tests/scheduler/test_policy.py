"""The policy file: parsing, unknown names, and a policy naming only some plugins runs only those."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hyperkube.scheduler import PREDICATES, PRIORITIES, Policy, PolicyError, load_policy, parse_policy
from tests.scheduler._helpers import wait_bound
from tests.scheduler._objects import node, pod

KUBERNETES_1_2_NAMES = {
    "PodFitsResources", "PodFitsHostPorts", "MatchNodeSelector", "HostName", "CheckNodeUnschedulable", "MaxPods",
    "NoDiskConflict", "PodToleratesNodeTaints", "MatchInterPodAffinity",
}


def test_every_named_plugin_is_registered():
    assert KUBERNETES_1_2_NAMES <= set(PREDICATES)
    assert {"LeastRequestedPriority", "BalancedResourceAllocation", "SelectorSpreadPriority", "NodeAffinityPriority",
            "TaintTolerationPriority", "InterPodAffinityPriority"} <= set(PRIORITIES)


def test_parse_policy_keeps_names_and_weights():
    policy = parse_policy('{"kind":"Policy","apiVersion":"v1","predicates":[{"name":"PodFitsHostPorts"},'
                          '{"name":"PodFitsResources"}],"priorities":[{"name":"LeastRequestedPriority","weight":3}]}')
    assert policy.predicates == ("PodFitsHostPorts", "PodFitsResources")
    assert policy.priorities == (("LeastRequestedPriority", 3),)
    assert [f.name for f in policy.filters()] == ["PodFitsHostPorts", "PodFitsResources"]
    assert [(s.name, w) for s, w in policy.scorers()] == [("LeastRequestedPriority", 3)]


def test_a_policy_without_a_section_keeps_that_sections_defaults():
    policy = parse_policy('{"kind":"Policy","apiVersion":"v1","priorities":[]}')
    assert policy.predicates == Policy().predicates
    assert policy.scorers() == []


@pytest.mark.parametrize("text, message", [
    ('{"kind":"Policy","predicates":[{"name":"PodFitsEverything"}]}',
     'invalid predicate name "PodFitsEverything" specified - no corresponding function found'),
    ('{"kind":"Policy","priorities":[{"name":"MostRandomPriority","weight":1}]}',
     'invalid priority name "MostRandomPriority" specified - no corresponding function found'),
    ('{"kind":"Policy","priorities":[{"name":"LeastRequestedPriority","weight":-1}]}', "invalid weight -1"),
    ('{"kind":"Deployment"}', 'kind "Deployment"'),
    ("{not json", "not valid JSON"),
])
def test_bad_policies_name_the_problem(text, message):
    with pytest.raises(PolicyError, match=message.replace("(", r"\(")):
        parse_policy(text)


def test_load_policy_reports_a_missing_file(tmp_path):
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(str(tmp_path / "nope.json"))


def test_the_command_refuses_an_unknown_name_at_startup(tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text('{"kind":"Policy","apiVersion":"v1","predicates":[{"name":"NoSuchPredicate"}]}')
    result = subprocess.run([sys.executable, "-m", "hyperkube", "scheduler", "--master", "http://127.0.0.1:9",
                             "--policy-config-file", str(policy)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'invalid predicate name "NoSuchPredicate"' in result.stderr


async def test_a_policy_naming_some_plugins_runs_only_those(client, start_scheduler):
    """Only HostName is named: a pod far too big for the node is bound anyway, and a node
    selector nothing matches is ignored."""
    await client.create("v1/nodes", node("small", cpu="1"))
    policy = parse_policy('{"kind":"Policy","apiVersion":"v1","predicates":[{"name":"HostName"}],'
                          '"priorities":[{"name":"LeastRequestedPriority","weight":1}]}')
    await start_scheduler(policy=policy)
    await client.create("v1/pods", pod("huge", cpu="64"), namespace="default")
    await client.create("v1/pods", pod("picky", nodeSelector={"disk": "tape"}), namespace="default")
    assert await wait_bound(client, "huge") == "small"
    assert await wait_bound(client, "picky") == "small"


async def test_policy_weights_decide_between_priorities(client, start_scheduler):
    """LeastRequested favours the empty node; a heavier NodeAffinityPriority wins over it."""
    await client.create("v1/nodes", node("empty"))
    await client.create("v1/nodes", node("labelled", labels={"tier": "gold"}))
    await client.create("v1/pods", pod("load", cpu="3", memory="6Gi", nodeName="labelled"), namespace="default")
    policy = parse_policy('{"kind":"Policy","apiVersion":"v1","predicates":[{"name":"PodFitsResources"}],'
                          '"priorities":[{"name":"LeastRequestedPriority","weight":1},'
                          '{"name":"NodeAffinityPriority","weight":5}]}')
    await start_scheduler(policy=policy)
    gold = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]}}]}}
    await client.create("v1/pods", pod("wants-gold", affinity=gold), namespace="default")
    await client.create("v1/pods", pod("anything"), namespace="default")
    assert await wait_bound(client, "wants-gold") == "labelled"
    assert await wait_bound(client, "anything") == "empty"
